// Host checks of unchanged manifests, kept from one agent pass to the next. Every pass used to ask
// each port to check each manifest against the host (bind sources, root paths, storage limits):
// some thirty syscalls a container, most of an idle agent's work with 500 of them. A check of the
// same manifest is now repeated when the pass reads that container's cgroups anyway (a full pass,
// the container's resync batch), and whenever it last failed, so that a fixed host is seen at once.

import type { Diagnostic } from '../errors.js';

export class HostCheckMemo {
  private readonly byName = new Map<string, { readonly hash: string; readonly diagnostics: readonly Diagnostic[] }>();

  /** What the checks of this very manifest found last time, when that may stand: no error among it. */
  reusable(name: string, hash: string): readonly Diagnostic[] | null {
    const last = this.byName.get(name);
    return last !== undefined && last.hash === hash && !last.diagnostics.some((d) => d.severity === 'error') ? last.diagnostics : null;
  }

  remember(name: string, hash: string, diagnostics: readonly Diagnostic[]): void {
    this.byName.set(name, { hash, diagnostics });
  }

  /** Forgets the manifests that are gone. */
  keepOnly(names: ReadonlySet<string>): void {
    for (const name of this.byName.keys()) if (!names.has(name)) this.byName.delete(name);
  }
}

/** Which containers a pass checks afresh, and where it finds the others' last results. */
export interface HostCheckReuse {
  readonly memo: HostCheckMemo;
  readonly fresh: (name: string) => boolean;
}
