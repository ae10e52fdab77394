// Named networks (`kind: Network`) end to end, through the CLI, with corral inside a "host" network
// namespace of the test's own (test/support/test-netns.ts): two networks made from manifests, each
// container on its own bridge and subnet, names only within a network, isolation (published ports
// still reachable), live updates (isolation, MTU) without restarts, a rebuilt subnet that restarts
// its containers, a network kept while a container joins it, and nothing left after removal.

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { bridgeSetup, type BridgeSetup } from '../../support/bridge-setup.js';
import { psJson } from '../../support/host-sandbox.js';
import { requireRoot } from '../../support/root.js';
import { HOST_ADDRESS } from '../../support/test-netns.js';

let setup: BridgeSetup | null = null;

beforeAll(() => {
  if (!requireRoot()) return;
  setup = bridgeSetup('netkind');
});
afterAll(async () => {
  await setup?.cleanup();
});

function network(name: string, spec: string): string {
  return `apiVersion: corral/v1\nkind: Network\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
}

interface Report {
  changed: boolean;
  errors: Array<{ code: string; network?: string }>;
  actions: Array<{ name: string; action: string; reasons: Array<{ code: string }> }>;
  networks: Array<{ name: string; action: string; reasons: Array<{ code: string }>; result?: { ok: boolean } }>;
}

function reconcile(...extra: string[]): { code: number; report: Report } {
  const r = setup!.sb.run('reconcile', '--once', '--detailed-exitcode', '--output', 'json', ...extra);
  if (!r.stdout) throw new Error(`reconcile printed nothing: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const pings = (from: string, address: string): boolean => setup!.inside(from, 'ping', '-c', '1', '-W', '2', address).code === 0;
const pidOf = (name: string): number | null => psJson(setup!.sb).find((c) => c.name === name)?.pid ?? null;

describe('named networks', () => {
  test('two networks from manifests: each container on its own bridge and subnet, names only within its network', () => {
    if (!setup) return;
    const { sb, net, container, lease, inside, links } = setup;
    sb.write('front.yaml', network('front', '{subnet: 10.90.0.0/24}'));
    sb.write('back.yaml', network('back', '{subnet: 10.91.0.0/24, bridge: cb-back, masquerade: false}'));
    sb.write('web.yaml', container('web', '{mode: bridge, name: front, ports: [{host: 8090, container: 80, hostIP: 0.0.0.0}]}', '[/bin/httpd, -f, -p, "80", -h, /etc]'));
    sb.write('peer.yaml', container('peer', '{mode: bridge, name: front}'));
    sb.write('db.yaml', container('db', '{mode: bridge, name: back, address: 10.91.0.50}'));
    const plan = JSON.parse(sb.run('plan', '--output', 'json').stdout) as Report;
    expect(plan.networks.map((n) => [n.name, n.action])).toEqual([['back', 'create'], ['front', 'create']]);
    const first = reconcile();
    expect(first.report.errors).toEqual([]);
    expect(first.code).toBe(2);
    expect(first.report.networks.map((n) => [n.name, n.action, n.result?.ok])).toEqual([['back', 'create', true], ['front', 'create', true]]);
    expect(links()).toEqual(expect.arrayContaining(['cb-back', 'cn-front']));
    expect(net.exec(net.host, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'cn-front'])).toContain('inet 10.90.0.1/24');
    expect(lease('web')).toMatchObject({ network: 'front', address: expect.stringMatching(/^10\.90\.0\.\d+$/) });
    expect(lease('db')).toMatchObject({ network: 'back', address: '10.91.0.50' });
    expect(inside('db', 'ip', '-o', '-4', 'addr').stdout).toContain('eth0    inet 10.91.0.50/24');
    const hosts = inside('peer', 'cat', '/etc/hosts').stdout;
    expect(hosts).toContain(`${lease('web').address}\tweb`);
    expect(hosts).not.toContain('db');
    expect(pings('peer', 'web')).toBe(true);
    const ls = (JSON.parse(sb.run('network', 'ls', '--output', 'json').stdout) as { networks: Array<{ name: string; bridge: string; subnet: string; containers: string[] }> }).networks;
    expect(ls.map((n) => [n.name, n.bridge, n.subnet, n.containers])).toEqual([['back', 'cb-back', '10.91.0.0/24', ['db']], ['front', 'cn-front', '10.90.0.0/24', ['peer', 'web']]]);
    expect(sb.run('network', 'ls').stdout).toMatch(/^NAME +BRIDGE +SUBNET +GATEWAY +IPV6 +ISOLATED +MASQUERADE +MTU +CONTAINERS\nback +cb-back +10\.91\.0\.0\/24 +10\.91\.0\.1 +- +yes +no +1500 +db\n/);
    expect(reconcile().code).toBe(0);
  });

  test('exploit: no netlink socket or namespace fd of corral\'s (its own namespace\'s, able to rewrite the host\'s routes and rules) reaches a container', () => {
    if (!setup) return;
    const { inside } = setup;
    // PID 1 (sleep) of a bridged container, started by a corral that had the host's netlink and nftables
    // sockets and the container's namespace fd open: stdio only.
    const fds = inside('peer', 'ls', '/proc/1/fd').stdout.split(/\s+/).filter(Boolean).sort();
    expect(fds).toEqual(['0', '1', '2']);
    const links = inside('peer', 'ls', '-l', '/proc/1/fd').stdout;
    expect(links).not.toMatch(/socket:|net:\[/);
  });

  test('isolated by default: no traffic between the networks, but a published port answers through the host', () => {
    if (!setup) return;
    const { lease, httpFrom } = setup;
    expect(pings('peer', '10.91.0.50')).toBe(false);
    expect(pings('db', lease('web').address)).toBe(false);
    // httpd answers (with a 404 for /): the connection crossed from `back` to `front`, DNATed.
    expect(httpFrom('db', HOST_ADDRESS, 8090)).toMatch(/^HTTP\/1\.\d /);
  });

  test('isolation and MTU change live: no container restarts', () => {
    if (!setup) return;
    const { sb, net, inside } = setup;
    const before = { web: pidOf('web'), db: pidOf('db') };
    sb.write('front.yaml', network('front', '{subnet: 10.90.0.0/24, isolated: false, mtu: 1400}'));
    sb.write('back.yaml', network('back', '{subnet: 10.91.0.0/24, bridge: cb-back, masquerade: false, isolated: false}'));
    const r = reconcile();
    expect(r.report.errors).toEqual([]);
    expect(r.report.networks.map((n) => [n.name, n.action])).toEqual([['back', 'update'], ['front', 'update']]);
    expect(r.report.actions.filter((a) => a.action !== 'none')).toEqual([]);
    expect({ web: pidOf('web'), db: pidOf('db') }).toEqual(before);
    expect(pings('peer', '10.91.0.50')).toBe(true);
    expect(inside('web', 'cat', '/sys/class/net/eth0/mtu').stdout.trim()).toBe('1400');
    expect(net.exec(net.host, ['ip', '-o', 'link', 'show', 'dev', 'cn-front'])).toContain(' mtu 1400 ');
  });

  test('a new subnet rebuilds the network and restarts its containers on it; the other network is untouched', () => {
    if (!setup) return;
    const { sb, lease, inside } = setup;
    const dbPid = pidOf('db');
    sb.write('front.yaml', network('front', '{subnet: 10.92.0.0/24, isolated: false, mtu: 1400}'));
    const r = reconcile();
    expect(r.report.errors).toEqual([]);
    expect(r.report.networks.find((n) => n.name === 'front')?.action).toBe('recreate');
    expect(r.report.actions.filter((a) => a.action !== 'none').map((a) => [a.name, a.action, a.reasons[0]?.code]).sort()).toEqual([
      ['peer', 'restart', 'network-changed'], ['web', 'restart', 'network-changed'],
    ]);
    expect(lease('web').address).toMatch(/^10\.92\.0\./);
    expect(inside('peer', 'ip', '-o', '-4', 'addr').stdout).toContain(`eth0    inet ${lease('peer').address}/24`);
    expect(pings('peer', 'web')).toBe(true);
    expect(pidOf('db')).toBe(dbPid);
    expect(reconcile().code).toBe(0);
  });

  test('a network whose manifest goes while a container still joins it is kept; it goes with its last container', () => {
    if (!setup) return;
    const { sb, links } = setup;
    sb.remove('back.yaml');
    const kept = reconcile();
    expect(kept.report.errors.map((e) => e.code)).toContain('MANIFEST_UNKNOWN_REFERENCE');
    expect(kept.report.networks.find((n) => n.name === 'back')?.action).toBe('none');
    expect(links()).toContain('cb-back');
    expect(pidOf('db')).not.toBeNull();
    sb.remove('db.yaml');
    const gone = reconcile();
    expect(gone.report.errors).toEqual([]);
    expect(gone.report.networks.find((n) => n.name === 'back')?.action).toBe('remove');
    expect(links()).not.toContain('cb-back');
  });

  test('a veth left without its alias (corral killed between creating and naming it) does not block the container\'s next start', () => {
    if (!setup) return;
    const { sb, net, container, lease, links } = setup;
    const veth = lease('peer').veth;
    sb.remove('peer.yaml');
    expect(reconcile().report.errors).toEqual([]);
    net.exec(net.host, ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'leftover0']);
    sb.write('peer.yaml', container('peer', '{mode: bridge, name: front}'));
    const r = reconcile();
    expect(r.report.errors).toEqual([]);
    expect(links()).not.toContain('leftover0');
    expect(pings('peer', 'web')).toBe(true);
  });

  test('a network is there without containers too: its bridge deleted by hand is made again at the next pass', () => {
    if (!setup) return;
    const { sb, net, links } = setup;
    sb.write('spare.yaml', network('spare', '{subnet: 10.93.0.0/24}'));
    expect(reconcile().report.networks.find((n) => n.name === 'spare')?.action).toBe('create');
    expect(links()).toContain('cn-spare');
    net.exec(net.host, ['ip', 'link', 'del', 'cn-spare']);
    const r = sb.run('reconcile', '--once', '--output', 'json');
    expect((JSON.parse(r.stdout) as { warnings: Array<{ code: string; summary: string }> }).warnings).toContainEqual(expect.objectContaining({ code: 'NETWORK_DRIFT', summary: expect.stringContaining('cn-spare') }));
    expect(net.exec(net.host, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'cn-spare'])).toContain('inet 10.93.0.1/24');
  });

  test('a bridge half-made when corral was killed (its journal still there) is made again; one not journaled is refused', () => {
    if (!setup) return;
    const { sb, net, links } = setup;
    // Killed after the bridge was created and before it got its alias and address.
    net.exec(net.host, ['ip', 'link', 'add', 'cn-half', 'type', 'bridge']);
    writeFileSync(join(sb.root, 'network/bridge-cn-half.creating'), '');
    sb.write('half.yaml', network('half', '{subnet: 10.95.0.0/24}'));
    const made = reconcile();
    expect(made.report.errors).toEqual([]);
    expect(net.exec(net.host, ['ip', '-o', '-4', 'addr', 'show', 'dev', 'cn-half'])).toContain('inet 10.95.0.1/24');
    expect(existsSync(join(sb.root, 'network/bridge-cn-half.creating'))).toBe(false);
    // Someone else's bridge under the name a network asks for: refused at plan time, left alone.
    net.exec(net.host, ['ip', 'link', 'add', 'cn-theirs', 'type', 'bridge']);
    sb.write('theirs.yaml', network('theirs', '{subnet: 10.96.0.0/24}'));
    const refused = reconcile();
    expect(refused.report.errors).toEqual([expect.objectContaining({ code: 'NETWORK_SUBNET_CONFLICT', network: 'theirs' })]);
    expect(links()).toContain('cn-theirs');
    sb.remove('theirs.yaml');
    sb.remove('half.yaml');
    net.exec(net.host, ['ip', 'link', 'del', 'cn-theirs']);
    expect(reconcile().report.errors).toEqual([]);
  });

  test('removing everything leaves no bridge, veth, record, lease or rule', () => {
    if (!setup) return;
    const { sb, net, links, removeAll } = setup;
    expect(removeAll()).toBe(0);
    expect(readdirSync(join(sb.root, 'network/leases'))).toEqual([]);
    expect(readdirSync(join(sb.root, 'network/networks'))).toEqual([]);
    expect(links()).toEqual(['lo', 'uplink']);
    expect(net.exec(net.host, ['nft', 'list', 'ruleset']).trim()).toBe('');
  });
});
