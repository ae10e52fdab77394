// Hundreds of attach/detach cycles through the bridge driver in a /24, inside a test network
// namespace: no lease, veth, namespace mount or rule is left, and addresses are reused.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { requireRoot } from '../../support/root.js';
import { makeTestNetwork, unmountUnder, type TestNetwork } from '../../support/test-netns.js';

let net: TestNetwork | undefined;
let root: string;

beforeAll(() => {
  if (!requireRoot()) return;
  net = makeTestNetwork('cycles');
  root = mkdtempSync(join(tmpdir(), 'corral-cycles-'));
});
afterAll(() => {
  net?.cleanup();
  if (root) {
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
});

test('300 create/remove cycles in a /24 leave no lease, veth, namespace mount or rule behind', () => {
  if (!net) return;
  const out = net.exec(net.host, [process.execPath, join(import.meta.dirname, 'cycles-child.mjs'), root, '300'], '', 240_000);
  const result = JSON.parse(out) as { left: string[]; distinctAddresses: number; msPerCycle: number };
  process.stderr.write(`bridge driver: ${result.msPerCycle.toFixed(1)} ms per attach+detach cycle\n`);
  expect(result.left).toEqual([]);
  // 300 names, never more than two at once: the lowest addresses are reused.
  expect(result.distinctAddresses).toBeLessThanOrEqual(3);
  expect(readdirSync(join(root, 'network/leases'))).toEqual([]);
  expect(readdirSync(join(root, 'network/ns'))).toEqual([]);
  expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
  const links = net.exec(net.host, ['ip', '-o', 'link', 'show']).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]);
  expect(links.sort()).toEqual(['lo', 'uplink']);
  expect(net.exec(net.host, ['nft', 'list', 'ruleset']).trim()).toBe('');
});
