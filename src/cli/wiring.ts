// Wires the real drivers into the reconciler's ports: the one place that knows both sides.
// rootfs → overlay driver, cgroups → cgroups driver, runtime → namespaces driver (C shim).

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import {
  cloneIntoCgroupDir, monitorProcsFiles, oomEventsFile, openCgroupManager, procsFiles, type CgroupHandle,
} from '../drivers/cgroups/index.js';
import { cgroupPort } from '../drivers/cgroups/port.js';
import { overlayRootfsPort } from '../drivers/overlay/rootfs-port.js';
import type { ExitRecord as ShimExit } from '../drivers/namespaces/records.js';
import {
  rediscover, start as startContainer, status as runtimeStatus, stop as stopContainer, waitForExit, type RuntimeRecord,
} from '../drivers/namespaces/runtime.js';
import { checkSeccompProfile, seccompProfileDigest } from '../drivers/namespaces/seccomp-file.js';
import { execShim } from '../drivers/namespaces/shim.js';
import { buildExecSpec, buildSpawnSpec } from '../drivers/namespaces/spec.js';
import { signalName } from '../manifest/signal.js';
import type { ContainerSpec } from '../manifest/spec.js';
import type { Ports, ProcessStatus, RootfsPort, RuntimePort } from '../reconciler/ports.js';
import type { Layout } from '../state/layout.js';
import { unknownExit, type ExitRecord, type Json } from '../state/record.js';
import { hostCapabilityMask, sameProcess } from '../sys/proc.js';
import { CorralError } from '../errors.js';
import { StateStore } from '../state/store.js';
import type { ExecTarget } from './commands/exec.js';
import type { CliContext } from './context.js';
import type { Logger } from './logging.js';

export interface HostOptions {
  /** Name of corral's own cgroup parent in each hierarchy (src/cli/host.ts decides it). */
  readonly cgroupParent: string;
  /** The state root's id (src/state/root-id.ts): the cgroups driver acts on this root's cgroups only. */
  readonly rootId: string;
}

export async function createPorts(layout: Layout, logger: Logger, options: HostOptions): Promise<Ports> {
  const manager = await openCgroupManager({ parentName: options.cgroupParent, rootId: options.rootId });
  const store = new StateStore(layout);
  const cgroups = cgroupPort(manager, {
    records: {
      has: (name) => existsSync(layout.record(name)),
      handle: async (name) => (await store.get(name))?.cgroup ?? null,
    },
    warn: (message, fields) => logger.warn(message, fields),
  });
  return {
    rootfs: withSeccompProfiles(overlayRootfsPort(layout.root)),
    cgroups,
    runtime: runtimePort(layout, async (name) => (await cgroups.handlesOf(name))[0] ?? null, logger),
  };
}

/**
 * A seccomp profile file is content the spec references, like an image: its digest joins the
 * spec hash (editing the profile restarts the container) and a broken profile is a plan-time
 * error, not a failed start.
 */
function withSeccompProfiles(rootfs: RootfsPort): RootfsPort {
  return {
    ...rootfs,
    async references(spec) {
      const refs = await rootfs.references(spec);
      return spec.security.seccomp.kind === 'file' ? { ...refs, seccomp: seccompProfileDigest(spec.security.seccomp.path) } : refs;
    },
    async check(spec) {
      const out = await rootfs.check(spec);
      if (spec.security.seccomp.kind === 'file' && !spec.security.privileged) {
        out.push(...checkSeccompProfile(spec.security.seccomp.path, { capabilities: spec.security.capabilities, container: spec.name }));
      }
      return out;
    },
  };
}

const asHandle = (json: Json): CgroupHandle => json as unknown as CgroupHandle;

function exitOf(e: ShimExit): ExitRecord {
  return {
    code: e.exitCode,
    signal: e.signal === null ? null : e.signalName ?? signalName(e.signal),
    oomKilled: e.oomKilled === true,
    at: new Date(e.finishedAtMs).toISOString(),
  };
}

/** `cgroupOf`: the container's cgroup, for an exec'd process to join its processes' leaf. */
export function runtimePort(layout: Layout, cgroupOf: (name: string) => Promise<CgroupHandle | null>, logger: Logger): RuntimePort {
  const paths = (name: string) => layout.container(name);
  // The shim's own files are the truth; the record's copy may predate a crash.
  const current = (name: string, runtime: Json | null, spec?: ContainerSpec): RuntimeRecord | null =>
    rediscover(name, paths(name).shim, paths(name).logs, spec?.stopSignal.number ?? 15) ?? (runtime as unknown as RuntimeRecord | null);
  const hostCaps = hostCapabilityMask();

  return {
    async start(req, signal) {
      const p = paths(req.name);
      // A previous run's files must not be mistaken for this one's; logs carry over.
      rmSync(p.shim, { recursive: true, force: true });
      mkdirSync(p.shim, { recursive: true, mode: 0o700 });
      mkdirSync(p.logs, { recursive: true, mode: 0o700 });
      const handle = asHandle(req.cgroupHandle);
      const target = req.joinNetworkOf as unknown as RuntimeRecord | null;
      const spawn = buildSpawnSpec({
        spec: req.spec, rootfs: req.rootfs.layout, image: req.rootfs.defaults, cgroupProcs: req.cgroupProcs,
        cgroupDir: cloneIntoCgroupDir(handle), oomEventsFile: oomEventsFile(handle), monitorCgroupProcs: monitorProcsFiles(handle),
        shimDir: p.shim, logDir: p.logs, volumes: req.rootfs.volumes, arch: process.arch, hostCapabilities: hostCaps,
        autoUserRange: req.userRange ? { uid: req.userRange.hostId, gid: req.userRange.hostId } : null,
        networkTarget: target ? target.init : null,
      });
      const record = await startContainer(spawn, { signal, logger: { log: (level, message, fields) => logger.log(level === 'error' ? 'error' : 'debug', message, { container: req.name, ...fields }) } });
      return { runtime: record as unknown as Json, startedAt: new Date(record.startedAtMs).toISOString() };
    },

    async stop(name, runtime, spec, killAll) {
      const record = current(name, runtime, spec);
      if (!record) {
        // No monitor: whatever is left in the cgroup goes.
        await killAll();
        return null;
      }
      const result = await stopContainer(record, { timeoutMs: spec.stopTimeoutMs, stopSignal: spec.stopSignal.number, killAll });
      if (result.state === 'unmonitored') return unknownExit(new Date().toISOString());
      return result.exit ? exitOf(result.exit) : null;
    },

    async status(name, runtime): Promise<ProcessStatus> {
      const record = current(name, runtime);
      if (!record) return { process: 'missing', exit: null, runtime: null, startedAt: null };
      const s = runtimeStatus(record);
      const startedAt = new Date(record.startedAtMs).toISOString();
      if (s.state === 'running') return { process: 'running', exit: null, runtime: record as unknown as Json, startedAt };
      if (s.state === 'unmonitored') return { process: 'unmonitored', exit: null, runtime: record as unknown as Json, startedAt };
      if (s.state === 'exited') return { process: 'exited', exit: exitOf(s.exit), runtime: record as unknown as Json, startedAt };
      return { process: 'missing', exit: null, runtime: record as unknown as Json, startedAt };
    },

    async cleanup(name) {
      const p = paths(name);
      const record = current(name, null);
      if (record && sameProcess(record.monitor.pid, record.monitor.startTime)) {
        // A monitor without a container to watch: end it (by pid and start time, never by name).
        try {
          process.kill(record.monitor.pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      rmSync(p.shim, { recursive: true, force: true });
      rmSync(p.logs, { recursive: true, force: true });
    },

    async list() {
      if (!existsSync(layout.containersDir)) return [];
      return readdirSync(layout.containersDir).filter((n) => existsSync(paths(n).shim));
    },

    watchExit(name, runtime, onExit) {
      const record = current(name, runtime);
      const ac = new AbortController();
      if (record) {
        void waitForExit(record, { signal: ac.signal }).then((s) => {
          if (s !== null && !ac.signal.aborted) onExit();
        }, (err: Error) => logger.warn(`watching ${name}: ${err.message}`));
      }
      return { dispose: () => ac.abort() };
    },

    async exec(name, runtime, spec, argv, timeoutMs) {
      const record = current(name, runtime, spec);
      if (!record) return { code: 125, output: 'not running' };
      const h = await cgroupOf(name);
      const execSpec = buildExecSpec(spec, null, h ? procsFiles(h) : [], { argv }, process.arch, hostCaps);
      let output = '';
      const result = await execShim(execSpec, record.init, {
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: AbortSignal.timeout(timeoutMs),
        onSpawn: (child) => {
          child.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4096); });
          child.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4096); });
        },
      });
      return { code: result.exitCode ?? 128 + (result.signal ?? 0), output };
    },
  };
}

/** For `corral exec`: the running container NAME, from its record (its cgroup too) and its monitor's files. */
export async function findRunning(name: string, ctx: CliContext, layout: Layout): Promise<ExecTarget> {
  const record = await new StateStore(layout).get(name);
  if (!record) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`' });
  const runtime = rediscover(name, layout.container(name).shim, layout.container(name).logs, record.spec.stopSignal.number)
    ?? (record.runtime as unknown as RuntimeRecord | null);
  if (!runtime || runtimeStatus(runtime).state !== 'running') {
    throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${name}\` is not running`, { hint: `start it with \`corral start ${name}\`` });
  }
  // The cgroup the record stores: an exec'd process joins the container's processes there.
  const handle = record.cgroup === null ? null : asHandle(record.cgroup);
  ctx.logger.debug('exec target', { container: name, pid: runtime.init.pid });
  const prepared = record.spec.rootfs.kind === 'image' ? await overlayRootfsPort(layout.root).prepare(name, record.spec).catch(() => null) : null;
  return { spec: record.spec, image: prepared?.defaults ?? null, init: runtime.init, cgroupProcs: handle ? procsFiles(handle) : [] };
}
