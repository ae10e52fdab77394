// Process identity from /proc: a pid alone can be reused; pid plus start time (field 22 of
// /proc/<pid>/stat, in clock ticks since boot) names one process for its whole life.

import { readFileSync } from 'node:fs';

export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

/** True when `pid` is alive and is the same process that had `startTime`. */
export function sameProcess(pid: number, startTime: number): boolean {
  return processStartTime(pid) === startTime;
}
