// The agent's work queue (controller-runtime's reconcileHandler): keys, not events. A key added
// several times before it runs runs once; a key added while it runs runs once more afterwards;
// a key never runs twice at once. The handler's outcome is one of three things, so "requeue and
// error" cannot both happen:
//   { kind: 'done' }            success: the key's failure backoff is reset
//   { kind: 'after', ms }       look again later (a restart backoff expiring): no error
//   throws                      retried with exponential backoff per key; a TerminalError is
//                               logged and not retried until the key is added again
// Timer-driven: an idle queue uses no CPU.

import { CorralError, isCorralError } from '../errors.js';

export type HandlerResult = { readonly kind: 'done' } | { readonly kind: 'after'; readonly ms: number };

/** An error that retrying cannot fix (it waits for the next event instead). */
export class TerminalError extends CorralError {
  readonly terminal = true;
}

export function isTerminal(err: unknown): boolean {
  return isCorralError(err) && (err as Partial<TerminalError>).terminal === true;
}

export interface QueueOptions {
  /** Deadline of one handler call. */
  readonly timeoutMs: number;
  /** Failure backoff: baseMs × 2^(failures-1), at most maxMs. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly onResult?: (key: string, outcome: { result?: HandlerResult; error?: unknown; durationMs: number; reasons: string[]; retryInMs?: number }) => void;
}

interface Pending {
  dueAt: number;
  reasons: string[];
}

export class WorkQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Set<string>();
  private readonly failures = new Map<string, number>();
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly handler: (key: string, signal: AbortSignal) => Promise<HandlerResult>, private readonly options: QueueOptions) {}

  /** Adds a key to run now, or after `delayMs` (the earlier of two requests wins). */
  add(key: string, reason: string, delayMs = 0): void {
    const dueAt = Date.now() + Math.max(0, delayMs);
    const current = this.pending.get(key);
    if (current) {
      current.dueAt = Math.min(current.dueAt, dueAt);
      if (!current.reasons.includes(reason)) current.reasons.push(reason);
    } else {
      this.pending.set(key, { dueAt, reasons: [reason] });
    }
    this.kick();
  }

  get size(): number {
    return this.pending.size;
  }

  private kick(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Runs until `signal` aborts; the call in flight is allowed to finish. */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.kick();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = this.nextDue();
        if (next === undefined || next.wait > 0) {
          await this.sleep(next?.wait);
          continue;
        }
        const { key, item } = next;
        this.pending.delete(key);
        this.running.add(key);
        await this.process(key, item, signal);
        this.running.delete(key);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(this.timer);
    }
  }

  private nextDue(): { key: string; item: Pending; wait: number } | undefined {
    let best: { key: string; item: Pending; wait: number } | undefined;
    for (const [key, item] of this.pending) {
      if (this.running.has(key)) continue;
      const wait = item.dueAt - Date.now();
      if (!best || wait < best.wait) best = { key, item, wait };
    }
    return best;
  }

  private sleep(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      clearTimeout(this.timer);
      if (ms !== undefined) this.timer = setTimeout(() => this.kick(), ms);
    });
  }

  private async process(key: string, item: Pending, signal: AbortSignal): Promise<void> {
    const started = Date.now();
    const callSignal = AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs)]);
    try {
      const result = await this.handler(key, callSignal);
      this.failures.delete(key);
      if (result.kind === 'after') this.add(key, 'requeued', result.ms);
      this.options.onResult?.(key, { result, durationMs: Date.now() - started, reasons: item.reasons });
    } catch (error) {
      if (isTerminal(error)) {
        this.failures.delete(key);
        this.options.onResult?.(key, { error, durationMs: Date.now() - started, reasons: item.reasons });
        return;
      }
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const retryInMs = Math.min(this.options.baseBackoffMs * 2 ** (n - 1), this.options.maxBackoffMs);
      if (!signal.aborted) this.add(key, 'retry after failure', retryInMs);
      this.options.onResult?.(key, { error, durationMs: Date.now() - started, reasons: item.reasons, retryInMs });
    }
  }
}
