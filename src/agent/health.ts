// Health checks (`spec.healthcheck`): a command run inside the container every `interval`;
// `retries` consecutive failures after `startPeriod` make it unhealthy. The checker only
// observes; the agent records the result and, for `onFailure: restart`, lets the plan restart it.

import type { Disposable } from '../errors.js';
import type { RuntimePort } from '../reconciler/ports.js';
import type { ContainerRecord, HealthRecord } from '../state/record.js';

export type HealthListener = (name: string, health: HealthRecord) => void;

interface Checked {
  readonly key: string;
  readonly timer: NodeJS.Timeout;
}

export class HealthChecker implements Disposable {
  private readonly checks = new Map<string, Checked>();
  private readonly state = new Map<string, HealthRecord>();

  constructor(private readonly runtime: RuntimePort, private readonly onChange: HealthListener) {}

  /** Starts, keeps or stops checks so that exactly the running containers with a healthcheck have one. */
  sync(records: Iterable<ContainerRecord>): void {
    const wanted = new Map<string, ContainerRecord>();
    for (const r of records) if (r.status === 'running' && r.spec.healthcheck && r.runtime !== null) wanted.set(r.name, r);
    for (const [name, c] of this.checks) {
      const r = wanted.get(name);
      if (!r || c.key !== this.keyOf(r)) {
        clearInterval(c.timer);
        this.checks.delete(name);
        this.state.delete(name);
      }
    }
    for (const [name, r] of wanted) {
      if (this.checks.has(name)) continue;
      const hc = r.spec.healthcheck!;
      const startedAt = Date.parse(r.startedAt ?? new Date().toISOString());
      this.state.set(name, r.health ?? { status: 'starting', failures: 0, checkedAt: null, output: '' });
      const timer = setInterval(() => void this.check(r, startedAt), hc.intervalMs);
      this.checks.set(name, { key: this.keyOf(r), timer });
    }
  }

  private keyOf(r: ContainerRecord): string {
    return `${r.hash}:${r.startedAt ?? ''}`;
  }

  private async check(r: ContainerRecord, startedAt: number): Promise<void> {
    const hc = r.spec.healthcheck!;
    let ok: boolean;
    let output = '';
    try {
      const result = await this.runtime.exec(r.name, r.runtime!, r.spec, hc.exec, hc.timeoutMs);
      ok = result.code === 0;
      output = result.output.slice(-512);
    } catch (err) {
      ok = false;
      output = (err as Error).message;
    }
    const previous = this.state.get(r.name);
    if (!previous || !this.checks.has(r.name)) return;
    const inGrace = Date.now() - startedAt < hc.startPeriodMs;
    const failures = ok ? 0 : inGrace ? previous.failures : previous.failures + 1;
    const status = ok ? 'healthy' : failures >= hc.retries ? 'unhealthy' : previous.status;
    const next: HealthRecord = { status, failures, checkedAt: new Date().toISOString(), output };
    this.state.set(r.name, next);
    if (status !== previous.status) this.onChange(r.name, next);
  }

  dispose(): void {
    for (const c of this.checks.values()) clearInterval(c.timer);
    this.checks.clear();
  }
}
