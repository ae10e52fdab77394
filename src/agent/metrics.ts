// Opt-in Prometheus metrics (`corral agent --metrics 127.0.0.1:9464`): containers by status,
// reconcile durations, restarts and OOM kills. Served on the address given, nowhere else.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CorralError } from '../errors.js';
import type { ReasonCode } from '../reconciler/plan/types.js';
import type { ContainerRecord } from '../state/record.js';
import type { CorralEvent } from './events.js';

/** A start after one of these exits is a restart (after `exit-unknown`, a reboot say, it is not). */
const CRASHES: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['exited', 'killed', 'oom-killed']);

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly containers = new Gauge({ name: 'corral_containers', help: 'Containers by status', labelNames: ['status'], registers: [this.registry] });
  private readonly duration = new Histogram({
    name: 'corral_reconcile_duration_seconds', help: 'Duration of reconcile passes', labelNames: ['result'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  private readonly restarts = new Counter({ name: 'corral_container_restarts_total', help: 'Container restarts by corral', labelNames: ['container'], registers: [this.registry] });
  private readonly ooms = new Counter({ name: 'corral_container_oom_kills_total', help: 'Container exits caused by the OOM killer', labelNames: ['container'], registers: [this.registry] });
  private server: Server | undefined;

  observePass(durationMs: number, result: string, records: Iterable<ContainerRecord | null>): void {
    this.duration.observe({ result }, durationMs / 1000);
    const counts = new Map<string, number>();
    for (const r of records) if (r) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    this.containers.reset();
    for (const [status, n] of counts) this.containers.set({ status }, n);
  }

  /** Restarts and OOM kills seen in one pass's events: by kind and reason code. */
  countEvents(events: readonly CorralEvent[]): void {
    for (const e of events) {
      if (e.container === undefined) continue;
      if (e.kind === 'restarted' || (e.kind === 'started' && e.reasons?.some((r) => CRASHES.has(r.code)))) this.restarted(e.container);
      if (e.kind === 'oom-killed') this.oomKilled(e.container);
    }
  }

  restarted(container: string): void {
    this.restarts.inc({ container });
  }

  oomKilled(container: string): void {
    this.ooms.inc({ container });
  }

  /** Listens on `host:port`; resolves when listening. */
  async listen(address: string): Promise<string> {
    const m = /^(.*):(\d+)$/.exec(address);
    if (!m) throw new CorralError('CLI_USAGE', `--metrics \`${address}\` is not HOST:PORT`, { hint: 'for example --metrics 127.0.0.1:9464' });
    const host = m[1]!.replace(/^\[|\]$/g, '');
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found; try /metrics\n');
        return;
      }
      this.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      }, (err: Error) => res.writeHead(500).end(err.message));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(Number(m[2]), host, () => resolve());
    });
    const bound = this.server.address();
    return typeof bound === 'object' && bound ? `${bound.address}:${bound.port}` : address;
  }

  close(): void {
    this.server?.close();
  }
}
