// A file's stamp: its inode, size and mtime, which change with every write or replacement of it
// (a rename brings a new inode). Caches keep what they read of a file under it.

import { statSync } from 'node:fs';
import { flat } from '../flat-string.js';

/** The stamp of `path` (kept for long by caches, so flat); null when it is gone. */
export function fileStamp(path: string): string | null {
  const info = statSync(path, { throwIfNoEntry: false });
  return info ? flat(`${info.ino}:${info.size}:${info.mtimeMs}`) : null;
}
