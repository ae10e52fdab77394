// A state root's identity: a random id in `<root>/root-id`, written once and never changed. What
// corral creates outside its root carries it (the cgroups' ownership marks), so two roots on one
// host never take each other's cgroups for their own, and a root's default cgroup parent is named
// after it (src/cli/open-host.ts).
//
// Created without a window: the id goes to a temp file (fsynced), which is then hard-linked to
// `root-id`. link(2) fails with EEXIST when another process got there first, so two corrals
// starting at once on a fresh root agree on the first id written, and a reader never sees a torn
// file (rename would replace one id with another).

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { link, mkdir, open, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CorralError } from '../errors.js';
import { syncDirectory } from './atomic-write.js';
import type { Layout } from './layout.js';

/** 128 random bits in lower-case hex. */
export const ROOT_ID_PATTERN = /^[0-9a-f]{32}$/;
/** Characters of the id in a derived cgroup parent name (`corral-<short id>`). */
export const SHORT_ROOT_ID_LENGTH = 8;

export function shortRootId(id: string): string {
  return id.slice(0, SHORT_ROOT_ID_LENGTH);
}

/** The root's id, or null when it has none yet. STATE_CORRUPT when the file holds something else. */
export function readRootId(layout: Pick<Layout, 'rootIdFile'>): string | null {
  let text: string;
  try {
    text = readFileSync(layout.rootIdFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CorralError('STATE_CORRUPT', `read the root id \`${layout.rootIdFile}\`: ${(err as Error).message}`, { cause: err });
  }
  const id = text.trim();
  if (!ROOT_ID_PATTERN.test(id)) {
    throw new CorralError('STATE_CORRUPT', `the root id \`${layout.rootIdFile}\` holds \`${id.slice(0, 40)}\`, not 32 hex digits`, {
      detail: 'the id marks this root\'s cgroups; corral never replaces it, as a new one would disown the running containers',
      hint: 'restore the file from a backup, or read the id from a container cgroup\'s `trusted.corral.owner` xattr (`container:<id>`)',
    });
  }
  return id;
}

const TEMP_PREFIX = '.root-id.tmp-';

/** Temp files of processes that died between writing and linking them. */
async function removeDeadTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(TEMP_PREFIX.length).split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(join(dir, name), { force: true });
  }
}

/** The root's id, created (once, see above) when the root has none. */
export async function ensureRootId(layout: Pick<Layout, 'root' | 'rootIdFile'>): Promise<string> {
  const existing = readRootId(layout);
  if (existing !== null) return existing;
  const dir = dirname(layout.rootIdFile);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeDeadTemps(dir);
  const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  const file = await open(temp, 'wx', 0o644);
  try {
    await file.writeFile(`${randomBytes(16).toString('hex')}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(temp, layout.rootIdFile);
  } catch (err) {
    // Another corral created it first: its id wins, ours is dropped.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new CorralError('STATE_CORRUPT', `create the root id \`${layout.rootIdFile}\`: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dir);
  const id = readRootId(layout);
  if (id === null) throw new CorralError('INTERNAL', `the root id \`${basename(layout.rootIdFile)}\` vanished right after it was created in \`${dir}\``);
  return id;
}
