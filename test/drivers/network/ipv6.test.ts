// IPv6 on a named network, end to end, with corral inside a "host" network namespace of the
// test's own and an "outside" one on the same link (test/support/test-netns.ts): addresses of a
// unique local /64 derived from the network's name, names over IPv6, a port published on `::`
// answering from outside and from the host itself, outbound traffic masqueraded, `::1` refused.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { bridgeSetup, type BridgeSetup } from '../../support/bridge-setup.js';
import { requireRoot } from '../../support/root.js';
import { HOST_ADDRESS6, OUTSIDE_ADDRESS6 } from '../../support/test-netns.js';
import { defaultIPv6Subnet } from '../../../src/manifest/network.js';

let setup: BridgeSetup | null = null;

beforeAll(() => {
  if (!requireRoot()) return;
  setup = bridgeSetup('ipv6', (rootfs) => writeFileSync(join(rootfs, 'index.html'), 'hello over six\n'));
});
afterAll(async () => {
  await setup?.cleanup();
});

const SIX = 'apiVersion: corral/v1\nkind: Network\nmetadata: {name: six}\nspec: {subnet: 10.94.0.0/24, ipv6: {enabled: true}}\n';

describe('IPv6 on a named network', () => {
  test('each container gets an address of the network\'s unique local /64 and finds its neighbours by name over IPv6', () => {
    if (!setup) return;
    const { sb, net, container, lease, inside, httpFrom } = setup;
    sb.write('six.yaml', SIX);
    sb.write('a.yaml', container('a', '{mode: bridge, name: six, ports: [{host: 8096, container: 80, hostIP: "::"}, {host: 8097, container: 80}]}', '[/bin/httpd, -f, -p, "80", -h, /]'));
    sb.write('b.yaml', container('b', '{mode: bridge, name: six}'));
    const plan = JSON.parse(sb.run('plan', '--output', 'json').stdout) as { warnings: Array<{ code: string; summary: string }> };
    expect(plan.warnings).toContainEqual(expect.objectContaining({ code: 'NETWORK_FORWARDING', summary: expect.stringContaining('net.ipv6.conf.all.forwarding') }));
    const r = sb.run('reconcile', '--once', '--output', 'json');
    expect((JSON.parse(r.stdout) as { errors: unknown[] }).errors).toEqual([]);
    const prefix = defaultIPv6Subnet('six').split('::')[0]!;
    expect(defaultIPv6Subnet('six')).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    const a6 = lease('a').address6!;
    expect(a6.startsWith(`${prefix}::`)).toBe(true);
    // The host number of its IPv4 address.
    expect(a6.split('::')[1]).toBe(Number(lease('a').address.split('.')[3]).toString(16));
    expect(inside('a', 'ip', '-o', '-6', 'addr', 'show', 'dev', 'eth0').stdout).toContain(`inet6 ${a6}/64`);
    expect(inside('b', 'cat', '/etc/hosts').stdout).toContain(`${a6}\ta`);
    expect(inside('b', 'ping', '-6', '-c', '1', '-W', '2', 'a').code).toBe(0);
    expect(httpFrom('b', a6, 80)).toContain('hello over six');
    expect(net.exec(net.host, ['ip', '-o', '-6', 'addr', 'show', 'dev', 'cn-six'])).toContain(`inet6 ${prefix}::1/64`);
  });

  test('a port published on `::` answers on the host\'s IPv6 address, from outside and from the host itself; IPv4 ports still work', () => {
    if (!setup) return;
    const { sb, net, curl } = setup;
    expect(curl(net.outside, `http://[${HOST_ADDRESS6}]:8096/index.html`)).toBe('hello over six\n');
    expect(curl(net.host, `http://[${HOST_ADDRESS6}]:8096/index.html`)).toBe('hello over six\n');
    expect(curl(net.host, 'http://127.0.0.1:8097/index.html')).toBe('hello over six\n');
    expect(sb.run('ps').stdout).toContain('[::]:8096->80/tcp');
  });

  test('outbound IPv6 reaches the outside masqueraded (the outside has no route back to the unique local subnet)', async () => {
    if (!setup) return;
    const { net, httpFrom } = setup;
    const www = mkdtempSync(join(tmpdir(), 'corral-outside6-www-'));
    writeFileSync(join(www, 'index.html'), 'hello from outside\n');
    net.serve(net.outside, ['busybox', 'httpd', '-f', '-p', `[${OUTSIDE_ADDRESS6}]:81`, '-h', www]);
    const deadline = Date.now() + 10_000;
    let answer = '';
    while (Date.now() < deadline && !answer.includes('hello from outside')) {
      answer = httpFrom('b', OUTSIDE_ADDRESS6, 81);
      if (!answer.includes('hello from outside')) await new Promise((r) => setTimeout(r, 250));
    }
    rmSync(www, { recursive: true, force: true });
    expect(answer).toContain('hello from outside');
  });

  test('refused at validate: `::1` (the kernel cannot DNAT it), and an IPv6 port on a network without IPv6', () => {
    if (!setup) return;
    const { sb, container } = setup;
    const dir = mkdtempSync(join(tmpdir(), 'corral-ipv6-bad-'));
    writeFileSync(join(dir, 'six.yaml'), SIX);
    writeFileSync(join(dir, 'lo6.yaml'), container('lo6', '{mode: bridge, name: six, ports: [{host: 9000, container: 80, hostIP: "::1"}]}'));
    writeFileSync(join(dir, 'v4.yaml'), container('v4', '{mode: bridge, ports: [{host: 9001, container: 80, hostIP: "::"}]}'));
    const r = sb.run('validate', '--output', 'json', dir);
    rmSync(dir, { recursive: true, force: true });
    const diagnostics = (JSON.parse(r.stdout) as { diagnostics: Array<{ severity: string; code: string; container?: string; field?: string }> }).diagnostics.filter((d) => d.severity === 'error');
    expect(diagnostics.map((d) => [d.container, d.code, d.field]).sort()).toEqual([
      ['lo6', 'NOT_SUPPORTED', 'spec.network.ports[0].hostIP'],
      ['v4', 'MANIFEST_CONFLICT', 'spec.network.ports[0].hostIP'],
    ]);
    expect(r.code).toBe(1);
  });

  test('removing everything leaves no bridge, lease or rule', () => {
    if (!setup) return;
    const { net, links, removeAll } = setup;
    expect(removeAll()).toBe(0);
    expect(links()).toEqual(['lo', 'uplink']);
    expect(net.exec(net.host, ['nft', 'list', 'ruleset']).trim()).toBe('');
  });
});
