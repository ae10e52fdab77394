// Every step of apply gets a deadline, and the pass can be aborted (the agent stops): the port
// call receives one signal for both, stops its work when it fires (a start kills its shim, a
// stop stops waiting), and the step rejects at once even if a driver is slow to notice. A hung
// driver call never hangs a whole reconcile.

import { CorralError } from '../../errors.js';

export async function withDeadline<T>(
  pass: AbortSignal,
  ms: number,
  what: string,
  container: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new CorralError('TIMEOUT', `${what} took longer than ${Math.round(ms / 1000)}s`, { container })), ms);
  timer.unref();
  const signal = AbortSignal.any([pass, deadline.signal]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof CorralError ? signal.reason : new CorralError('ABORTED', `${what} was aborted`, { container }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The step's own rejection, when it comes after the abort, has nobody waiting for it.
  aborted.catch(() => undefined);
  try {
    return await Promise.race([work(signal), aborted]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
