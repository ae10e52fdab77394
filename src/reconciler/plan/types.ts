// The plan is a value (Terraform's plans.Plan): it can be printed, turned into JSON, tested
// without a kernel, and executed. Pure.

import type { IdPool } from '../user-ranges.js';
import type { Diagnostic } from '../../errors.js';
import type { ManifestSet } from '../../manifest/manifest-set.js';
import type { NetworkDefinition } from '../../manifest/network.js';
import type { ContainerSpec, SpecOrigin, UserNamespace } from '../../manifest/spec.js';
import type { ContainerRecord, ExitRecord, Json } from '../../state/record.js';
import type { PullStep } from './pulls.js';
import type { Reason } from './reasons.js';

export type { PullStep } from './pulls.js';
export type { Reason, ReasonCode } from './reasons.js';

/** 2: reasons are `{code, text}` (./reasons.ts), no longer bare strings. */
export const PLAN_FORMAT_VERSION = 2;

/** One closed set of actions, each with its symbol in the human view. */
export const ACTIONS = {
  create: '+',
  start: '>',
  update: '~',
  restart: '↻',
  recreate: '±',
  stop: '■',
  remove: '-',
  none: ' ',
} as const;
export type Action = keyof typeof ACTIONS;

/**
 * What a changed field costs. `record`: only corral's record changes (labels, restart policy);
 * `live`: applied to the running container's cgroup; `restart`: the process must restart (the
 * writable layer is kept); `recreate`: everything is rebuilt (the writable layer is discarded).
 */
export type Effect = 'record' | 'live' | 'restart' | 'recreate';
export const EFFECT_RANK: Readonly<Record<Effect, number>> = { record: 0, live: 1, restart: 2, recreate: 3 };

export interface FieldDiff {
  /** Dotted path in ContainerSpec (`resources.memoryBytes`), or `references.image`. */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly effect: Effect;
}

export interface Change {
  readonly name: string;
  readonly action: Action;
  /**
   * Why: a code from a closed set, and the words for people. Explains only: apply never reads it;
   * events, metrics and summaries switch on `code`, and only views read `text`.
   */
  readonly reasons: readonly Reason[];
  readonly diff: readonly FieldDiff[];
  /** The last applied spec (null: none). */
  readonly before: ContainerSpec | null;
  /** The spec to apply (null for stop/remove/none of an undesired container). */
  readonly after: ContainerSpec | null;
  readonly afterHash: string | null;
  readonly afterReferences: Readonly<Record<string, string>>;
  readonly origin: SpecOrigin | null;
  /** Fields that force a restart or recreate. Explains only: apply never reads it. */
  readonly requiresReplace: readonly string[];
  /** For `none` while a restart waits for its backoff: when to look again. */
  readonly notBefore: string | null;
  /** Things a reviewer should see (privileged, risky capabilities). */
  readonly warnings: readonly string[];
}

export type OrphanKind = 'shim' | 'network' | 'cgroup' | 'rootfs';

/** Something corral owns on the host that no record explains (left by a crash between two steps). */
export interface Orphan {
  readonly kind: OrphanKind;
  readonly name: string;
  readonly detail: string;
}

export type NetworkAction = 'create' | 'update' | 'recreate' | 'remove' | 'none';

/**
 * What happens to one network (`kind: Network`). Networks are made before any container starts
 * and removed after every container stopped; a recreate restarts the containers that joined it.
 */
export interface NetworkChange {
  readonly name: string;
  readonly action: NetworkAction;
  readonly reasons: readonly Reason[];
  readonly before: NetworkDefinition | null;
  /** The definition to apply (null for remove, and for none of an undesired network). */
  readonly after: NetworkDefinition | null;
  readonly afterHash: string | null;
  readonly origin: SpecOrigin | null;
}

export interface Plan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  readonly createdAt: string;
  /** The state serial the plan was made against; apply refuses a plan when it moved. */
  readonly stateSerial: number;
  /** In dependency order: what others depend on comes first. Removals come in reverse order. */
  readonly changes: readonly Change[];
  /** Networks by name: created and updated before `changes`, removed after them. */
  readonly networks: readonly NetworkChange[];
  readonly orphans: readonly Orphan[];
  /** Images pulled from a registry by the starts among `changes` (./pulls.ts). */
  readonly pulls: readonly PullStep[];
  readonly diagnostics: readonly Diagnostic[];
  /** Some desired containers could not be planned (invalid manifests): their last spec stays. */
  readonly complete: boolean;
  /** The plan must not be applied (a refused prune, an internal inconsistency). */
  readonly errored: boolean;
}

/** What the host really runs for one container, as inspect found it. */
export interface LiveFacts {
  /**
   * `missing`: no process and no exit record (the shim is gone too). `unmonitored`: the process
   * runs but its monitor was killed: its exit would never be recorded.
   */
  readonly process: 'running' | 'unmonitored' | 'exited' | 'missing';
  /** The exit the shim recorded, when the process is not running. */
  readonly exit: ExitRecord | null;
  readonly cgroupPresent: boolean;
  /** Limits on the host that differ from the record's spec (a hand edit). */
  readonly drift: readonly FieldDiff[];
  readonly rootfsPresent: boolean;
  /** The runtime handle found on the host (it may be newer than the record's after a crash). */
  readonly runtime: Json | null;
  readonly startedAt: string | null;
}

export interface ActualContainer {
  readonly record: ContainerRecord;
  readonly live: LiveFacts;
}

/** A network the host has (the driver's record of what it applied). */
export interface ActualNetwork {
  readonly definition: NetworkDefinition;
  readonly hash: string;
  readonly origin: SpecOrigin | null;
}

export interface Actual {
  readonly containers: readonly ActualContainer[];
  /** Absent: none (a driver without named networks). */
  readonly networks?: readonly ActualNetwork[];
  readonly orphans: readonly Orphan[];
  readonly serial: number;
  /**
   * Containers whose state record is unreadable: the plan leaves them alone (no create, no start,
   * no removal, no orphan cleanup) until the record is repaired. Absent: none.
   */
  readonly unknown?: readonly string[];
}

export interface DesiredContainer {
  readonly spec: ContainerSpec;
  /** specHash(spec, references). */
  readonly hash: string;
  /** Digests of referenced content (`image`, `seccomp`). */
  readonly references: Readonly<Record<string, string>>;
  readonly origin: SpecOrigin;
  /** Host checks at plan time (a cgroup knob the host lacks): errors make it unplannable. */
  readonly hostDiagnostics: readonly Diagnostic[];
  /** The manifest leaves `namespaces.user` out: the plan settles it (./user-default.ts). */
  readonly userNamespaceByDefault?: boolean;
}

export interface DesiredNetwork {
  readonly definition: NetworkDefinition;
  readonly hash: string;
  readonly origin: SpecOrigin;
  /** Host checks at plan time (a subnet over a host route): errors keep it from being applied. */
  readonly hostDiagnostics: readonly Diagnostic[];
}

/**
 * The manifest set (src/manifest/manifest-set.ts) as the plan needs it: each container with the
 * digests it references and the host's checks; names of the valid manifests for other hosts.
 */
export type Desired = Pick<ManifestSet, 'invalidNames' | 'brokenFiles' | 'missing' | 'diagnostics'> & {
  readonly containers: readonly DesiredContainer[];
  /** Valid manifests that select other hosts. */
  readonly elsewhere: readonly string[];
  /** Absent: none. */
  readonly networks?: readonly DesiredNetwork[];
  readonly invalidNetworks?: readonly string[];
};

export interface PlanOptions {
  readonly now: Date;
  /** Allow pruning every container when the manifest set is empty or missing. */
  readonly allowEmpty: boolean;
  /**
   * corral's subordinate id pool (src/state/subid-pool.ts readPool): explicit user-namespace maps
   * that reach into it are refused. Absent or null: only maps overlapping each other are.
   */
  readonly userIdPool?: IdPool | null;
  /**
   * The user namespace a container whose manifest leaves `namespaces.user` out gets when it is
   * built: `auto` where the host's idmap probe passes. Absent or null: none.
   */
  readonly hostUserNamespace?: UserNamespace | null;
}
