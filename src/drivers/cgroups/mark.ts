// Ownership marks: which cgroup directories are corral's, and which state root's.
//
// Every directory corral creates gets the xattr `trusted.corral.owner` = `<role>:<root id>`
// (`container:3f2a…`), or `<role>` alone when made without a root (tests, benches on a parent of
// their own) or by a corral from before root ids. Only root can set `trusted.*`, so a container
// cannot fake one. An Owner is the state root acting:
//
//   mark on the directory      scoped Owner (a root id)              unscoped Owner (no root)
//   <role>:<our id>            own                                   own
//   <role> (no id)             legacy: ours only if a state record   own
//                              of this root names it (the caller's
//                              to know); stamped when adopted
//   <role>:<another id>        other-root: never touched             own
//   none / another role        foreign: never touched                foreign
//
// A parent (`parent`) or the agent's leaf (`agent`) is shared by every root configured to use it,
// whatever id it carries. Where the filesystem keeps no xattrs (old v1 mounts without the `xattr`
// option) the parent's name is the only evidence (`unsupported`), and `corral info` says so.

import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CorralError, isSyscallError } from '../../errors.js';
import { getXattr, isXattrUnsupported, setXattr } from '../../sys/xattr.js';
import { describeFsError, errnoOf } from './knob.js';

export const OWNER_XATTR = 'trusted.corral.owner';

/** `leaf`: one of the two cgroups inside a container's (handle.ts › LEAVES). */
export type OwnerRole = 'parent' | 'container' | 'leaf' | 'agent';
const ROLES: readonly string[] = ['parent', 'container', 'leaf', 'agent'];

export interface OwnerMark {
  readonly role: OwnerRole;
  readonly rootId: string | null;
}

export type Claim = 'own' | 'legacy' | 'other-root' | 'foreign' | 'unsupported' | 'missing';

export function parseMark(value: string): OwnerMark | null {
  const [role, rootId, extra] = value.trim().split(':');
  if (role === undefined || !ROLES.includes(role) || extra !== undefined || rootId === '') return null;
  return { role: role as OwnerRole, rootId: rootId ?? null };
}

export function formatMark(mark: OwnerMark): string {
  return mark.rootId === null ? mark.role : `${mark.role}:${mark.rootId}`;
}

/** The mark on a directory; `unsupported` when its filesystem keeps no xattrs; null when it has none of corral's. */
export function readMark(dir: string): OwnerMark | 'unsupported' | 'missing' | null {
  try {
    const v = getXattr(dir, OWNER_XATTR);
    return v === null ? null : parseMark(v);
  } catch (err) {
    if (isSyscallError(err) && isXattrUnsupported(err.errnoName)) return 'unsupported';
    if (isSyscallError(err, 'ENOENT')) return 'missing';
    throw err;
  }
}

/** The role recorded on a directory, whatever root made it. */
export function ownerRole(dir: string): OwnerRole | 'unsupported' | 'missing' | null {
  const mark = readMark(dir);
  return mark !== null && typeof mark === 'object' ? mark.role : mark;
}

function describeMark(dir: string): string {
  try {
    return getXattr(dir, OWNER_XATTR) ?? '';
  } catch {
    return '';
  }
}

/**
 * The mark, waiting a little when there is none, for a directory whose mkdir just failed with
 * EEXIST: another corral (a `ps` beside the agent) may be between its mkdir and its setxattr of
 * the same directory, and a directory seen in that window is not foreign (this race once failed an
 * agent test with `CGROUP_NOT_OWNED`). A truly foreign directory costs 100 ms more there, on the
 * way to an error; every other check reads the mark once.
 */
function settledMark(dir: string): OwnerMark | 'unsupported' | 'missing' | null {
  let mark = readMark(dir);
  for (let i = 0; mark === null && i < 10; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    mark = readMark(dir);
  }
  return mark;
}

/** A cgroup directory with no process and no child cgroup (false when it cannot be read). */
function emptyCgroup(dir: string): boolean {
  try {
    if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') return false;
    return !readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

export class Owner {
  /** `rootId` null: no root in particular; every root's directories count as its own. */
  constructor(readonly rootId: string | null) {}

  /** How `dir` relates to this owner, for a directory of `role` (table above). */
  claim(dir: string, role: OwnerRole, settle = false): Claim {
    const mark = settle ? settledMark(dir) : readMark(dir);
    if (mark === 'unsupported' || mark === 'missing') return mark;
    if (mark === null || mark.role !== role) return 'foreign';
    if (role === 'parent' || role === 'agent' || this.rootId === null || mark.rootId === this.rootId) return 'own';
    return mark.rootId === null ? 'legacy' : 'other-root';
  }

  mark(dir: string, role: OwnerRole): void {
    try {
      setXattr(dir, OWNER_XATTR, formatMark({ role, rootId: this.rootId }));
    } catch (err) {
      if (isSyscallError(err) && isXattrUnsupported(err.errnoName)) return;
      throw new CorralError('CGROUP_WRITE_FAILED', `mark \`${dir}\` as corral's: ${(err as Error).message}`, { cause: err });
    }
  }

  notOwned(dir: string, role: OwnerRole, claim: Claim): CorralError {
    const found = describeMark(dir);
    if (claim === 'other-root') {
      return new CorralError('CGROUP_NOT_OWNED', `cgroup \`${dir}\` belongs to another corral state root`, {
        detail: `its \`${OWNER_XATTR}\` mark is \`${found}\`; this root's id is \`${this.rootId}\``,
        hint: 'each state root needs a cgroup parent of its own (the default is derived from the root); do not point two roots at one `CORRAL_CGROUP_PARENT`',
      });
    }
    return new CorralError('CGROUP_NOT_OWNED', `cgroup \`${dir}\` exists but corral did not create it`, {
      detail: found === '' ? `it has no \`${OWNER_XATTR}\` mark; expected \`${role}\`` : `its \`${OWNER_XATTR}\` mark is \`${found}\`, expected \`${role}\``,
      hint: 'choose another cgroup parent name, or remove the directory (rmdir) if it is a leftover of corral',
    });
  }

  /**
   * Refuses a directory that is not this owner's: a directory of a handle the caller holds (its
   * own state record's) may also be legacy, and a missing one is a partial create.
   */
  assert(dir: string, role: OwnerRole): void {
    const claim = this.claim(dir, role);
    if (claim === 'own' || claim === 'legacy' || claim === 'unsupported' || claim === 'missing') return;
    throw this.notOwned(dir, role, claim);
  }

  /** Marks a legacy directory with this root's id; true when it did. */
  stamp(dir: string, role: OwnerRole): boolean {
    if (this.rootId === null || this.claim(dir, role) !== 'legacy') return false;
    this.mark(dir, role);
    return true;
  }

  /**
   * Creates a cgroup directory and marks it, or accepts an existing one that carries this owner's
   * mark (stamping a legacy one: the caller acts for a state record that names it). Returns true
   * when this call created it.
   */
  async ensureDir(dir: string, role: OwnerRole): Promise<boolean> {
    try {
      mkdirSync(dir);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') {
        throw new CorralError('CGROUP_WRITE_FAILED', `create cgroup \`${dir}\`: ${describeFsError(err)}`, { cause: err });
      }
      // EEXIST: made before, or by another corral this very moment (its mark may be coming).
      const claim = this.claim(dir, role, true);
      if (claim === 'legacy') this.mark(dir, role);
      else if (claim === 'missing') throw new CorralError('CGROUP_WRITE_FAILED', `cgroup \`${dir}\` vanished while being created`);
      else if (claim !== 'own' && claim !== 'unsupported') throw this.notOwned(dir, role, claim);
      return false;
    }
    this.mark(dir, role);
    return true;
  }

  /**
   * An unmarked, empty cgroup directly under corral's own parent, as corral leaves one when it is
   * killed between the mkdir and the mark (two syscalls cannot be one). Whether it is corral's is
   * the caller's to know: the reconciler adopts one only for a container whose state record
   * journaled the intent to create it.
   */
  isAdoptable(dir: string): boolean {
    const parent = this.claim(dirname(dir), 'parent');
    if (readMark(dir) !== null || (parent !== 'own' && parent !== 'unsupported')) return false;
    return emptyCgroup(dir);
  }

  /**
   * Marks `dir` as a container cgroup of this owner when isAdoptable, and then any of its `leaves`
   * left unmarked and empty the same way (killed between the leaf's mkdir and its mark): only
   * corral makes directories beside a container's leaves. True when it marked anything.
   */
  adoptLeftover(dir: string, leaves: readonly string[] = []): boolean {
    // A container's first start has no directory yet: one syscall says so.
    if (readMark(dir) === 'missing') return false;
    let adopted = false;
    if (this.isAdoptable(dir)) {
      this.mark(dir, 'container');
      adopted = true;
    }
    if (this.claim(dir, 'container') !== 'own') return adopted;
    for (const leaf of leaves) {
      const path = join(dir, leaf);
      if (readMark(path) !== null || !emptyCgroup(path)) continue;
      this.mark(path, 'leaf');
      adopted = true;
    }
    return adopted;
  }
}

/** Tests, benches and tools on a parent of their own: every root's cgroups count. */
export const UNSCOPED = new Owner(null);
