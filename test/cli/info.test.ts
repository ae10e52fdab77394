// `corral info` names the cgroup parent the other commands would use, and where its name comes
// from: CORRAL_CGROUP_PARENT, --cgroup-parent, or the state root. It only reads: nothing is created.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { corral } from '../support/cli.js';

const base = mkdtempSync(join(tmpdir(), 'corral-info-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const PARENT = `corral-info-test-${process.pid}`;

function info(env: Record<string, string>, ...args: string[]): { parentName: string | null; parentSource: string; parents: Array<{ dir: string; state: string }> } {
  const r = corral(['info', '-o', 'json', ...args], { env: { CORRAL_ROOT: join(base, 'root'), ...env } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).cgroups;
}

describe('corral info: the cgroup parent', () => {
  test('CORRAL_CGROUP_PARENT is the parent shown, and said to come from it', () => {
    const c = info({ CORRAL_CGROUP_PARENT: PARENT });
    expect(c).toMatchObject({ parentName: PARENT, parentSource: 'env' });
    for (const p of c.parents) {
      expect(p.dir.endsWith(`/${PARENT}`)).toBe(true);
      expect(existsSync(p.dir)).toBe(false);
    }
    const text = corral(['info'], { env: { CORRAL_ROOT: join(base, 'root'), CORRAL_CGROUP_PARENT: PARENT } });
    expect(text.stdout).toContain(`parent \`${PARENT}\` (from CORRAL_CGROUP_PARENT)`);
  });

  test('--cgroup-parent wins over the environment', () => {
    expect(info({ CORRAL_CGROUP_PARENT: PARENT }, '--cgroup-parent', `${PARENT}-opt`)).toMatchObject({ parentName: `${PARENT}-opt`, parentSource: 'option' });
  });

  test('without either, a root of its own is named after its id', () => {
    const c = info({});
    expect(c.parentSource).toBe('root-id');
    // A root nothing has used yet has no id: its parent is named at first use.
    expect(c.parentName === null || /^corral-[0-9a-f]+$/.test(c.parentName)).toBe(true);
  });
});
