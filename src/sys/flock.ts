// flock(2) without ever blocking the event loop: LOCK_NB attempts, retried with a delay until a
// deadline. A blocking flock through koffi would hang process.exit() (docs/architecture.md,
// "Calling the kernel from Node").

import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { lastErrno, libcFunction, syscallError } from './libc.js';

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** One attempt: true when the lock was taken, false when another holder has it. */
export function tryFlock(fd: number, path: string): boolean {
  const fn = libcFunction('int flock(int fd, int operation)');
  if (Number(fn(fd, LOCK_EX | LOCK_NB)) === 0) return true;
  const errno = lastErrno();
  if (errno === constants.errno.EWOULDBLOCK || errno === constants.errno.EINTR) return false;
  throw syscallError('flock', { path, operation: 'LOCK_EX|LOCK_NB' }, errno);
}

export async function flockWithTimeout(fd: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    if (tryFlock(fd, path)) return true;
    if (Date.now() >= deadline || signal?.aborted) return false;
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())), undefined, signal ? { signal } : undefined).catch(() => undefined);
  }
}

export function funlock(fd: number): void {
  libcFunction('int flock(int fd, int operation)')(fd, LOCK_UN);
}
