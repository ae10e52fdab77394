// Builds the exploit programs (exploits/*.c) into one static binary, once per source version: the
// hash of the sources names the file, so the cgroup2 VM run reuses what the host run built.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const SOURCES = join(import.meta.dirname, 'exploits');
const OUT = join(import.meta.dirname, '..', '..', '.scratch', 'exploits');

function compiler(): string {
  for (const cc of ['musl-gcc', 'gcc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cc}`], { stdio: 'ignore' });
      return cc;
    } catch {
      // Next one.
    }
  }
  throw new Error('the attack suite needs a C compiler (musl-gcc or gcc): scripts/test-deps.sh installs them');
}

/** The directory holding the `exploit` binary (bind it into a container read-only). */
export function exploitDir(): string {
  const files = readdirSync(SOURCES).filter((f) => /\.[ch]$/.test(f)).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update(readFileSync(join(SOURCES, f)));
  const dir = join(OUT, hash.digest('hex').slice(0, 16));
  if (existsSync(join(dir, 'exploit'))) return dir;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `exploit.${process.pid}`);
  execFileSync(compiler(), ['-std=gnu11', '-D_GNU_SOURCE', '-O1', '-Wall', '-Wextra', '-Werror', '-static', '-o', tmp,
    ...files.filter((f) => f.endsWith('.c')).map((f) => join(SOURCES, f))], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, join(dir, 'exploit'));
  return dir;
}
