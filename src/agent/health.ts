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
  /** A check still running when the next is due is not joined by a second one. */
  running: boolean;
}

export class HealthChecker implements Disposable {
  private readonly checks = new Map<string, Checked>();
  private readonly state = new Map<string, HealthRecord>();

  constructor(private readonly runtime: Pick<RuntimePort, 'exec'>, private readonly onChange: HealthListener) {}

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
      const checked: Checked = {
        key: this.keyOf(r),
        running: false,
        timer: setInterval(() => {
          if (checked.running) return;
          checked.running = true;
          void this.check(r, startedAt).finally(() => { checked.running = false; });
        }, hc.intervalMs),
      };
      this.checks.set(name, checked);
    }
  }

  private keyOf(r: ContainerRecord): string {
    return `${r.hash}:${r.startedAt ?? ''}`;
  }

  private async check(r: ContainerRecord, startedAt: number): Promise<void> {
    const result = await probe(this.runtime, r);
    const previous = this.state.get(r.name);
    if (!previous || !this.checks.has(r.name)) return;
    const next = nextHealth(r, startedAt, previous, result);
    this.state.set(r.name, next);
    if (next.status !== previous.status) this.onChange(r.name, next);
  }

  dispose(): void {
    for (const c of this.checks.values()) clearInterval(c.timer);
    this.checks.clear();
  }
}

/** One run of the container's health command. */
async function probe(runtime: Pick<RuntimePort, 'exec'>, r: ContainerRecord): Promise<{ ok: boolean; output: string }> {
  const hc = r.spec.healthcheck!;
  try {
    const result = await runtime.exec(r.name, r.runtime!, r.spec, hc.exec, hc.timeoutMs);
    return { ok: result.code === 0, output: result.output.slice(-512) };
  } catch (err) {
    return { ok: false, output: (err as Error).message };
  }
}

/** The health after one check: failures in the start period do not count, `retries` in a row make it unhealthy. */
function nextHealth(r: ContainerRecord, startedAt: number, previous: HealthRecord, result: { ok: boolean; output: string }): HealthRecord {
  const hc = r.spec.healthcheck!;
  const inGrace = Date.now() - startedAt < hc.startPeriodMs;
  const failures = result.ok ? 0 : inGrace ? previous.failures : previous.failures + 1;
  const status = result.ok ? 'healthy' : failures >= hc.retries ? 'unhealthy' : previous.status;
  return { status, failures, checkedAt: new Date().toISOString(), output: result.output };
}

/**
 * Checks a container just started until it is healthy or unhealthy, or `deadline` (ms since the
 * epoch) passes: `reconcile --once --wait`, for a run without an agent that must know (Ansible
 * gating on it). Null: still starting at the deadline.
 */
export async function waitForHealth(runtime: Pick<RuntimePort, 'exec'>, r: ContainerRecord, deadline: number, signal?: AbortSignal): Promise<HealthRecord | null> {
  const hc = r.spec.healthcheck!;
  const startedAt = Date.parse(r.startedAt ?? new Date().toISOString());
  let health: HealthRecord = r.health ?? { status: 'starting', failures: 0, checkedAt: null, output: '' };
  for (;;) {
    health = nextHealth(r, startedAt, health, await probe(runtime, r));
    if (health.status !== 'starting') return health;
    const wait = Math.min(hc.intervalMs, deadline - Date.now());
    if (wait <= 0 || signal?.aborted) return null;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
