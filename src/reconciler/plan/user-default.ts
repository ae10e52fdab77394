// The user namespace of a manifest that does not set `namespaces.user`: the host's default
// (`auto` where the idmap probe passes, none where it fails), taken when the container is built —
// created or recreated. A container that exists keeps what it was built with until then, so an
// upgrade of corral that turns the default on restarts nothing. Pure.
//
// Only for a container that makes its own network namespace (network mode `none`): one made by
// the bridge driver, the host's, or another container's belongs to another user namespace, where
// root in the container holds no privilege (no port below 1024 on the host's network, no sysfs of
// its own, no raw socket), so it would not behave as the same manifest does without one. Those run
// without a user namespace unless their manifest asks for one.

import { DEFAULTS } from '../../manifest/defaults.js';
import { BoundedMemo } from '../../bounded-memo.js';
import { canonicalJson, sameJsonValue, specHash } from '../../manifest/hash.js';
import type { ContainerSpec, UserNamespace } from '../../manifest/spec.js';
import { poolSpec } from '../../manifest/spec-pool.js';
import type { ContainerRecord } from '../../state/record.js';
import type { DesiredContainer } from './types.js';

/** What the default could have given: none (before it was on) or `auto` of the default size. */
function isDefaultShaped(user: UserNamespace | null): boolean {
  return user === null || (user.kind === 'auto' && user.size === DEFAULTS.userNamespaceSize);
}

/**
 * Settled specs and their hashes, by the hash of the spec as written and the user namespace
 * settled: the agent settles every container at every pass, and hashing 1,000 specs again was a
 * fifth of a pass that found nothing to do (an equal hash is an equal spec, so the settled one is
 * shared).
 */
const settled = new BoundedMemo<string, { readonly spec: ContainerSpec; readonly hash: string }>(20_000);

/** A user namespace as text, equal for equal ones; the common shapes without a canonical JSON (a sort per object). */
function userKey(user: UserNamespace | null): string {
  if (user === null) return 'null';
  return user.kind === 'auto' ? `auto ${user.size}` : canonicalJson(user);
}

function withUser(d: DesiredContainer, user: UserNamespace | null): DesiredContainer {
  if (user === d.spec.namespaces.user) return d;
  const userText = userKey(user);
  if (userText === userKey(d.spec.namespaces.user)) return d;
  // d.hash covers the spec and its references: with the user namespace it decides the new hash.
  const key = `${d.hash}\n${userText}`;
  const known = settled.getOrMake(key, () => {
    const spec: ContainerSpec = { ...d.spec, namespaces: { ...d.spec.namespaces, user } };
    const hash = specHash(spec, d.references);
    return { spec: poolSpec(hash, spec), hash };
  });
  return { ...d, spec: known.spec, hash: known.hash };
}

/**
 * The record's spec and hash, when they are what settling `d` with the user namespace it has
 * gives: the common case of a plan, and no hash to compute (a fresh `corral plan` of 1,000
 * running containers spent 45 ms on them). A record's hash is specHash of its spec and
 * references (src/reconciler/apply/actions.ts writes them so, and the hash's compatibility rule
 * in src/manifest/hash.ts keeps older records' valid), except a repaired record's placeholder.
 */
function asRecorded(d: DesiredContainer, record: ContainerRecord): DesiredContainer | null {
  if (record.specUnknown) return null;
  let known = recordedAnswers.get(record);
  if (known?.hash !== d.hash) {
    const user = record.spec.namespaces.user ?? null;
    const spec = user === d.spec.namespaces.user ? d.spec : { ...d.spec, namespaces: { ...d.spec.namespaces, user } };
    known = { hash: d.hash, same: sameJsonValue(d.references, record.references) && sameJsonValue(spec, record.spec) };
    recordedAnswers.set(record, known);
  }
  return known.same ? { ...d, spec: record.spec, hash: record.hash } : null;
}

/**
 * asRecorded's last answer for a record, with the hash of the manifest it was asked for: an equal
 * hash is an equal spec and equal references as written, and the user namespace settled is the
 * record's own, so the answer holds. Records are immutable and an agent keeps those whose file
 * did not change (src/state/store.ts), so each pass asked again about the same pairs: walking 500
 * specs was a fifth of the CPU an idle agent used.
 */
const recordedAnswers = new WeakMap<ContainerRecord, { readonly hash: string; readonly same: boolean }>();

/**
 * `built`: the container is (re)built now and takes the host default; otherwise it keeps the
 * user namespace `record` has, when that is one the default could have given.
 */
export function settleUserNamespace(d: DesiredContainer, record: ContainerRecord | undefined, hostDefault: UserNamespace | null, built: boolean): DesiredContainer {
  if (!d.userNamespaceByDefault) return d;
  // A manifest moved to another network leaves a namespace it got by default (a recreate).
  if (!(d.spec.namespaces.network.kind === 'private' && d.spec.network.mode === 'none')) return withUser(d, null);
  const had = record?.spec.namespaces.user ?? null;
  if (!built && record && isDefaultShaped(had)) return asRecorded(d, record) ?? withUser(d, had);
  return withUser(d, hostDefault);
}
