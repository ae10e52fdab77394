// Every step gets a deadline: a hung driver call must not hang a whole reconcile (DESIGN.md §2).

import { CorralError } from '../errors.js';

export async function withTimeout<T>(work: Promise<T>, ms: number, what: string, container?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CorralError('TIMEOUT', `${what} took longer than ${Math.round(ms / 1000)}s`, container ? { container } : {})), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
