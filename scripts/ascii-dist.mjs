// Rewrites every dist/**/*.js holding a character beyond ASCII with that character as a \uXXXX
// escape. V8 keeps the source of every loaded module for as long as the process runs, and a
// source with one character beyond Latin-1 (an arrow or an ellipsis in a message) is stored two
// bytes per character: `corral agent` held 3.0 MB of module sources, half of it that doubling (the
// generated schema check alone 683 kB for a 342 kB file). Run by `npm run build` after tsc (which
// drops comments: tsconfig.build.json) and scripts/gen-validator.mjs.
//
// An escape means the same character in a string, a template, a regular expression (a surrogate
// pair stays a pair, with or without the u flag) and an identifier. It would not inside
// String.raw or after a backslash, so a file with either next to such a character fails the build.
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const BEYOND_ASCII = /[\u0080-\uffff]/g;

function* jsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* jsFiles(path);
    else if (entry.isFile() && entry.name.endsWith('.js')) yield path;
  }
}

for (const file of jsFiles(dist)) {
  const text = readFileSync(file, 'utf8');
  if (!BEYOND_ASCII.test(text)) continue;
  BEYOND_ASCII.lastIndex = 0;
  if (/\\[\u0080-\uffff]/.test(text) || text.includes('String.raw')) {
    throw new Error(`scripts/ascii-dist.mjs: ${file} has a character beyond ASCII after a backslash or uses String.raw; escape it in the source`);
  }
  const ascii = text.replace(BEYOND_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  writeFileSync(`${file}.tmp`, ascii);
  renameSync(`${file}.tmp`, file);
}
