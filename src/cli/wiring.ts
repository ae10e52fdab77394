// Wires the real drivers into the reconciler's ports: the one place that knows both sides.
// rootfs → overlay driver, cgroups → cgroups driver, runtime → namespaces driver (C shim).

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { adoptLeftover, cloneIntoCgroupDir, handleDirs, openCgroupManager, ownerRole, procsFiles, resourcesDrift, type CgroupHandle, type CgroupManager } from '../drivers/cgroups/index.js';
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
import type { FieldDiff } from '../reconciler/plan/types.js';
import type { CgroupPort, Ports, ProcessStatus, RootfsPort, RuntimePort } from '../reconciler/ports.js';
import type { Layout } from '../state/layout.js';
import { unknownExit, type ExitRecord, type Json } from '../state/record.js';
import { hostCapabilityMask, sameProcess } from '../sys/proc.js';
import { CorralError, isCorralError } from '../errors.js';
import { checkDevicePolicy, devicePolicy } from '../drivers/cgroups/device-policy.js';
import { describePolicy } from '../drivers/cgroups/device-rules.js';
import { StateStore } from '../state/store.js';
import type { ExecTarget } from './commands/exec.js';
import type { CliContext } from './context.js';
import type { Logger } from './logging.js';

export interface HostOptions {
  /** Name of corral's own cgroup parent in each hierarchy. */
  readonly cgroupParent: string;
}

export async function createPorts(layout: Layout, logger: Logger, options: HostOptions): Promise<Ports> {
  const manager = await openCgroupManager({ parentName: options.cgroupParent });
  return {
    rootfs: withSeccompProfiles(overlayRootfsPort(layout.root)),
    cgroups: cgroupPort(manager),
    runtime: runtimePort(layout, manager, logger),
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

async function handleByName(manager: CgroupManager, name: string): Promise<CgroupHandle | undefined> {
  return (await manager.list()).find((h) => h.name === name);
}

function parentDirs(manager: CgroupManager): string[] {
  return [...new Set([...Object.values(manager.parents.v1), ...(manager.parents.unified ? [manager.parents.unified] : [])])];
}

/**
 * corral can be killed between creating a container's cgroup directory and marking it as its own.
 * The reconciler calls create, kill and destroy only for names it journaled the intent for (a
 * state record) or that carry corral's mark in another hierarchy, so such an unmarked, empty
 * leftover is taken back here rather than refused forever.
 */
function adoptLeftovers(manager: CgroupManager, name: string): void {
  for (const dir of parentDirs(manager)) adoptLeftover(join(dir, name));
}

export function cgroupPort(manager: CgroupManager): CgroupPort {
  return {
    create: async (name, resources, devices) => {
      adoptLeftovers(manager, name);
      return (await manager.create(name, resources, devicePolicy(devices))) as unknown as Json;
    },
    async update(handle, resources, devices) {
      await manager.set(asHandle(handle), resources);
      const policy = devicePolicy(devices);
      const now = await manager.checkDevices(asHandle(handle), policy);
      return now.enforced ? handle : (await manager.setDevices(asHandle(handle), policy)) as unknown as Json;
    },
    async drift(handle, resources, devices) {
      const h = asHandle(handle);
      // The handle's own directories, not a scan of the parent: inspect calls this per container.
      if (!handleDirs(h).every((d) => existsSync(d))) return null;
      let applied;
      try {
        applied = await manager.read(h);
      } catch (err) {
        // A cgroup missing from some hierarchy (corral was killed while creating it) cannot
        // enforce its limits: report it missing, and the plan rebuilds it.
        if (isCorralError(err) && /ENOENT/.test(err.message)) return null;
        throw err;
      }
      const diffs = resourcesDrift(resources, applied).map((d): FieldDiff => ({
        path: `resources.${d.field}`, before: d.applied, after: d.desired, effect: 'live',
      }));
      const policy = devicePolicy(devices);
      const enforced = await manager.checkDevices(h, policy);
      if (!enforced.enforced) diffs.push({ path: 'devices', before: enforced.current, after: describePolicy(policy), effect: 'live' });
      return diffs;
    },
    procsFiles: (handle) => procsFiles(asHandle(handle)),
    async kill(name) {
      adoptLeftovers(manager, name);
      const h = await handleByName(manager, name);
      if (h) await manager.kill(h);
    },
    async destroy(name) {
      adoptLeftovers(manager, name);
      const h = await handleByName(manager, name);
      if (h) await manager.destroy(h);
    },
    // Names only, for orphan detection: the children of corral's parent directories. Ownership
    // is checked later, by destroy, before anything is touched.
    list: async () => {
      // A name counts when one of its directories carries corral's mark: a child of corral's
      // parent that nobody marked is not corral's to clean up.
      const names = new Set<string>();
      for (const dir of parentDirs(manager)) {
        try {
          for (const e of readdirSync(dir, { withFileTypes: true })) {
            if (e.isDirectory() && e.name !== 'agent' && !names.has(e.name) && ['container', 'unsupported'].includes(String(ownerRole(join(dir, e.name))))) names.add(e.name);
          }
        } catch {
          // A parent not created yet has no children.
        }
      }
      return [...names].sort();
    },
    check: (resources, devices) => [...manager.checkResources(resources), ...checkDevicePolicy(manager.capabilities, devices)],
    async oomKills(handle) {
      return (await manager.stats(asHandle(handle))).memory.oomKills ?? 0;
    },
    async stats(handle) {
      const s = await manager.stats(asHandle(handle));
      return {
        memoryBytes: s.memory.currentBytes,
        memoryPeakBytes: s.memory.peakBytes,
        oomKills: s.memory.oomKills,
        cpuSeconds: s.cpu.usageUsec === null ? null : s.cpu.usageUsec / 1e6,
        throttledPeriods: s.cpu.throttledPeriods,
        pids: s.pids.current,
      };
    },
  };
}

function exitOf(e: ShimExit): ExitRecord {
  return {
    code: e.exitCode,
    signal: e.signal === null ? null : e.signalName ?? signalName(e.signal),
    oomKilled: e.oomKilled === true,
    at: new Date(e.finishedAtMs).toISOString(),
  };
}

function oomEventsFile(handle: CgroupHandle): string | null {
  if (handle.v1['memory']) return join(handle.v1['memory'], 'memory.oom_control');
  if (handle.backend === 'v2' && handle.unified) return join(handle.unified, 'memory.events');
  return null;
}

export function runtimePort(layout: Layout, manager: CgroupManager, logger: Logger): RuntimePort {
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
        cgroupDir: cloneIntoCgroupDir(handle), oomEventsFile: oomEventsFile(handle),
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
      const h = (await manager.list()).find((x) => x.name === name);
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

/** For `corral exec`: the running container NAME, from its record and its monitor's files. */
export async function findRunning(name: string, ctx: CliContext, layout: Layout): Promise<ExecTarget> {
  const record = await new StateStore(layout).get(name);
  if (!record) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`' });
  const runtime = rediscover(name, layout.container(name).shim, layout.container(name).logs, record.spec.stopSignal.number)
    ?? (record.runtime as unknown as RuntimeRecord | null);
  if (!runtime || runtimeStatus(runtime).state !== 'running') {
    throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${name}\` is not running`, { hint: `start it with \`corral start ${name}\`` });
  }
  const manager = await openCgroupManager({ parentName: process.env['CORRAL_CGROUP_PARENT'] ?? 'corral' });
  const handle = (await manager.list()).find((h) => h.name === name);
  ctx.logger.debug('exec target', { container: name, pid: runtime.init.pid });
  const prepared = record.spec.rootfs.kind === 'image' ? await overlayRootfsPort(layout.root).prepare(name, record.spec).catch(() => null) : null;
  return { spec: record.spec, image: prepared?.defaults ?? null, init: runtime.init, cgroupProcs: handle ? procsFiles(handle) : [] };
}
