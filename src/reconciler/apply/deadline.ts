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
  // One controller fed by the pass and the timer, not AbortSignal.any: Node 20 keeps every signal
  // that any() derives from a long-lived one (the agent's pass) until that one is collected.
  const step = new AbortController();
  const timer = setTimeout(() => step.abort(new CorralError('TIMEOUT', `${what} took longer than ${Math.round(ms / 1000)}s`, { container })), ms);
  timer.unref();
  const onPassAbort = (): void => step.abort(pass.reason);
  if (pass.aborted) onPassAbort();
  else pass.addEventListener('abort', onPassAbort, { once: true });
  const signal = step.signal;
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
    pass.removeEventListener('abort', onPassAbort);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
