// Settling: a burst of file events (a `git checkout` touching 200 files, an editor's write +
// rename) becomes one notification after the writes stop for `quietMs`, or at the latest after
// `maxWaitMs` of continuous activity. Timer-driven, no polling.
//
// A `hold` predicate (a git command rewriting the work tree: its index.lock exists) defers the
// notification past both limits, checked again every `quietMs`, for at most `maxHoldMs`: a checkout
// slower than `maxWaitMs` is still one notification, after its last file, never half of it.

import type { Disposable } from '../errors.js';

export interface SettleOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  /** True while the directory is known to be mid-change; the notification waits for it. */
  readonly hold?: () => boolean;
  /** Longest a hold defers a notification (a stale lock left by a killed git must not stop the agent). */
  readonly maxHoldMs?: number;
}

export const DEFAULT_SETTLE: SettleOptions = { quietMs: 100, maxWaitMs: 2000 };
export const DEFAULT_MAX_HOLD_MS = 60_000;

export class Settler implements Disposable {
  private quiet: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private events = 0;
  private heldSince: number | null = null;

  constructor(private readonly options: SettleOptions, private readonly fire: (events: number) => void) {}

  poke(): void {
    this.events++;
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.flush(), this.options.quietMs);
    this.deadline ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
  }

  private flush(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.quiet = undefined;
    this.deadline = undefined;
    if (this.events > 0 && this.held()) {
      this.quiet = setTimeout(() => this.flush(), this.options.quietMs);
      return;
    }
    const n = this.events;
    this.events = 0;
    if (n > 0) this.fire(n);
  }

  /** Whether to wait longer: the hold is on and has not lasted `maxHoldMs` yet. */
  private held(): boolean {
    if (!this.options.hold?.()) {
      this.heldSince = null;
      return false;
    }
    this.heldSince ??= Date.now();
    if (Date.now() - this.heldSince < (this.options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS)) return true;
    this.heldSince = null;
    return false;
  }

  dispose(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.events = 0;
  }
}
