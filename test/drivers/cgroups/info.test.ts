// `corral info` on this host: reads only, and tells the layout and each knob.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { Command } from 'commander';
import { infoCommand, type InfoReport } from '../../../src/cli/commands/info.js';
import { detectLayout } from '../../../src/drivers/cgroups/index.js';
import { testParentName } from './support.js';

async function run(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const program = new Command('corral').option('--host-label <kv>');
    program.addCommand(infoCommand());
    await program.parseAsync(['info', ...args], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

describe('corral info', () => {
  // A state root of the test's own, never created: `info` probes what a root allows (the idmapped
  // overlay, the quotas) and keeps the answers in it, and the machine's root is not the test's.
  let base: string;
  const savedRoot = process.env['CORRAL_ROOT'];
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'corral-info-'));
    process.env['CORRAL_ROOT'] = join(base, 'root');
  });
  afterAll(() => {
    if (savedRoot === undefined) delete process.env['CORRAL_ROOT'];
    else process.env['CORRAL_ROOT'] = savedRoot;
    rmSync(base, { recursive: true, force: true });
  });
  afterEach(() => {
    process.exitCode = undefined;
  });

  test('json: the detected layout, parents (not created), and every knob with a reason', async () => {
    const parent = testParentName();
    const report = JSON.parse(await run(['-o', 'json', '--cgroup-parent', parent])) as InfoReport;
    expect(report.formatVersion).toBe(1);
    expect(report.cgroups.layout).toBe(detectLayout().kind);
    expect(report.cgroups.parentName).toBe(parent);
    for (const p of report.cgroups.parents) {
      expect(p.state).toBe('absent');
      expect(existsSync(p.dir)).toBe(false);
    }
    expect(existsSync(process.env['CORRAL_ROOT']!)).toBe(false);
    for (const s of Object.values(report.cgroups.features)) expect(s.available ? s.via : s.reason).toEqual(expect.any(String));
    expect(report.host.kernel).toMatch(/^\d+\.\d+/);
  });

  test('text names the layout and the knobs', async () => {
    const text = await run([]);
    expect(text).toMatch(/layout +(cgroup2 only|cgroup v1 only|hybrid|no cgroup)/);
    expect(text).toMatch(/knobs\n/);
    expect(text).toMatch(/memory /);
  });
});
