// Settling: a burst of file events (a `git checkout` touching 200 files, an editor's write +
// rename) becomes one notification after the writes stop for `quietMs`, or at the latest after
// `maxWaitMs` of continuous activity. Timer-driven, no polling.

import type { Disposable } from '../errors.js';

export interface SettleOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
}

export const DEFAULT_SETTLE: SettleOptions = { quietMs: 100, maxWaitMs: 2000 };

export class Settler implements Disposable {
  private quiet: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private events = 0;

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
    const n = this.events;
    this.events = 0;
    if (n > 0) this.fire(n);
  }

  dispose(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.events = 0;
  }
}
