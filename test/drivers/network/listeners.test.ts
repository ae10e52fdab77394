// The host's listeners, which a published port must not take over (a plan-time
// NETWORK_PORT_CONFLICT): sock_diag sees the same sockets /proc/net shows, without walking every
// connection of the host. Inside a test network namespace.

import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { requireRoot } from '../../support/root.js';
import { makeTestNetwork, type TestNetwork } from '../../support/test-netns.js';

let net: TestNetwork | undefined;

beforeAll(() => {
  if (!requireRoot()) return;
  net = makeTestNetwork('listeners');
});
afterAll(() => net?.cleanup());

test('sock_diag and /proc/net agree on TCP listeners and bound UDP sockets, IPv4 and IPv6', () => {
  if (!net) return;
  const out = JSON.parse(net.exec(net.host, [process.execPath, join(import.meta.dirname, 'listeners-child.mjs')])) as { diag: unknown; proc: unknown };
  expect(out.diag).toEqual({ tcp: ['127.0.0.1:18081', '[2001:db8:1::1]:18082', '[::]:18083'], udp: ['0.0.0.0:15353', '[::]:15354'] });
  expect(out.proc).toEqual(out.diag);
});
