// Answers remembered by key on the agent's hot paths (a device policy's normalized text, a
// container's paths, a parsed state file). Bounded the simple way: emptied whole when full, so a
// long-lived process never grows one without limit, and a hit costs one Map lookup (an LRU's
// bookkeeping would cost more on every hit, and a clear only one recomputation per key). Pure.

export class BoundedMemo<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size >= this.max && !this.entries.has(key)) this.entries.clear();
    this.entries.set(key, value);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** The remembered answer for `key`, made by `make` when there is none. */
  getOrMake(key: K, make: () => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = make();
      this.set(key, value);
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
