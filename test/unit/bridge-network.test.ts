// The pure parts of the bridge driver: addresses and subnets, IPAM, the nftables table, the
// /etc files, the host facts it parses, and the default network's subnet choice.

import { describe, expect, test } from '@jest/globals';
import { firstFreeSubnet, routeConflict } from '../../src/drivers/network/bridge/default-network.js';
import { parseResolvConf, renderHosts, renderResolvConf } from '../../src/drivers/network/bridge/etc-files.js';
import { hostListener, hostResolvers } from '../../src/drivers/network/bridge/host-facts.js';
import { chooseAddress, refuseAddress } from '../../src/drivers/network/bridge/ipam.js';
import { formatIPv4, formatSubnet, overlaps, parseIPv4, parseSubnet } from '../../src/manifest/ipv4.js';
import { renderDeletion, renderRuleset } from '../../src/drivers/network/bridge/ruleset.js';
import { describePorts } from '../../src/cli/commands/ps.js';
import { parsePath } from '../../src/manifest/field-path.js';

const subnet = parseSubnet('10.89.0.0/24')!;
const gateway = parseIPv4('10.89.0.1')!;

describe('IPv4 addresses and subnets', () => {
  test('parse and format round-trip; malformed input is refused', () => {
    expect(formatIPv4(parseIPv4('10.89.0.254')!)).toBe('10.89.0.254');
    for (const bad of ['10.89.0', '10.89.0.256', '010.1.1.1', '1.2.3.4.5', 'a.b.c.d', '']) expect(parseIPv4(bad)).toBeNull();
    expect(formatSubnet(parseSubnet('192.168.0.0/16')!)).toBe('192.168.0.0/16');
    expect(parseSubnet('10.89.0.1/24')).toBeNull();
    expect(parseSubnet('10.89.0.0/33')).toBeNull();
  });

  test('overlap', () => {
    expect(overlaps(subnet, parseSubnet('10.89.0.128/25')!)).toBe(true);
    expect(overlaps(subnet, parseSubnet('10.0.0.0/8')!)).toBe(true);
    expect(overlaps(subnet, parseSubnet('10.89.1.0/24')!)).toBe(false);
  });
});

describe('IPAM', () => {
  const taken = new Map([['10.89.0.2', 'web']]);

  test('the lowest free address; a held one is kept; a fixed one is checked', () => {
    expect(chooseAddress(subnet, gateway, { wanted: 'auto', held: null }, taken)).toEqual({ ok: true, address: '10.89.0.3' });
    expect(chooseAddress(subnet, gateway, { wanted: 'auto', held: '10.89.0.77' }, taken)).toEqual({ ok: true, address: '10.89.0.77' });
    expect(chooseAddress(subnet, gateway, { wanted: '10.89.0.20', held: '10.89.0.77' }, taken)).toEqual({ ok: true, address: '10.89.0.20' });
    expect(chooseAddress(subnet, gateway, { wanted: '10.89.0.2', held: null }, taken)).toEqual({ ok: false, reason: '10.89.0.2 is leased to container `web`' });
  });

  test('network, gateway, broadcast and addresses outside the subnet are refused', () => {
    for (const a of ['10.89.0.0', '10.89.0.1', '10.89.0.255']) expect(refuseAddress(subnet, gateway, a, new Map())).toMatch(/own address, its gateway or its broadcast/);
    expect(refuseAddress(subnet, gateway, '10.90.0.5', new Map())).toMatch(/outside the network's subnet/);
  });

  test('a full subnet says so', () => {
    const small = parseSubnet('10.89.0.0/30')!;
    expect(chooseAddress(small, small.base + 1, { wanted: 'auto', held: null }, new Map([['10.89.0.2', 'a']]))).toEqual({ ok: false, reason: 'every address of 10.89.0.0/30 is leased' });
  });
});

describe('the nftables table', () => {
  const network = { name: 'default', bridge: 'corral0', subnet: '10.89.0.0/24', masquerade: true, isolated: true };
  const leases = [
    { name: 'web', address: '10.89.0.2', ports: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }, { hostIP: '0.0.0.0', hostPort: 5353, containerPort: 53, protocol: 'udp' as const }] },
    { name: 'api', address: '10.89.0.3', ports: [] },
  ];

  test('rendered whole: create, delete and recreate in one file; the same leases give the same bytes', () => {
    const text = renderRuleset('corral', [network], leases);
    expect(text.startsWith('table inet corral {}\ndelete table inet corral\ntable inet corral {\n')).toBe(true);
    expect(text).toContain('    ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.89.0.2:80 comment "web"');
    expect(text).toContain('    udp dport 5353 dnat ip to 10.89.0.2:53 comment "web"');
    expect(text).toContain('ip saddr 127.0.0.0/8 ip daddr 10.89.0.0/24 masquerade');
    expect(text).toContain('ct status dnat ip saddr 10.89.0.0/24 ip daddr 10.89.0.0/24 masquerade');
    // CVE-2020-8558: nothing from the bridge may reach the host's loopback.
    expect(text).toContain('type filter hook prerouting priority -300; policy accept;\n    iifname "corral0" ip daddr 127.0.0.0/8 drop\n    iifname "cv*" ip daddr 127.0.0.0/8 drop');
    expect(text).toContain('ip saddr 10.89.0.0/24 ip daddr != 10.89.0.0/24 oifname != "corral0" masquerade');
    expect(renderRuleset('corral', [network], [...leases].reverse())).toBe(text);
  });

  test('without masquerade no outbound rule; deletion removes the table only', () => {
    expect(renderRuleset('corral', [{ ...network, masquerade: false }], leases)).not.toContain('oifname');
    expect(renderDeletion('corral_ab')).toBe('table inet corral_ab {}\ndelete table inet corral_ab\n');
  });

  test('several networks: one table; isolated pairs dropped both ways, published ports let through; masquerade past every bridge', () => {
    const back = { name: 'back', bridge: 'cn-back', subnet: '10.90.0.0/24', masquerade: false, isolated: true };
    const open1 = { name: 'open1', bridge: 'cn-open1', subnet: '10.91.0.0/24', masquerade: true, isolated: false };
    const open2 = { name: 'open2', bridge: 'cn-open2', subnet: '10.92.0.0/24', masquerade: true, isolated: false };
    const text = renderRuleset('corral', [open2, back, network, open1], leases);
    expect(renderRuleset('corral', [network, open1, open2, back], [...leases].reverse())).toBe(text);
    expect(text).toContain('type filter hook forward priority 0; policy accept;\n    ct status dnat accept\n');
    for (const [a, b] of [['cn-back', 'corral0'], ['corral0', 'cn-back'], ['cn-open1', 'cn-back'], ['corral0', 'cn-open2']]) {
      expect(text).toContain(`    iifname "${a}" oifname "${b}" drop`);
    }
    // Two networks that are both open talk.
    expect(text).not.toContain('iifname "cn-open1" oifname "cn-open2" drop');
    expect(text).toContain('iifname { "cn-back", "corral0", "cn-open1", "cn-open2" } ip daddr 127.0.0.0/8 drop');
    expect(text).toContain('ip saddr 10.91.0.0/24 ip daddr != 10.91.0.0/24 oifname != { "cn-back", "corral0", "cn-open1", "cn-open2" } masquerade');
    expect(text).not.toContain('ip saddr 10.90.0.0/24 ip daddr != 10.90.0.0/24');
  });

  test('one network that talks to no other has no forward chain', () => {
    expect(renderRuleset('corral', [network], leases)).not.toContain('hook forward');
  });
});

describe('/etc/hosts and /etc/resolv.conf', () => {
  test('hosts: localhost, itself, then the neighbours by address', () => {
    const text = renderHosts({ address: '10.89.0.3', names: ['api', 'api'] }, [{ address: '10.89.0.2', names: ['web', 'www'] }]);
    expect(text.split('\n').slice(1)).toEqual(['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '10.89.0.3\tapi', '10.89.0.2\tweb www', '']);
  });

  test('resolv.conf: loopback servers are left out; systemd-resolved\'s stub is followed to its upstream file', () => {
    expect(parseResolvConf('nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n')).toEqual({ nameservers: [], search: ['lan'], options: ['edns0', 'trust-ad'], loopbackOnly: true });
    const files: Record<string, string> = { '/etc/resolv.conf': 'nameserver 127.0.0.53\n', '/run/systemd/resolve/resolv.conf': 'nameserver 192.0.2.53\nnameserver ::1\n' };
    const host = hostResolvers((f) => {
      if (!(f in files)) throw new Error('ENOENT');
      return files[f]!;
    });
    expect(host.config.nameservers).toEqual(['192.0.2.53']);
    expect(host.origin).toMatch(/systemd-resolved/);
    expect(renderResolvConf({ nameservers: ['10.0.0.1'], search: ['a.example'], options: ['ndots:2'] }, 'test')).toBe('# Written by corral: test.\nnameserver 10.0.0.1\nsearch a.example\noptions ndots:2\n');
  });
});

describe('host facts', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
    '   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1',
    '   2: 0100007F:2382 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1',
  ].join('\n');
  const proc = (f: string): string => (f === '/proc/net/tcp' ? tcp : '  sl header\n');
  const port = (hostIP: string, hostPort: number) => ({ hostIP, hostPort, containerPort: 80, protocol: 'tcp' as const });

  test('a listener on the same address, on the wildcard, or any listener for 0.0.0.0 conflicts; a connected socket does not', () => {
    expect(hostListener(port('127.0.0.1', 8080), proc)).toBe('127.0.0.1:8080');
    expect(hostListener(port('0.0.0.0', 8080), proc)).toBe('127.0.0.1:8080');
    expect(hostListener(port('192.0.2.1', 8080), proc)).toBeNull();
    expect(hostListener(port('192.0.2.1', 80), proc)).toBe('0.0.0.0:80');
    expect(hostListener(port('127.0.0.1', 9090), proc)).toBeNull();
  });

  test('the default subnet is the first /24 of 10.89.0.0/16 no host route covers', () => {
    const route = (dst: string, dev: string) => ({ dst: parseSubnet(dst)!, dev });
    expect(formatSubnet(firstFreeSubnet([], 'corral0')!)).toBe('10.89.0.0/24');
    expect(formatSubnet(firstFreeSubnet([route('10.89.0.0/24', 'cr-other'), route('10.89.1.0/24', 'eth1')], 'corral0')!)).toBe('10.89.2.0/24');
    // Its own bridge's route is no conflict; a wide VPN route is.
    expect(routeConflict([route('10.89.0.0/24', 'corral0')], 'corral0', subnet)).toBeNull();
    expect(routeConflict([route('10.0.0.0/8', 'tun0')], 'corral0', subnet)?.dev).toBe('tun0');
    expect(firstFreeSubnet([route('10.0.0.0/8', 'tun0')], 'corral0')).toBeNull();
  });
});

test('ps shows published ports as docker ps does, a run of consecutive ports as one range', () => {
  const p = (hostIP: string, hostPort: number, containerPort: number, protocol: 'tcp' | 'udp' = 'tcp') => ({ hostIP, hostPort, containerPort, protocol });
  expect(describePorts([p('127.0.0.1', 8080, 80), p('127.0.0.1', 8082, 79), p('127.0.0.1', 8083, 80), p('0.0.0.0', 53, 53, 'udp')]))
    .toEqual(['127.0.0.1:8080->80/tcp', '127.0.0.1:8082-8083->79-80/tcp', '0.0.0.0:53->53/udp']);
  expect(describePorts([])).toEqual([]);
});

test('field paths parse back into segments (diagnostics of drivers are located on the right line)', () => {
  expect(parsePath('spec.network.ports[1].hostIP')).toEqual(['spec', 'network', 'ports', 1, 'hostIP']);
  expect(parsePath('spec.env["A.B"]')).toEqual(['spec', 'env', 'A.B']);
});
