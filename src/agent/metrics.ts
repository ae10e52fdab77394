// Opt-in Prometheus metrics (`corral agent --metrics 127.0.0.1:9464`), served on the address given,
// nowhere else. What they say is what `ps` says: per container, the record's status, restarts,
// last exit, start time and health, and the cgroup's memory, CPU, pids and OOM kills read at
// scrape time; per pass, its duration and outcome. A restart is counted once, where `ps` counts
// it (the record's `restarts`): a start after the container's process exited.
//
// Every series carries `host="NAME"` (the host name selectors see, `--host-name` or the kernel's):
// a fleet scrape merges many agents, and a sum by host must not depend on how each target was
// relabelled. Several agents of one machine keep their series apart by it too.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CorralError } from '../errors.js';
import { parseSignal } from '../manifest/signal.js';
import type { ContainerRecord, Json } from '../state/record.js';

/** Reads a container's counters: its cgroup's (the cgroup port's `stats`), and its network's. */
export interface StatsReader {
  cgroup(handle: Json): Promise<Record<string, number | null>>;
  network?(handle: Json): Promise<{ readonly receiveBytes: number; readonly transmitBytes: number } | null>;
  writableBytes?(name: string): Promise<number | null>;
}

const HEALTH_STATES = ['starting', 'healthy', 'unhealthy'] as const;

export class AgentMetrics {
  readonly registry = new Registry();
  private records: readonly ContainerRecord[] = [];
  private stats: StatsReader | null = null;
  private readonly containers = new Gauge({ name: 'corral_containers', help: 'Containers by status', labelNames: ['status'], registers: [this.registry] });
  private readonly duration = new Histogram({
    name: 'corral_reconcile_duration_seconds', help: 'Duration of reconcile passes', labelNames: ['result'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  private readonly passes = new Counter({ name: 'corral_reconcile_total', help: 'Reconcile passes by outcome (ok, failed, error)', labelNames: ['result'], registers: [this.registry] });

  constructor(options: { readonly host?: string } = {}) {
    if (options.host) this.registry.setDefaultLabels({ host: options.host });
    const records = (): readonly ContainerRecord[] => this.records;
    const perContainer = (name: string, help: string, value: (r: ContainerRecord) => number | null): void => {
      new Gauge({
        name, help, labelNames: ['container'], registers: [this.registry],
        collect() {
          this.reset();
          for (const r of records()) {
            const v = value(r);
            if (v !== null) this.set({ container: r.name }, v);
          }
        },
      });
    };
    perContainer('corral_container_up', 'Whether the container\'s process runs (1) or not (0)', (r) => (r.status === 'running' ? 1 : 0));
    // Named as a counter: it only grows while the container exists (a recreate starts it again, a reset for Prometheus).
    perContainer('corral_container_restarts_total', 'Restarts of the container, as `corral ps` counts them', (r) => r.restarts);
    perContainer('corral_container_last_exit_code', 'Exit code of the last exit (128+N for a signal), absent before the first', (r) => exitCode(r));
    perContainer('corral_container_start_time_seconds', 'When the container\'s process started, in Unix seconds', (r) => (r.status === 'running' && r.startedAt ? Date.parse(r.startedAt) / 1000 : null));
    perContainer('corral_container_memory_limit_bytes', 'The memory limit of the manifest (absent: none)', (r) => r.spec.resources.memoryBytes);
    new Gauge({
      name: 'corral_container_health', help: 'Health check state, one series per state, 1 for the current one', labelNames: ['container', 'state'], registers: [this.registry],
      collect() {
        this.reset();
        for (const r of records()) {
          if (!r.health) continue;
          for (const state of HEALTH_STATES) this.set({ container: r.name, state }, r.health.status === state ? 1 : 0);
        }
      },
    });
    // Read from the kernel at each scrape, for the running containers: one read of every cgroup
    // (and veth) per scrape, shared by the gauges.
    const fromCgroup: Array<[Gauge, string]> = [];
    let pending: Promise<void> | null = null;
    const readCgroups = (): Promise<void> => {
      pending ??= (async () => {
        for (const [g] of fromCgroup) g.reset();
        for (const r of this.records) {
          if (r.status !== 'running' || r.cgroup === null || this.stats === null) continue;
          const cgroup = await this.stats.cgroup(r.cgroup).catch(() => null);
          const net = r.network !== null ? await this.stats.network?.(r.network).catch(() => null) : null;
          const writable = await this.stats.writableBytes?.(r.name).catch(() => null);
          const s: Record<string, number | null | undefined> = { ...cgroup, networkReceiveBytes: net?.receiveBytes, networkTransmitBytes: net?.transmitBytes, writableBytes: writable };
          for (const [g, key] of fromCgroup) {
            const v = s?.[key];
            if (typeof v === 'number') g.set({ container: r.name }, v);
          }
        }
      })().finally(() => { pending = null; });
      return pending;
    };
    const cgroupGauge = (name: string, help: string, key: string): void => {
      fromCgroup.push([new Gauge({ name, help, labelNames: ['container'], registers: [this.registry], collect: readCgroups }), key]);
    };
    cgroupGauge('corral_container_memory_bytes', 'Memory the container uses now (its cgroup\'s)', 'memoryBytes');
    cgroupGauge('corral_container_cpu_seconds_total', 'CPU time the container\'s cgroup used', 'cpuSeconds');
    cgroupGauge('corral_container_pids', 'Processes and threads in the container', 'pids');
    cgroupGauge('corral_container_oom_kills_total', 'Processes of the container the OOM killer killed (its cgroup\'s count)', 'oomKills');
    cgroupGauge('corral_container_network_receive_bytes_total', 'Bytes a bridged container received (its veth\'s count)', 'networkReceiveBytes');
    cgroupGauge('corral_container_network_transmit_bytes_total', 'Bytes a bridged container sent (its veth\'s count)', 'networkTransmitBytes');
    cgroupGauge('corral_container_writable_layer_bytes', 'Bytes in the container\'s writable layer (measured at most once a minute)', 'writableBytes');
  }

  /** Where the cgroup figures come from (the agent's cgroup port). */
  readStatsWith(stats: StatsReader): void {
    this.stats = stats;
  }

  observePass(durationMs: number, result: string, records: Iterable<ContainerRecord | null>): void {
    this.duration.observe({ result }, durationMs / 1000);
    this.passes.inc({ result });
    this.records = [...records].filter((r): r is ContainerRecord => r !== null);
    const counts = new Map<string, number>();
    for (const r of this.records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    this.containers.reset();
    for (const [status, n] of counts) this.containers.set({ status }, n);
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

  private server: Server | undefined;

  close(): void {
    this.server?.close();
    this.server?.closeAllConnections();
  }
}

/** The exit code `ps` shows: the code, or 128+N for a signal; null before the first exit or when unknown. */
function exitCode(r: ContainerRecord): number | null {
  const e = r.lastExit;
  if (!e || e.unknown) return null;
  if (e.code !== null) return e.code;
  const signal = e.signal ? parseSignal(e.signal) : null;
  return signal?.ok ? 128 + signal.value.number : null;
}
