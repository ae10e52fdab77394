// `corral ps` as text: memory in the units every other command prints (`9.4 MiB`), never the
// manifest quantities of the kernel's counters (`9604Ki`).

import { describe, expect, test } from '@jest/globals';
import { cpuOfThisRun, renderPs, statusText, type PsRow } from '../../src/cli/commands/ps.js';
import type { Styler } from '../../src/cli/style.js';

const plain: Styler = Object.assign((_color: string, text: string) => text, { enabled: false });

const row = (name: string, memoryBytes: number | null): PsRow => ({
  name, status: 'running', pid: 4242, uptimeSeconds: 65, restarts: 0, lastExit: null, memoryBytes, cpuSeconds: 0.25,
  image: 'host', ports: [], health: null, healthAgeSeconds: null, healthStale: false, restartInSeconds: null, error: null,
});

function memoryColumn(rows: PsRow[]): string[] {
  const [header, ...lines] = renderPs(rows, plain).split('\n');
  const at = header!.indexOf('MEMORY');
  return lines.map((l) => l.slice(at).split(/ {2,}/)[0]!);
}

describe('corral ps memory', () => {
  test('human units at every size, like df and image ls', () => {
    expect(memoryColumn([row('a', 9834496), row('b', 512), row('c', 1536), row('d', 3 * 2 ** 30), row('e', null)]))
      .toEqual(['9.4 MiB', '512 B', '1.5 KiB', '3.0 GiB', '-']);
  });
});

describe('CPU of this run', () => {
  test('the cgroup outlives a stop and a start: its usage before this run is not shown', () => {
    expect(cpuOfThisRun(12.5, 10)).toBeCloseTo(2.5);
    // Records of older corral have no baseline; a cgroup made anew reads below an old one.
    expect(cpuOfThisRun(12.5, null)).toBe(12.5);
    expect(cpuOfThisRun(1, 10)).toBe(1);
    expect(cpuOfThisRun(null, 3)).toBeNull();
  });
});

describe('status text', () => {
  const base = row('web', 1);
  test('health with its age, stale without an agent; a restart waiting for its backoff', () => {
    expect(statusText({ ...base, health: 'healthy', healthAgeSeconds: 12 })).toBe('running (healthy, 12s ago)');
    expect(statusText({ ...base, health: 'starting', healthStale: true })).toBe('running (starting; stale: no agent checks it)');
    expect(statusText({ ...base, status: 'exited', pid: null, restarts: 2, restartInSeconds: 18 })).toBe('exited, restarting in 18s (3rd)');
    expect(statusText({ ...base, status: 'crashloop', pid: null, restarts: 10, restartInSeconds: 300 })).toBe('crashloop, restarting in 5m (11th)');
    expect(statusText({ ...base, status: 'stopped', pid: null })).toBe('stopped');
  });
});
