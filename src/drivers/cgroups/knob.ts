// Reading and writing cgroup control files. Every failure names the file, the value and the errno
// (runc's WriteFile does the same), so a refused write reads like
// "write `50` to `/sys/fs/cgroup/pids/corral/web/pids.max`: EINVAL (invalid argument)".
//
// Control files are kernel memory: a read or write takes microseconds, far less than a hop through
// libuv's thread pool (which is shared, and measured here at 0.1-3 ms per call on a loaded host),
// so they are done synchronously. The exception is a pid write into `cgroup.procs`, which can wait
// for an RCU grace period (~8 ms; docs/architecture.md, "Calling the kernel from Node"): it goes
// through the pool so the loop keeps running.

import { writeFile } from 'node:fs/promises';
import { accessSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CorralError } from '../../errors.js';

/**
 * `dir`/`name` for a bare name under a directory that came from join: join's normalization walks
 * and copies the path on every call, and a pass reads ten knobs of each of 1,000 containers.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  // Node's message is "EBUSY: resource busy or locked, open '…'": keep the errno and its text only.
  const text = typeof e?.message === 'string' ? e.message.split(',')[0]!.replace(/^[A-Z]+: /, '') : String(err);
  return e?.code ? `${e.code} (${text})` : text;
}

export async function writeKnob(dir: string, file: string, value: string): Promise<void> {
  const path = childPath(dir, file);
  try {
    // One write(2) per value: cgroup files parse each write separately, so never split or append.
    if (file === 'cgroup.procs' || file === 'tasks') await writeFile(path, value, { flag: 'w' });
    else writeFileSync(path, value, { flag: 'w' });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' && existsSync(dir)) {
      throw new CorralError('CGROUP_KNOB_UNAVAILABLE', `cgroup knob \`${path}\` does not exist on this host`, {
        detail: `tried to write \`${value}\``,
        cause: err,
      });
    }
    throw new CorralError('CGROUP_WRITE_FAILED', `write \`${value.trim()}\` to \`${path}\`: ${describe(err)}`, { cause: err });
  }
}

/** The file's content without the trailing newline. */
export async function readKnob(dir: string, file: string): Promise<string> {
  const path = childPath(dir, file);
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' && !existsSync(dir)) throw new CorralError('CGROUP_GONE', `cgroup \`${dir}\` does not exist`, { cause: err });
    throw new CorralError('CGROUP_READ_FAILED', `read \`${path}\`: ${describe(err)}`, { cause: err });
  }
}

/**
 * Knob names found missing: a knob the kernel lacks is missing from every cgroup of the host
 * (`blkio.weight` without the BFQ scheduler), and the ENOENT a read throws (an error and its
 * stack) cost more than asking first, for every container a resync reads. Asking first is only a
 * shortcut: a knob that appears later (a scheduler loaded) is read again.
 */
const missingKnobs = new Set<string>();

/** Like readKnob, but null when the file does not exist (a knob this kernel lacks). */
export async function readOptionalKnob(dir: string, file: string): Promise<string | null> {
  const path = childPath(dir, file);
  if (missingKnobs.has(file) && !existsSync(path)) return null;
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENODEV') {
      // Learnt only from a cgroup that exists: a directory removed under the read says nothing
      // of which knobs this kernel has.
      if (errno === 'ENOENT' && existsSync(dir)) missingKnobs.add(file);
      return null;
    }
    throw new CorralError('CGROUP_READ_FAILED', `read \`${path}\`: ${describe(err)}`, { cause: err });
  }
}

export function readKnobSync(dir: string, file: string): string | null {
  try {
    return readFileSync(childPath(dir, file), 'utf8').replace(/\n$/, '');
  } catch {
    return null;
  }
}

export async function knobExists(dir: string, file: string): Promise<boolean> {
  try {
    accessSync(childPath(dir, file));
    return true;
  } catch {
    return false;
  }
}

/** Child cgroups of a directory: its subdirectories (control files are regular files). */
export async function childCgroups(dir: string): Promise<string[]> {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw new CorralError('CGROUP_READ_FAILED', `list \`${dir}\`: ${describe(err)}`, { cause: err });
  }
}

/** Pids listed in a `cgroup.procs` (or `tasks`) file. */
export async function readPids(dir: string, file = 'cgroup.procs'): Promise<number[]> {
  const text = await readOptionalKnob(dir, file);
  return text ? text.split('\n').filter(Boolean).map(Number) : [];
}

export { describe as describeFsError };
