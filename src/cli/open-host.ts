// What commands that act on the host share: the state root opened, the ports wired, the
// manifests read for this host, the lock taken.

import { subidConfig } from '../state/subid-pool.js';
import { cpus } from 'node:os';
import { existsSync } from 'node:fs';
import { createPorts, supportChecks } from '../compose.js';
import { DEFAULT_PARENT_NAME } from '../drivers/cgroups/parent-name.js';
import { directorySource } from '../inputs/manifest-source.js';
import type { ManifestCache, ManifestSet } from '../manifest/manifest-set.js';
import { parseDurationMs } from '../manifest/duration.js';
import { Option } from 'commander';
import { inspect, type InspectScope } from '../reconciler/inspect.js';
import type { Actual } from '../reconciler/plan/types.js';
import type { Ports } from '../reconciler/ports.js';
import { CorralError } from '../errors.js';
import { layout, type Layout } from '../state/layout.js';
import { acquireLock, type HeldLock } from '../state/lock.js';
import { ensureRootId, shortRootId } from '../state/root-id.js';
import { StateStore, type LoadedState } from '../state/store.js';
import { ManifestCacheFile } from '../state/manifest-cache.js';
import { buildId } from '../inputs/build-id.js';
import { DEFAULT_ROOT, type CliContext } from './context.js';

/** Read when asked, not at load: dist/corral.blob evaluates this module on the build machine. */
export const defaultParallelism = (): number => 2 * cpus().length;
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;

export interface OpenHost {
  readonly layout: Layout;
  readonly store: StateStore;
  readonly ports: Ports;
  readonly rootId: string;
  readonly cgroupParent: string;
}

/**
 * The one place corral's cgroup parent is decided: `CORRAL_CGROUP_PARENT` when set; `corral` for
 * the default state root (installations from before root ids keep their cgroups where they are);
 * `corral-<short root id>` for any other root, so that two roots never share a parent. null: a
 * root that has no id yet (created at its first use), and no parent until then.
 */
export function cgroupParentFor(root: string, rootId: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  const configured = env['CORRAL_CGROUP_PARENT'];
  if (configured) return configured;
  if (root === DEFAULT_ROOT) return DEFAULT_PARENT_NAME;
  return rootId === null ? null : `${DEFAULT_PARENT_NAME}-${shortRootId(rootId)}`;
}

/**
 * The default network's bridge and nftables table: `corral0` and `corral` for the default state
 * root, `cr-<short root id>` and `corral_<short root id>` for any other, so two roots on one host
 * never share them (docs/network.md).
 */
export function networkNamesFor(root: string, rootId: string): { bridge: string; table: string } {
  if (root === DEFAULT_ROOT) return { bridge: 'corral0', table: 'corral' };
  const id = shortRootId(rootId);
  return { bridge: `cr-${id}`, table: `corral_${id}` };
}

/**
 * observeOnly: for commands that only look, which create no cgroup parent (src/compose.ts) and
 * leave a state directory that exists as it is (StateStore's `readOnly`).
 */
export async function openHost(ctx: CliContext, { observeOnly = false } = {}): Promise<OpenHost> {
  const l = layout(ctx.root);
  // A root never used is made even to look at it (`plan` there probes what the root allows).
  const readOnly = observeOnly && existsSync(l.stateDir);
  const store = new StateStore(l, { readOnly });
  if (!readOnly) await store.init();
  const rootId = await ensureRootId(l);
  const cgroupParent = cgroupParentFor(ctx.root, rootId)!;
  return { layout: l, store, ports: await createPorts(l, ctx.logger, { cgroupParent, rootId, network: networkNamesFor(ctx.root, rootId), subid: subidConfig(process.env), observeOnly, store }), rootId, cgroupParent };
}

/**
 * The records and what the host runs for them, as `ps` (light: processes and exits, no knob or
 * orphan) and `state check` (full) show it. Read only.
 */
export async function observe(host: OpenHost, scope: InspectScope = 'full'): Promise<{ loaded: LoadedState; actual: Actual }> {
  const loaded = await host.store.load();
  const actual = await inspect(loaded.records, loaded.serial, host.ports, loaded.unknown.map((u) => u.name), scope);
  return { loaded, actual };
}

/** `--lock-timeout`, the same for every command that takes the state lock. */
export function lockTimeoutOption(fallback = '60s', what = 'how long to wait for another corral holding the state lock'): Option {
  return new Option('--lock-timeout <duration>', what).default(fallback);
}

/** The manifest set for this host; the agent passes a cache so unchanged files are not re-read. */
export async function loadDesired(ctx: CliContext, cache?: ManifestCache, persistIn?: Layout): Promise<ManifestSet> {
  // Loaded here: YAML and the schema validator are start-up that `ps`, `exec` and `logs` never need.
  const [{ loadManifestSet }, { loadSchemaValidator }] = await Promise.all([import('../manifest/manifest-set.js'), import('../inputs/prebuilt-schema.js')]);
  const source = directorySource(ctx.manifestDir, (path, reason) => ctx.logger.debug('ignored file', { path, reason }));
  const version = persistIn ? buildId() : null;
  const persisted = version === null ? undefined : await ManifestCacheFile.open(persistIn!.manifestCache, version);
  const set = await loadManifestSet(source, { validator: await loadSchemaValidator(), host: ctx.host(), supports: supportChecks(), ...(cache ? { cache } : {}), ...(persisted ? { persisted } : {}) });
  await persisted?.save().catch((err: unknown) => ctx.logger.debug('manifest cache not written', { path: persistIn!.manifestCache, error: (err as Error)?.message ?? String(err) }));
  return set;
}

export function lock(ctx: CliContext, command: string, timeout: string | undefined): Promise<HeldLock> {
  return acquireLock(layout(ctx.root).lockFile, command, durationOption('--lock-timeout', timeout ?? '60s'));
}

export function durationOption(flag: string, value: string): number {
  const r = parseDurationMs(value);
  if (!r.ok) throw new CorralError('CLI_USAGE', `${flag} \`${value}\` is not ${r.expected}`);
  return r.value;
}

export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CorralError('CLI_USAGE', `${flag} \`${value}\` is not a positive integer`);
  return n;
}
