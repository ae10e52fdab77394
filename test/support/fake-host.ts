// An in-memory host behind the reconciler's ports, for testing apply's logic (order, failure
// isolation, crash recovery) without a kernel. The kernel itself is tested elsewhere.

import type { ContainerSpec, ResourcesSpec } from '../../src/manifest/spec.js';
import type { ActualNetwork, FieldDiff } from '../../src/reconciler/plan/types.js';
import type { Ports, ProcessStatus } from '../../src/reconciler/ports.js';
import type { ExitRecord, Json } from '../../src/state/record.js';

export class Crash extends Error {
  constructor(step: number) {
    super(`simulated SIGKILL at step ${step}`);
  }
}

export class FakeHost {
  readonly cgroups = new Map<string, ResourcesSpec>();
  readonly rootfs = new Set<string>();
  readonly processes = new Map<string, { pid: number; running: boolean; exit: ExitRecord | null }>();
  readonly networks = new Map<string, ActualNetwork>();
  readonly log: string[] = [];
  /** Throw Crash when the step counter reaches this number (simulates SIGKILL mid-apply). */
  crashAt = Infinity;
  failStart = new Set<string>();
  failNetwork = new Set<string>();
  private steps = 0;
  private nextPid = 100;
  starts = 0;

  /** After a simulated SIGKILL nothing more happens: every later call fails too. */
  dead = false;

  tick(what: string): void {
    if (this.dead) throw new Crash(this.steps);
    this.steps++;
    this.log.push(what);
    if (this.steps >= this.crashAt) {
      this.dead = true;
      throw new Crash(this.steps);
    }
  }

  get stepCount(): number {
    return this.steps;
  }

  /** Processes running per name: must never exceed one. */
  runningCount(name: string): number {
    return this.processes.get(name)?.running ? 1 : 0;
  }

  ports(): Ports {
    return {
      rootfs: {
        references: async () => ({}),
        prepare: async (name) => {
          this.tick(`rootfs.prepare ${name}`);
          this.rootfs.add(name);
          return { layout: { lower: [], upper: `/u/${name}`, work: `/w/${name}`, target: `/t/${name}`, binds: [], readOnly: false }, defaults: null, volumes: {}, user: { uid: 0, gid: 0, groups: [], home: null }, handle: { upper: `/u/${name}` } };
        },
        refreshFiles: async (name) => { this.tick(`rootfs.refreshFiles ${name}`); return {}; },
        remove: async (name) => { this.tick(`rootfs.remove ${name}`); this.rootfs.delete(name); },
        exists: async (name) => this.rootfs.has(name),
        list: async () => [...this.rootfs],
        check: async () => [],
      },
      cgroups: {
        create: async (name, resources) => { this.tick(`cgroup.create ${name}`); this.cgroups.set(name, resources); return { name }; },
        update: async (h, resources) => { this.tick(`cgroup.update ${(h as { name: string }).name}`); this.cgroups.set((h as { name: string }).name, resources); return h; },
        drift: async (h, resources) => {
          const actual = this.cgroups.get((h as { name: string }).name);
          if (!actual) return null;
          return actual.memoryBytes === resources.memoryBytes ? [] : [{ path: 'resources.memoryBytes', before: actual.memoryBytes, after: resources.memoryBytes, effect: 'live' } as FieldDiff];
        },
        placement: (h) => ({ procs: [`/cg/${(h as { name: string }).name}/cgroup.procs`], monitorProcs: [], cloneInto: null, oomEvents: null }),
        placementOf: async (name) => (this.cgroups.has(name) ? { procs: [`/cg/${name}/cgroup.procs`], monitorProcs: [], cloneInto: null, oomEvents: null } : null),
        kill: async (name) => { this.tick(`cgroup.kill ${name}`); const p = this.processes.get(name); if (p?.running) this.processes.set(name, { ...p, running: false, exit: { code: null, signal: 'SIGKILL', oomKilled: false, at: new Date().toISOString() } }); },
        destroy: async (name) => { this.tick(`cgroup.destroy ${name}`); const p = this.processes.get(name); if (p?.running) this.processes.set(name, { ...p, running: false }); this.cgroups.delete(name); },
        list: async () => [...this.cgroups.keys()],
        check: async () => [],
        oomKills: async () => 0,
        stats: async () => ({}),
      },
      network: {
        supports: () => [],
        check: async () => [],
        attach: async () => ({ netnsPath: null, handle: null, binds: [] }),
        detach: async () => undefined,
        list: async () => [],
        networks: async () => [...this.networks.values()],
        checkNetwork: async () => [],
        ensureNetwork: async (definition, hash, origin) => {
          this.tick(`network.ensure ${definition.name}`);
          if (this.failNetwork.has(definition.name)) throw new Error(`ip: RTNETLINK answers: File exists (${definition.bridge})`);
          this.networks.set(definition.name, { definition, hash, origin });
        },
        removeNetwork: async (name) => { this.tick(`network.remove ${name}`); this.networks.delete(name); },
        sync: async () => [],
      },
      runtime: {
        references: async () => ({}),
        check: async () => [],
        start: async (req) => {
          this.tick(`runtime.start ${req.name}`);
          if (this.failStart.has(req.name)) throw new Error('exec /bin/nope: ENOENT');
          if (this.processes.get(req.name)?.running) throw new Error(`second process for ${req.name}`);
          const pid = this.nextPid++;
          this.starts++;
          this.processes.set(req.name, { pid, running: true, exit: null });
          return { runtime: { pid } as Json, startedAt: new Date().toISOString() };
        },
        stop: async (name, _runtime, _spec: ContainerSpec, killAll) => {
          this.tick(`runtime.stop ${name}`);
          const p = this.processes.get(name);
          if (p?.running) await killAll();
          const exit = { code: 143, signal: null, oomKilled: false, at: new Date().toISOString() };
          if (p) this.processes.set(name, { ...p, running: false, exit });
          return { exit: p ? exit : null, killedAfterTimeout: false };
        },
        status: async (name): Promise<ProcessStatus> => {
          const p = this.processes.get(name);
          if (!p) return { process: 'missing', exit: null, runtime: null, startedAt: null };
          return { process: p.running ? 'running' : 'exited', exit: p.exit, runtime: { pid: p.pid }, startedAt: null };
        },
        signal: async (name) => this.processes.get(name)?.running === true,
        cleanup: async (name) => { this.tick(`runtime.cleanup ${name}`); const p = this.processes.get(name); if (!p?.running) this.processes.delete(name); },
        list: async () => [...this.processes.keys()],
        watchExit: () => ({ dispose: () => undefined }),
        exec: async () => ({ code: 0, output: '' }),
      },
    };
  }
}
