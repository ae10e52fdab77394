// The build leaves every compiled module in ASCII, without comments (scripts/ascii-dist.mjs,
// tsconfig.build.json): V8 keeps the source of each loaded module for the life of the process, two
// bytes per character when one character is beyond Latin-1. And an escaped message still reads
// as written.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { REPO } from '../support/cli.js';

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

describe('dist/', () => {
  test('holds its modules in ASCII, comments dropped', () => {
    const files = jsFiles(join(REPO, 'dist'));
    expect(files.length).toBeGreaterThan(100);
    const wide = files.filter((f) => /[^\x20-\x7e\t\n\r]/.test(readFileSync(f, 'utf8')));
    expect(wide).toEqual([]);
    const manifestSet = readFileSync(join(REPO, 'dist/manifest/manifest-set.js'), 'utf8');
    expect(manifestSet).not.toMatch(/^\s*\/\/ (?!# sourceMappingURL)/m);
  });

  test('a message written with characters beyond ASCII prints them as written', () => {
    // dist/cli/commands/image.js, not the startup snapshot: `node bin/corral` loads the modules.
    const r = spawnSync(process.execPath, [join(REPO, 'bin/corral'), 'image', 'import', '--help'], { encoding: 'utf8' });
    expect(r.stdout).toContain('(debootstrap\u2026)');
    expect(r.stdout).not.toMatch(/\\u[0-9a-f]{4}/);
  });
});
