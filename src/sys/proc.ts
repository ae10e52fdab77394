// /proc readers for process identity: a pid plus its start time (field 22 of /proc/<pid>/stat,
// clock ticks since boot) names one process for its whole life, so a reused pid is never
// mistaken for the one a record holds (crun's libcrun_check_pid_valid).

import { readFileSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  /** One-letter state: R, S, D, Z (zombie), T... */
  readonly state: string;
  readonly ppid: number;
  readonly startTime: number;
  /** Field 9: PF_* flags; PF_EXITING (0x4) is set from the start of exit. */
  readonly flags: number;
}

/** Whether a process of that pid exists (any owner): signal 0, EPERM counting as alive. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Parses /proc/<pid>/stat; null when the process does not exist. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parentheses: count fields from the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), flags: Number(rest[6]), startTime: Number(rest[19]) };
}

/** True when pid is alive, not a zombie, and started at `startTime`. */
export function sameProcess(pid: number, startTime: number): boolean {
  const st = procStat(pid);
  return st !== null && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

const PF_EXITING = 0x4;

/** Like sameProcess, and not yet exiting (its files may already be closed while it exits). */
export function isRunningNotExiting(p: { readonly pid: number; readonly startTime: number }): boolean {
  const st = procStat(p.pid);
  return st !== null && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X' && (st.flags & PF_EXITING) === 0;
}

/** This process's capability bounding set (CapBnd of /proc/self/status). */
export function hostCapabilityMask(): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}
