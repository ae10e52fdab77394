// The agent's health checks: one check at a time per container (a slow check is not joined by a
// second one at every interval), and nothing left scheduled once the checker is disposed, so a
// stopping agent is not kept alive by its timers.

import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { HealthChecker } from '../../src/agent/health.js';
import type { HealthRecord } from '../../src/state/record.js';
import { desiredOne, recordFor } from '../support/plan-fixtures.js';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

function slowRuntime() {
  const finishers: Array<(r: { code: number; output: string }) => void> = [];
  const exec = jest.fn(() => new Promise<{ code: number; output: string }>((resolve) => finishers.push(resolve)));
  return { exec, finish: (code: number) => finishers.shift()!({ code, output: '' }) };
}

describe('HealthChecker', () => {
  test('a check still running when the next is due is not joined by another', async () => {
    const d = await desiredOne('h', 'healthcheck: {exec: [/bin/true], interval: 1s, timeout: 10s}');
    const runtime = slowRuntime();
    const seen: HealthRecord[] = [];
    const checker = new HealthChecker(runtime, (_name, h) => seen.push(h));
    checker.sync([recordFor(d, { runtime: {} })]);
    await jest.advanceTimersByTimeAsync(5_500);
    expect(runtime.exec).toHaveBeenCalledTimes(1);
    runtime.finish(0);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(seen.map((h) => h.status)).toEqual(['healthy']);
    expect(runtime.exec).toHaveBeenCalledTimes(2);
    checker.dispose();
  });

  test('dispose leaves no timer behind, even with a check in flight', async () => {
    const d = await desiredOne('h', 'healthcheck: {exec: [/bin/true], interval: 1s}');
    const runtime = slowRuntime();
    const checker = new HealthChecker(runtime, () => undefined);
    checker.sync([recordFor(d, { runtime: {} }), recordFor({ ...d, spec: { ...d.spec, name: 'other' } }, { name: 'other', runtime: {} })]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(runtime.exec).toHaveBeenCalledTimes(2);
    checker.dispose();
    expect(jest.getTimerCount()).toBe(0);
    // A check that ends after the dispose reports nothing and schedules nothing.
    runtime.finish(1);
    await jest.advanceTimersByTimeAsync(0);
    expect(jest.getTimerCount()).toBe(0);
  });
});
