// corral info: host facts, the state root's identity, and what this host's cgroups can enforce
// (layout, where each controller lives, corral's parents, each resource knob with its reason when
// missing), and whether containers get a user namespace by default here. Reads only: changes
// nothing (a root without an id yet shows none); the user-namespace probe builds, and removes at
// once, a scratch directory under <root>/tmp, and mounts nothing anywhere. The text view is
// rendered from the same versioned JSON that `-o json` prints.

import { arch, availableParallelism, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_PARENT_NAME, inspectCgroups, MANAGED_V2_CONTROLLERS, type CgroupInspection } from '../../drivers/cgroups/index.js';
import { ownerRole } from '../../drivers/cgroups/owner.js';
import { readChosenSubnet } from '../../drivers/network/bridge/default-network.js';
import { ipForwarding } from '../../drivers/network/bridge/host-facts.js';
import { formatSubnet } from '../../manifest/ipv4.js';
import { missingTools } from '../../drivers/network/bridge/tools.js';
import { storageLimitSupport, summarizeSupport, type QuotaSupport } from '../../drivers/overlay/index.js';
import { probeIdmap } from '../../drivers/namespaces/idmap-probe.js';
import type { IdPool } from '../../reconciler/user-ranges.js';
import { layout as stateLayout } from '../../state/layout.js';
import { readPool, subidConfig } from '../../state/subid-pool.js';
import { readRootId } from '../../state/root-id.js';
import { contextFrom, DEFAULT_ROOT, outputFormat, type CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { cgroupParentFor, networkNamesFor } from '../open-host.js';

export const INFO_FORMAT_VERSION = 1;

type ParentState = 'absent' | 'corral' | 'foreign' | 'unmarked (no xattr support)';

/** Where the parent's name came from: a CORRAL_CGROUP_PARENT left set in a shell shows here. */
export type ParentSource = 'option' | 'env' | 'default' | 'root-id';

const PARENT_SOURCE_TEXT: Record<ParentSource, string> = {
  option: 'from --cgroup-parent',
  env: 'from CORRAL_CGROUP_PARENT',
  default: 'the default for the default state root',
  'root-id': 'named after the root id',
};

export interface InfoReport {
  readonly formatVersion: number;
  readonly host: {
    readonly hostname: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly kernel: string;
    readonly arch: string;
    readonly cpus: number;
    readonly memoryBytes: number;
    readonly node: string;
    /** How this command started: from the CLI's startup snapshot (bin/corral), or module by module. */
    readonly cliStart: 'snapshot' | 'modules';
  };
  /** Whether `spec.storage.size` can be enforced on this state root (project quotas), and why not. */
  readonly storage: QuotaSupport;
  /**
   * User namespaces (docs/security.md): whether an idmapped root builds on this state root (the
   * probe), so manifests that leave `namespaces.user` out get one, and corral's id pool.
   */
  readonly userNamespaces: {
    readonly available: boolean;
    readonly detail: string;
    /** What a manifest without `namespaces.user` gets. */
    readonly default: 'auto' | 'none';
    /** corral's entry in the subuid/subgid files (as it is or as it will be appended); null with the reason when unusable. */
    readonly pool: IdPool | null;
    readonly poolFiles: string;
    readonly poolProblem: string | null;
  };
  /** The state root and its id (null until its first use): the id marks its cgroups and names its default parent. */
  readonly root: {
    readonly path: string;
    readonly id: string | null;
  };
  readonly cgroups: {
    readonly layout: CgroupInspection['layout']['kind'];
    readonly backend: CgroupInspection['backend'];
    readonly unified: CgroupInspection['layout']['unified'];
    /** controller → where it lives and its mount point. */
    readonly controllers: Readonly<Record<string, { readonly on: 'v1' | 'v2'; readonly mountPoint: string; readonly managed: boolean }>>;
    /** null: the root has no id yet, and its parent is named after it at first use. */
    readonly parentName: string | null;
    readonly parentSource: ParentSource;
    readonly parents: ReadonlyArray<{ readonly hierarchy: string; readonly dir: string; readonly state: ParentState }>;
    readonly delegated: CgroupInspection['parents']['delegated'];
    readonly features: CgroupInspection['capabilities']['features'];
    readonly cpus: string | null;
    readonly mems: string | null;
  };
  /** Bridge networking (docs/network.md): the tools it needs, the default network, forwarding. */
  readonly network: {
    readonly bridgeAvailable: boolean;
    /** Missing tools, with their Debian package. */
    readonly missing: readonly string[];
    /** null: the root has no id yet, and the names follow it at first use. */
    readonly bridge: string | null;
    readonly table: string | null;
    /** null: chosen at the first bridged container (the first /24 of 10.89.0.0/16 no route covers). */
    readonly subnet: string | null;
    readonly ipForward: boolean;
  };
}

function parentState(dir: string): ParentState {
  const role = ownerRole(dir);
  if (role === 'missing') return 'absent';
  if (role === 'parent') return 'corral';
  return role === 'unsupported' ? 'unmarked (no xattr support)' : 'foreign';
}

/** `parentOption`: from `--cgroup-parent`; otherwise the root's own (host.ts › cgroupParentFor). */
export async function buildInfo(ctx: CliContext, parentOption?: string): Promise<InfoReport> {
  const facts = ctx.host();
  const rootId = readRootId(stateLayout(ctx.root));
  const parentName = parentOption ?? cgroupParentFor(ctx.root, rootId);
  // The order of cgroupParentFor's own choice.
  const parentSource: ParentSource = parentOption !== undefined ? 'option' : process.env['CORRAL_CGROUP_PARENT'] ? 'env' : ctx.root === DEFAULT_ROOT ? 'default' : 'root-id';
  const inspection = inspectCgroups({ parentName: parentName ?? DEFAULT_PARENT_NAME });
  const { layout, parents, capabilities, backend } = inspection;
  const controllers: Record<string, { on: 'v1' | 'v2'; mountPoint: string; managed: boolean }> = {};
  for (const [c, on] of Object.entries(layout.controllers)) {
    controllers[c] = on === 'v1'
      ? { on, mountPoint: layout.v1[c]!.mountPoint, managed: parents.v1[c] !== undefined }
      : { on, mountPoint: layout.unified!.mountPoint, managed: backend === 'v2' && (MANAGED_V2_CONTROLLERS as readonly string[]).includes(c) };
  }
  const parentDirs: Array<{ hierarchy: string; dir: string; state: ParentState }> = [];
  const seen = new Set<string>();
  for (const [c, dir] of Object.entries(parents.v1)) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    parentDirs.push({ hierarchy: c, dir, state: parentState(dir) });
  }
  if (parents.unified) parentDirs.push({ hierarchy: 'cgroup2', dir: parents.unified, state: parentState(parents.unified) });
  if (parentName === null) parentDirs.length = 0;
  return {
    formatVersion: INFO_FORMAT_VERSION,
    host: {
      hostname: facts.hostname,
      labels: facts.labels,
      kernel: release(),
      arch: arch(),
      cpus: availableParallelism(),
      memoryBytes: totalmem(),
      node: process.version,
      cliStart: process.execArgv.includes('--snapshot-blob') ? 'snapshot' : 'modules',
    },
    storage: storageLimitSupport(ctx.root),
    userNamespaces: await userNamespaceInfo(ctx.root),
    network: networkInfo(ctx.root, rootId),
    root: { path: ctx.root, id: rootId },
    cgroups: {
      layout: layout.kind,
      backend,
      unified: layout.unified,
      controllers,
      parentName,
      parentSource,
      parents: parentDirs,
      delegated: parents.delegated,
      features: capabilities.features,
      cpus: capabilities.cpus,
      mems: capabilities.mems,
    },
  };
}

async function userNamespaceInfo(root: string): Promise<InfoReport['userNamespaces']> {
  const probe = probeIdmap(root);
  const config = subidConfig(process.env);
  let pool: IdPool | null = null;
  let poolProblem: string | null = null;
  try {
    pool = (await readPool(config)).pool;
  } catch (err) {
    poolProblem = err instanceof Error ? err.message : String(err);
  }
  return {
    available: probe.ok, detail: probe.detail, default: probe.ok ? 'auto' : 'none',
    pool, poolFiles: `\`${config.name}\` in ${config.subuidFile}, ${config.subgidFile}`, poolProblem,
  };
}

function networkInfo(root: string, rootId: string | null): InfoReport['network'] {
  const missing = missingTools();
  const names = rootId === null ? null : networkNamesFor(root, rootId);
  const subnet = readChosenSubnet(join(stateLayout(root).root, 'network', 'default.json'));
  return {
    bridgeAvailable: missing.length === 0, missing, bridge: names?.bridge ?? null, table: names?.table ?? null,
    subnet: subnet ? formatSubnet(subnet) : null, ipForward: ipForwarding(),
  };
}

const LAYOUT_TEXT: Record<InfoReport['cgroups']['layout'], string> = {
  v2: 'cgroup2 only (unified)',
  v1: 'cgroup v1 only',
  hybrid: 'hybrid: v1 controllers plus a cgroup2 tree',
  none: 'no cgroup filesystem mounted',
};

export function renderInfo(r: InfoReport, style: CliContext['style']): string {
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const c = r.cgroups;
  const out = [
    style('bold', 'host'),
    `  hostname   ${r.host.hostname}${Object.keys(r.host.labels).length ? `  (${Object.entries(r.host.labels).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`,
    `  kernel     ${r.host.kernel} (${r.host.arch}), ${r.host.cpus} CPUs, ${gib(r.host.memoryBytes)}`,
    `  node       ${r.host.node} (CLI started ${r.host.cliStart === 'snapshot' ? 'from its startup snapshot' : 'module by module'})`,
    `  storage    writable-layer size limits: ${r.storage.available ? `${style('green', 'yes')}, ${summarizeSupport(r.storage)}` : `${style('red', 'no')}: ${summarizeSupport(r.storage)}; ${r.storage.hint}`}`,
    style('bold', 'user namespaces'),
    `  available  ${r.userNamespaces.available ? style('green', 'yes') : style('red', 'no')}: ${r.userNamespaces.detail}`,
    `  default    ${r.userNamespaces.default === 'auto' ? 'on (`auto`) for manifests that leave `namespaces.user` out and have a network of their own (`network.mode: none`)' : 'off: manifests that leave `namespaces.user` out run without one'}`,
    `  pool       ${r.userNamespaces.pool ? `host ids ${r.userNamespaces.pool.start}-${r.userNamespaces.pool.start + r.userNamespaces.pool.count - 1} (${r.userNamespaces.pool.count / 65536} slots of 65536)` : style('red', r.userNamespaces.poolProblem ?? 'none')}; ${r.userNamespaces.poolFiles}`,
    style('bold', 'state root'),
    `  path       ${r.root.path}`,
    `  id         ${r.root.id ?? style('dim', 'none yet (created at first use)')}`,
    style('bold', 'bridge networking'),
    `  tools      ${r.network.bridgeAvailable ? style('green', 'yes') : `${style('red', 'no')}: missing ${r.network.missing.join(', ')}`}`,
    `  bridge     ${r.network.bridge === null ? style('dim', 'named after the root id at first use') : `${r.network.bridge}, nftables table inet ${r.network.table}`}`,
    `  subnet     ${r.network.subnet ?? style('dim', 'chosen at the first bridged container')}`,
    `  forwarding net.ipv4.ip_forward ${r.network.ipForward ? 'on' : 'off (turned on with the first bridged container)'}`,
    style('bold', 'cgroups'),
    `  layout     ${LAYOUT_TEXT[c.layout]}${c.unified ? `; cgroup2 at ${c.unified.mountPoint}${c.unified.nsdelegate ? ' (nsdelegate)' : ''}` : ''}`,
    `  backend    ${c.backend}${c.backend === 'v1' && c.unified ? ' (joins the cgroup2 tree to freeze and kill)' : ''}`,
    `  cpuset     cpus ${c.cpus ?? '?'}, mems ${c.mems ?? '?'}`,
    `  delegated  ${c.delegated ? `yes: systemd unit ${c.delegated.unitDir}, agent leaf ${c.delegated.leafDir}` : 'no'}`,
    c.parentName === null
      ? style('bold', 'parent: named after the root id at first use')
      : `${style('bold', `parent \`${c.parentName}\``)} ${style('dim', `(${PARENT_SOURCE_TEXT[c.parentSource]})`)}`,
    ...c.parents.map((p) => `  ${p.hierarchy.padEnd(10)} ${p.dir}  ${p.state === 'foreign' ? style('red', p.state) : style('dim', p.state)}`),
    style('bold', 'controllers'),
    ...Object.entries(c.controllers).map(([name, x]) => `  ${name.padEnd(10)} ${x.on}  ${x.mountPoint}${x.managed ? '' : style('dim', '  (not managed by corral)')}`),
    style('bold', 'knobs'),
    ...Object.entries(c.features).map(([name, s]) => s.available
      ? `  ${style('green', 'yes')} ${name.padEnd(18)} ${style('dim', s.via)}`
      : `  ${style('red', 'no ')} ${name.padEnd(18)} ${s.reason}`),
  ];
  return out.join('\n');
}

export function infoCommand(): Command {
  return new Command('info')
    .description('show host facts, whether containers get a user namespace, and what its cgroups can enforce (layout, controllers, knobs); changes nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--cgroup-parent <name>', `corral's parent cgroup name (default: env CORRAL_CGROUP_PARENT, else \`${DEFAULT_PARENT_NAME}\` for the default root and \`${DEFAULT_PARENT_NAME}-<root id>\` for others)`)
    .action(async (opts: { output?: string; cgroupParent?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const report = await buildInfo(ctx, opts.cgroupParent);
      ctx.out(format === 'json' ? JSON.stringify(report, null, 2) : renderInfo(report, ctx.style));
      process.exitCode = EXIT.OK;
    });
}
