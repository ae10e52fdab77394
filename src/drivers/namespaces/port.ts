// The namespaces driver behind the reconciler's RuntimePort (src/reconciler/ports.ts): starts a
// container through the shim, finds it again from the shim's own files, stops it, runs health
// checks in it. A seccomp profile file is content the spec references, like an image: its
// digest joins the spec hash (editing the profile restarts the container) and a broken profile
// is a plan-time error, not a failed start.

import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { diagnostic, type Diagnostic } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DEFAULTS } from '../../manifest/defaults.js';
import { signalName } from '../../manifest/signal.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { CgroupPlacement, RuntimePort } from '../../reconciler/ports.js';
import type { Layout } from '../../state/layout.js';
import { unknownExit, type ExitRecord, type Json } from '../../state/record.js';
import { hostCapabilityMask, isRunningNotExiting, sameProcess } from '../../sys/proc.js';
import type { ShimExitRecord as ShimExit } from './records.js';
import { decodeRuntimeHandle, encodeRuntimeHandle } from './runtime-handle.js';
import {
  rediscover, onContainerExit, signalInit, start as startContainer, status as runtimeStatus, stop as stopContainer, type RuntimeRecord,
} from './runtime.js';
import { probeIdmap } from './idmap-probe.js';
import { checkSeccompProfile, seccompProfileDigest } from './seccomp-file.js';
import { execShim } from './shim.js';
import { buildExecSpec, buildSpawnSpec } from './spec.js';

export interface RuntimePortDeps {
  readonly layout: Layout;
  readonly logger: Logger;
  /** The cgroup placement of a running container, for a process that joins it (health checks). */
  readonly placementOf: (name: string) => Promise<CgroupPlacement | null>;
}

function exitOf(e: ShimExit): ExitRecord {
  return {
    code: e.exitCode,
    signal: e.signal === null ? null : e.signalName ?? signalName(e.signal),
    oomKilled: e.oomKilled === true,
    at: new Date(e.finishedAtMs).toISOString(),
  };
}

/**
 * What runs for NAME: the shim's own files are the truth (the record's copy may predate a
 * crash); the stored handle when those are gone.
 */
export function currentRuntime(layout: Layout, name: string, stored: Json | null, stopSignal = 15): RuntimeRecord | null {
  const paths = layout.container(name);
  const handle = stored === null ? null : decodeRuntimeHandle(stored);
  const found = rediscover(name, paths.shim, paths.logs, stopSignal);
  if (!found) return handle;
  // The shim's files do not know the resolved user; the handle of the same start does.
  return handle?.user && handle.init.pid === found.init.pid && handle.startedAtMs === found.startedAtMs ? { ...found, user: handle.user } : found;
}

export function namespacesRuntimePort(deps: RuntimePortDeps): RuntimePort {
  const { layout, logger } = deps;
  const paths = (name: string) => layout.container(name);
  const current = (name: string, runtime: Json | null, spec?: ContainerSpec): RuntimeRecord | null =>
    currentRuntime(layout, name, runtime, spec?.stopSignal.number);
  const hostCaps = hostCapabilityMask();

  return {
    async references(spec) {
      const refs: Record<string, string> = {};
      if (spec.security.seccomp.kind === 'file') refs['seccomp'] = seccompProfileDigest(spec.security.seccomp.path);
      return refs;
    },

    async check(spec) {
      const out: Diagnostic[] = [];
      if (spec.namespaces.user) {
        const probe = probeIdmap(layout.root);
        if (!probe.ok) {
          out.push(diagnostic('error', 'NOT_SUPPORTED', 'a user namespace cannot be built on this host', {
            container: spec.name, field: 'spec.namespaces.user', detail: probe.detail,
            hint: 'run it without one (`namespaces.user: {enabled: false}`), or keep the state root (--root) on a filesystem that supports idmapped mounts',
          }));
        }
      }
      if (spec.security.seccomp.kind === 'file' && !spec.security.privileged) {
        out.push(...checkSeccompProfile(spec.security.seccomp.path, { capabilities: spec.security.capabilities, container: spec.name }));
      }
      return out;
    },

    async defaultUserNamespace() {
      return probeIdmap(layout.root).ok ? { kind: 'auto', size: DEFAULTS.userNamespaceSize } : null;
    },

    async start(req, signal) {
      const p = paths(req.name);
      // A previous run's files must not be mistaken for this one's; logs carry over.
      rmSync(p.shim, { recursive: true, force: true });
      mkdirSync(p.shim, { recursive: true, mode: 0o700 });
      mkdirSync(p.logs, { recursive: true, mode: 0o700 });
      const target = req.joinNetworkOf === null ? null : decodeRuntimeHandle(req.joinNetworkOf);
      const spawn = buildSpawnSpec({
        spec: req.spec, rootfs: { ...req.rootfs.layout, binds: [...req.rootfs.layout.binds, ...req.network.binds] }, image: req.rootfs.defaults, cgroupProcs: req.cgroup.procs,
        cgroupDir: req.cgroup.cloneInto, oomEventsFile: req.cgroup.oomEvents, monitorCgroupProcs: req.cgroup.monitorProcs,
        shimDir: p.shim, logDir: p.logs, volumes: req.rootfs.volumes, user: req.rootfs.user, arch: process.arch, hostCapabilities: hostCaps,
        autoUserRange: req.userRange ? { uid: req.userRange.hostId, gid: req.userRange.hostId } : null,
        networkTarget: target ? target.init : null,
        netnsPath: req.network.netnsPath,
      });
      const record = await startContainer(spawn, {
        signal,
        logger: { log: (level, message, fields) => logger.log(level === 'error' ? 'error' : 'debug', message, { container: req.name, ...fields }) },
      }, req.rootfs.user);
      return { runtime: encodeRuntimeHandle(record), startedAt: new Date(record.startedAtMs).toISOString() };
    },

    async stop(name, runtime, spec, killAll, signal) {
      const record = current(name, runtime, spec);
      if (!record) {
        // No monitor: whatever is left in the cgroup goes.
        await killAll();
        return { exit: null, killedAfterTimeout: false };
      }
      const result = await stopContainer(record, { timeoutMs: spec.stopTimeoutMs, stopSignal: spec.stopSignal.number, killAll, signal });
      if (result.state === 'unmonitored') return { exit: unknownExit(new Date().toISOString()), killedAfterTimeout: result.forced };
      return { exit: result.exit ? exitOf(result.exit) : null, killedAfterTimeout: result.forced };
    },

    async status(name, runtime) {
      // The stored start's monitor running and not exiting: no later start exists (one begins
      // only after the monitor before it has closed its files, which is what stop waits for), so
      // the shim's state.json need not be read for one.
      const stored = runtime === null ? null : decodeRuntimeHandle(runtime);
      const monitorAlive = stored !== null && isRunningNotExiting(stored.monitor);
      const record = monitorAlive ? stored : current(name, runtime);
      if (!record) return { process: 'missing', exit: null, runtime: null, startedAt: null };
      const s = runtimeStatus(record, monitorAlive || undefined);
      const handle = encodeRuntimeHandle(record);
      const startedAt = new Date(record.startedAtMs).toISOString();
      if (s.state === 'running') return { process: 'running', exit: null, runtime: handle, startedAt };
      if (s.state === 'unmonitored') return { process: 'unmonitored', exit: null, runtime: handle, startedAt };
      if (s.state === 'exited') return { process: 'exited', exit: exitOf(s.exit), runtime: handle, startedAt };
      return { process: 'missing', exit: null, runtime: handle, startedAt };
    },

    async signal(name, runtime, signal) {
      const record = current(name, runtime);
      return record !== null && runtimeStatus(record).state !== 'exited' && signalInit(record, signal);
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
      return { dispose: record ? onContainerExit(record, onExit) : () => undefined };
    },

    async exec(name, runtime, spec, argv, timeoutMs) {
      const record = current(name, runtime, spec);
      if (!record) return { code: 125, output: 'not running' };
      const placement = await deps.placementOf(name);
      const execSpec = buildExecSpec(spec, null, placement?.procs ?? [], { argv, ...(record.user ? { user: record.user } : {}) }, process.arch, hostCaps);
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
