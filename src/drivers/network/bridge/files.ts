// The bridge driver's small file writes. Pure Node fs, no policy.

import { closeSync, ftruncateSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';

/** A state file's text; null when it does not exist (any other failure is thrown). */
export function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Write-and-rename without fsync, for files rebuilt from the leases at every change (the /etc files,
 * the rendered table): a reader never sees half of one, and a power cut costs nothing that the
 * next pass does not write again. Leases, which must survive, use writeFileAtomic.
 */
export function replaceFile(file: string, text: string, options: { mode?: number } = {}): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: options.mode ?? 0o644 });
  renameSync(temp, file);
}

/** New content over the old bytes, then the length cut: never an empty file in between. */
export function rewriteInPlace(file: string, text: string): void {
  const fd = openSync(file, 'r+');
  try {
    const data = Buffer.from(text);
    writeSync(fd, data, 0, data.length, 0);
    ftruncateSync(fd, data.length);
  } finally {
    closeSync(fd);
  }
}
