// The files the shim writes in containers/<name>/shim: state.json once the command runs, exit.json
// when it has ended (both atomic: temp, fsync, rename), and alive.fifo, whose last writer is the
// monitor. Readers here never throw on a missing file: absence is an answer.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BoundedMemo } from '../../bounded-memo.js';
import { CorralError } from '../../errors.js';
import { signalName } from '../../manifest/signal.js';
import { SHIM_FILES } from './protocol-fields.js';
import { fileStamp } from '../../sys/file-stamp.js';

export interface ShimState {
  readonly version: 1;
  readonly name: string;
  readonly monitorPid: number;
  readonly monitorStartTime: number;
  readonly initPid: number;
  readonly initStartTime: number;
  readonly startedAtMs: number;
}

export interface ShimExitRecord {
  readonly version: 1;
  readonly initPid: number;
  /** Set when the command exited; null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: number | null;
  readonly signalName: string | null;
  readonly coreDumped: boolean;
  /** From the memory cgroup's oom_kill counter; null when the shim had no file to read it from. */
  readonly oomKilled: boolean | null;
  /**
   * True when the container ran with `init: true` and the init reported how the command ended:
   * exitCode and signal are then the command's (a command killed by SIGTERM shows SIGTERM, not the
   * init's code 143). Absent otherwise, also when the init itself was killed (a forced stop).
   */
  readonly init?: true;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

function readJson(path: string): unknown {
  // Asked first: exit.json is absent while a container runs, and a thrown ENOENT (an error and its
  // stack) cost more than the lookup, for every container an agent's resync reads.
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CorralError('STATE_CORRUPT', `\`${path}\` is not valid JSON`, { cause });
  }
}

/**
 * state.json as last parsed, by path, with the file's stamp: it is written once per start (a
 * rename, so a new inode), and an agent's resync asks for it for every container it reads in full.
 */
const shimStates = new BoundedMemo<string, { readonly stamp: string; readonly state: ShimState }>(10_000);

export function readShimState(shimDir: string): ShimState | null {
  const path = join(shimDir, SHIM_FILES.state);
  const stamp = fileStamp(path);
  if (stamp === null) {
    shimStates.delete(path);
    return null;
  }
  const known = shimStates.get(path);
  if (known?.stamp === stamp) return known.state;
  const v = readJson(path) as ShimState | undefined;
  if (!v) return null;
  shimStates.set(path, { stamp, state: v });
  return v;
}

export function readShimExitRecord(shimDir: string): ShimExitRecord | null {
  const v = readJson(join(shimDir, SHIM_FILES.exit)) as Omit<ShimExitRecord, 'signalName'> | undefined;
  if (!v) return null;
  return { ...v, signalName: v.signal === null ? null : signalName(v.signal) };
}

export function logPaths(logDir: string, maxFiles: number): string[] {
  const base = join(logDir, SHIM_FILES.containerLog);
  return [base, ...Array.from({ length: Math.max(0, maxFiles - 1) }, (_, i) => `${base}.${i + 1}`)];
}
