// Waiting for the kernel to reach a state (frozen, empty) without assuming how fast it gets there:
// a condition polled with a doubling delay until a generous deadline, then a named TIMEOUT.

import { setTimeout as sleep } from 'node:timers/promises';
import { CorralError } from '../../errors.js';

export const STATE_TIMEOUT_MS = 10_000;

export async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = STATE_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 100)) {
    if (await condition()) return;
    if (Date.now() >= deadline) break;
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
  }
  throw new CorralError('TIMEOUT', `${what}: not reached after ${timeoutMs} ms`);
}
