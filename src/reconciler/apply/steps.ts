// The host steps of a container, in the one order every start follows and its reverse for every
// teardown:
//
//   start:    rootfs.prepare → cgroups.create → network.attach → runtime.start → read back limits
//   teardown: runtime.stop → runtime.cleanup → network.detach → cgroups.destroy → rootfs.remove
//
// Each step is one port call under a deadline (deadline.ts). Every call is idempotent and works
// by container name, so a run killed between two steps is finished or undone by the next one.

import { CorralError } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { ContainerRecord, ExitRecord, Json, UserRange } from '../../state/record.js';
import { describeDiff } from '../plan/describe.js';
import type { OrphanKind } from '../plan/types.js';
import type { Ports } from '../ports.js';
import { withDeadline } from './deadline.js';

export interface StepContext {
  readonly ports: Ports;
  /** The pass's signal: aborting it stops the step in flight. */
  readonly signal: AbortSignal;
  readonly stepTimeoutMs: number;
}

export interface Started {
  readonly cgroup: Json;
  readonly rootfs: Json;
  readonly network: Json | null;
  readonly runtime: Json;
  readonly startedAt: string;
  /** Digests the start used where they differ from the plan's (an image pulled at start). */
  readonly references: Readonly<Record<string, string>> | null;
  /** The cgroup's CPU seconds before the process started (null: unreadable). */
  readonly cpuBaselineSeconds: number | null;
}

export interface Stopped {
  readonly exit: ExitRecord | null;
  /** The container ignored its stop signal and was killed after its stopTimeout. */
  readonly killedAfterTimeout: boolean;
}

function step<T>(ctx: StepContext, name: string, what: string, work: (signal: AbortSignal) => Promise<T>, extraMs = 0): Promise<T> {
  return withDeadline(ctx.signal, ctx.stepTimeoutMs + extraMs, what, name, work);
}

export interface StartInput {
  readonly name: string;
  readonly spec: ContainerSpec;
  readonly userRange: UserRange | null;
  /** For `namespaces.network: container:NAME`: that container's runtime handle, if it runs. */
  readonly joinNetworkOf: Json | null;
}

export async function startContainer(ctx: StepContext, input: StartInput): Promise<Started> {
  const { ports } = ctx;
  const { name, spec } = input;
  const rootfs = await step(ctx, name, 'prepare the root filesystem', (s) => ports.rootfs.prepare(name, spec, s));
  const cgroup = await step(ctx, name, 'create the cgroups', (s) => ports.cgroups.create(name, spec.resources, spec.devices, s));
  // The cgroup is kept across a stop and a start: what it used before this run is subtracted in `ps`.
  const cpuBaselineSeconds = await ports.cgroups.stats(cgroup, 'usage').then((s) => s['cpuSeconds'] ?? null, () => null);
  const network = await step(ctx, name, 'attach the network', (s) => ports.network.attach(name, spec, s));
  if (spec.namespaces.network.kind === 'container' && input.joinNetworkOf === null) {
    throw new CorralError('CONTAINER_NOT_RUNNING', `\`${spec.namespaces.network.container}\` is not running, so its network cannot be joined`, { container: name });
  }
  // The process gets the secrets' values; the record keeps the spec, which names them only.
  const secretEnv = rootfs.secretEnv ?? {};
  const runSpec: ContainerSpec = Object.keys(secretEnv).length === 0 ? spec : {
    ...spec, process: { ...spec.process, env: spec.process.env.map((e) => (e.secret !== undefined ? { name: e.name, value: secretEnv[e.name] ?? '' } : e)) },
  };
  const started = await step(ctx, name, 'start the container', (s) => ports.runtime.start({
    name, spec: runSpec, rootfs, cgroup: ports.cgroups.placement(cgroup), network, userRange: input.userRange, joinNetworkOf: input.joinNetworkOf,
  }, s));
  await verifyLimits(ctx, name, cgroup, spec);
  return { cgroup, rootfs: rootfs.handle, network: network.handle, runtime: started.runtime, startedAt: started.startedAt, references: rootfs.references ?? null, cpuBaselineSeconds };
}

/** Swaps the current content of the container's secrets and config files in; their digests. */
export function refreshFiles(ctx: StepContext, name: string, spec: ContainerSpec): Promise<Record<string, string>> {
  return step(ctx, name, 'update the secrets and config files', (s) => ctx.ports.rootfs.refreshFiles(name, spec, s));
}

/** A signal to PID 1 (a file's `onChange: signal:…`); a container that just exited is no error. */
export async function signalContainer(ctx: StepContext, name: string, runtime: Json | null, signal: number): Promise<void> {
  await step(ctx, name, `send signal ${signal}`, () => ctx.ports.runtime.signal(name, runtime, signal));
}

/** Applies changed limits to a running container and checks the kernel took them. */
export async function updateLimits(ctx: StepContext, name: string, cgroup: Json, spec: ContainerSpec): Promise<Json> {
  const updated = await step(ctx, name, 'update the limits', (s) => ctx.ports.cgroups.update(cgroup, spec.resources, spec.devices, s));
  await verifyLimits(ctx, name, updated, spec);
  return updated;
}

/** Compares what the kernel enforces with what was asked (Terraform's AssertObjectCompatible). */
async function verifyLimits(ctx: StepContext, name: string, cgroup: Json, spec: ContainerSpec): Promise<void> {
  const drift = await step(ctx, name, 'read back the limits', () => ctx.ports.cgroups.drift(cgroup, spec.resources, spec.devices));
  if (drift === null) throw new CorralError('CGROUP_GONE', 'the cgroup vanished right after it was set up', { container: name });
  if (drift.length > 0) {
    throw new CorralError('APPLY_FAILED', `the kernel does not enforce what was asked: ${drift.map(describeDiff).join('; ')}`, { container: name });
  }
}

/** Stops the process (stopSignal, then the whole cgroup after stopTimeout). */
export function stopProcess(ctx: StepContext, record: ContainerRecord): Promise<Stopped> {
  const { ports } = ctx;
  const name = record.name;
  return step(ctx, name, 'stop the container', (s) => ports.runtime.stop(name, record.runtime, record.spec, () => ports.cgroups.kill(name), s), record.spec.stopTimeoutMs);
}

/** Everything a container has on the host goes, in the reverse order of a start. */
export async function teardown(ctx: StepContext, record: ContainerRecord): Promise<Stopped> {
  const { ports } = ctx;
  const name = record.name;
  const stopped = await stopProcess(ctx, record);
  await step(ctx, name, 'clean up the monitor', (s) => ports.runtime.cleanup(name, s));
  await step(ctx, name, 'detach the network', (s) => ports.network.detach(name, record.network, s));
  await step(ctx, name, 'remove the cgroups', (s) => ports.cgroups.destroy(name, s));
  await step(ctx, name, 'remove the writable layer', (s) => ports.rootfs.remove(name, s));
  return stopped;
}

/** What a crash left behind with no record: removed by name, in teardown order. */
export async function removeOrphan(ctx: StepContext, kind: OrphanKind, name: string): Promise<void> {
  const { ports } = ctx;
  if (kind === 'shim') await step(ctx, name, 'stop an orphan monitor', (s) => ports.runtime.cleanup(name, s));
  if (kind === 'network') await step(ctx, name, 'detach an orphan network', (s) => ports.network.detach(name, null, s));
  if (kind === 'cgroup') await step(ctx, name, 'remove an orphan cgroup', (s) => ports.cgroups.destroy(name, s));
  if (kind === 'rootfs') await step(ctx, name, 'remove an orphan container directory', (s) => ports.rootfs.remove(name, s));
}
