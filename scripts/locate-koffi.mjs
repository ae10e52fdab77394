// Writes dist/koffi-addon.json: the native addon koffi loads on this machine, with its size, mtime
// and version, so that src/sys/libc.ts can dlopen it directly. koffi's own loader resolves two
// packages, reads the node binary's ELF header to tell glibc from musl and runs their JS: 6 ms in
// a plain Node here, 15 ms of a `corral image pull` started from the snapshot. Run by `npm run
// build`; libc.ts falls back to koffi's loader when the record is missing or does not match.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const koffi = createRequire(join(root, 'package.json'))('koffi');
// The addon koffi picked is the one this process mapped.
const mapped = readFileSync('/proc/self/maps', 'utf8').split('\n').map((line) => line.trim().split(/\s+/)[5] ?? '');
const path = mapped.find((p) => p.endsWith('.node') && p.includes('koffi'));
if (path === undefined) throw new Error('scripts/locate-koffi.mjs: koffi loaded, but no koffi .node file is mapped');
const st = statSync(path);
writeFileSync(join(root, 'dist', 'koffi-addon.json'), `${JSON.stringify({ path, size: st.size, mtimeMs: st.mtimeMs, version: koffi.version })}\n`);
