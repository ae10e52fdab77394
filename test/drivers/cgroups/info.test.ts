// `corral info` on this host: reads only, and tells the layout and each knob.

import { existsSync } from 'node:fs';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
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
