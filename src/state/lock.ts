// One writer at a time per state root: an flock on <root>/lock. The holder writes who it is into
// the file, so a second `reconcile --once` that gives up can name it. The kernel drops the lock
// when the holder dies, so a SIGKILLed corral never leaves a stale lock behind.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CorralError, type Disposable } from '../errors.js';
import { flockWithTimeout, funlock } from '../sys/flock.js';

export interface LockHolder {
  readonly pid: number;
  readonly command: string;
  readonly since: string;
}

export interface HeldLock extends Disposable {
  readonly path: string;
}

export async function acquireLock(path: string, command: string, timeoutMs: number, signal?: AbortSignal): Promise<HeldLock> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Not append mode: the note is written at offset 0 (writeNote).
  const fd = openSync(path, existsSync(path) ? 'r+' : 'w+', 0o600);
  let ok = false;
  try {
    ok = await flockWithTimeout(fd, path, timeoutMs, signal);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (!ok) {
    closeSync(fd);
    const holder = readHolder(path);
    throw new CorralError('STATE_LOCKED', holder
      ? `another corral holds the state lock \`${path}\`: pid ${holder.pid} (\`${holder.command}\`, since ${holder.since})`
      : `another corral holds the state lock \`${path}\``, {
      hint: `wait for it to finish, or raise --lock-timeout (waited ${Math.round(timeoutMs / 1000)}s)`,
    });
  }
  const holder: LockHolder = { pid: process.pid, command, since: new Date().toISOString() };
  writeNote(fd, `${JSON.stringify(holder)}`);
  let released = false;
  return {
    path,
    dispose: () => {
      if (released) return;
      released = true;
      writeNote(fd, '');
      funlock(fd);
      closeSync(fd);
    },
  };
}

/**
 * The holder's note is written over the same NOTE_BYTES every time, padded with spaces and never
 * truncated: once the file has its block, writing it needs no free space, so taking the lock
 * works on a full filesystem (where stopping and removing containers must still work).
 */
const NOTE_BYTES = 512;

function writeNote(fd: number, text: string): void {
  try {
    writeSync(fd, `${text.slice(0, NOTE_BYTES - 1).padEnd(NOTE_BYTES - 1)}\n`, 0);
  } catch {
    // The lock matters, not the note.
  }
}

export function readHolder(path: string): LockHolder | null {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text ? (JSON.parse(text) as LockHolder) : null;
  } catch {
    return null;
  }
}
