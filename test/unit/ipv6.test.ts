// IPv6 for bridge networks, the pure parts: addresses and subnets, the network's IPv6 definition
// and its checks, published ports on IPv6 addresses, /etc/hosts lines, the table's IPv6 rules,
// and the host's IPv6 listeners as /proc prints them.

import { describe, expect, test } from '@jest/globals';
import { hostListener } from '../../src/drivers/network/bridge/host-facts.js';
import { renderHosts } from '../../src/drivers/network/bridge/etc-files.js';
import { renderRuleset } from '../../src/drivers/network/bridge/ruleset.js';
import { unsupportedNetworkFields } from '../../src/drivers/network/port.js';
import { parseNetworkSubnet6 } from '../../src/manifest/formats.js';
import { addressAt6, contains6, formatIPv6, formatSubnet6, overlaps6, parseIPv6, parseSubnet6 } from '../../src/manifest/ipv6.js';
import { defaultIPv6Subnet, networkChangeEffect } from '../../src/manifest/network.js';
import { canonicalHostIP, forwardsOverlap } from '../../src/manifest/ports.js';
import { manifest } from '../support/memory-source.js';
import { loadSet } from '../support/schema.js';

const network = (name: string, spec: string): string => `apiVersion: corral/v1\nkind: Network\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

describe('IPv6 addresses and subnets', () => {
  test.each([
    ['::', '::'], ['::1', '::1'], ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fd00:0:0:0:0:0:0:0', 'fd00::'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ])('%s is %s in its canonical form', (text, canonical) => {
    expect(formatIPv6(parseIPv6(text)!)).toBe(canonical);
  });

  test.each(['', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '1:2:3:4:5:6:7', 'fe80::1%eth0', '::1.2.3.256'])('`%s` is not an address', (text) => {
    expect(parseIPv6(text)).toBeNull();
  });

  test('subnets: host bits refused, containment, overlap, the address at an offset', () => {
    expect(parseSubnet6('fd00:1::1/64')).toBeNull();
    const s = parseSubnet6('fd00:1::/64')!;
    expect(formatSubnet6(s)).toBe('fd00:1::/64');
    expect(contains6(s, parseIPv6('fd00:1::ffff')!)).toBe(true);
    expect(contains6(s, parseIPv6('fd00:2::')!)).toBe(false);
    expect(overlaps6(s, parseSubnet6('fd00::/16')!)).toBe(true);
    expect(overlaps6(s, parseSubnet6('fd00:2::/64')!)).toBe(false);
    expect(formatIPv6(addressAt6(s, 20))).toBe('fd00:1::14');
  });

  test('a network subnet is /48 to /120, with a hint when host bits are set', () => {
    expect(parseNetworkSubnet6('fd00:1::/64')).toMatchObject({ ok: true });
    expect(parseNetworkSubnet6('fd00::/47')).toMatchObject({ ok: false });
    expect(parseNetworkSubnet6('fd00::/121')).toMatchObject({ ok: false });
    expect(parseNetworkSubnet6('fd00:1::5/64')).toMatchObject({ ok: false, hint: 'host bits are set: the subnet is `fd00:1::/64`' });
  });
});

describe('a network with IPv6', () => {
  test('by default a /64 of unique local addresses derived from the name: the same every time, another for another name', async () => {
    expect(defaultIPv6Subnet('six')).toMatch(/^fd[0-9a-f]{2}(:[0-9a-f]{1,4}){2}::\/64$/);
    expect(defaultIPv6Subnet('six')).toBe(defaultIPv6Subnet('six'));
    expect(defaultIPv6Subnet('seven')).not.toBe(defaultIPv6Subnet('six'));
    const set = await loadSet({ '/m/six.yaml': network('six', '{subnet: 10.94.0.0/24, ipv6: {enabled: true}}') });
    expect(set.diagnostics).toEqual([]);
    const { ipv6 } = set.networks[0]!.definition;
    expect(ipv6).toEqual({ subnet: defaultIPv6Subnet('six'), gateway: `${defaultIPv6Subnet('six').split('::')[0]}::1` });
  });

  test('an explicit subnet; off (the default) is null; turning it on rebuilds the network', async () => {
    const set = await loadSet({
      '/m/a.yaml': network('a', '{subnet: 10.94.0.0/24, ipv6: {enabled: true, subnet: "fd12:3456:789a::/64"}}'),
      '/m/b.yaml': network('b', '{subnet: 10.95.0.0/24}'),
    });
    expect(set.diagnostics).toEqual([]);
    const [a, b] = set.networks.map((n) => n.definition);
    expect(a!.ipv6).toEqual({ subnet: 'fd12:3456:789a::/64', gateway: 'fd12:3456:789a::1' });
    expect(b!.ipv6).toBeNull();
    expect(networkChangeEffect(b!, { ...b!, ipv6: a!.ipv6 })).toBe('recreate');
  });

  test('refused: an IPv6 subnet smaller than the IPv4 one, two networks on one IPv6 subnet', async () => {
    const small = await loadSet({ '/m/a.yaml': network('a', '{subnet: 10.94.0.0/16, ipv6: {enabled: true, subnet: "fd00::/113"}}') });
    expect(small.diagnostics).toEqual([expect.objectContaining({ code: 'MANIFEST_INVALID_VALUE', field: 'spec.ipv6.subnet', network: 'a', hint: 'use a prefix of /112 or shorter, such as /64' })]);
    const fits = await loadSet({ '/m/a.yaml': network('a', '{subnet: 10.94.0.0/16, ipv6: {enabled: true, subnet: "fd00::/112"}}') });
    expect(fits.diagnostics).toEqual([]);
    const twice = await loadSet({
      '/m/a.yaml': network('a', '{subnet: 10.94.0.0/24, ipv6: {enabled: true, subnet: "fd00::/64"}}'),
      '/m/b.yaml': network('b', '{subnet: 10.95.0.0/24, ipv6: {enabled: true, subnet: "fd00::/48"}}'),
    });
    expect(twice.diagnostics).toEqual([expect.objectContaining({ code: 'NETWORK_SUBNET_CONFLICT', field: 'spec.ipv6.subnet', network: 'b' })]);
  });
});

describe('ports published on IPv6 addresses', () => {
  test('allowed on a network with IPv6; refused on the default network and on an IPv4-only one', async () => {
    const files = {
      '/m/six.yaml': network('six', '{subnet: 10.94.0.0/24, ipv6: {enabled: true}}'),
      '/m/four.yaml': network('four', '{subnet: 10.95.0.0/24}'),
      '/m/ok.yaml': manifest('ok', 'network: {mode: bridge, name: six, ports: [{host: 80, container: 80, hostIP: "::"}, {host: 81, container: 80, hostIP: "2001:db8::1"}]}'),
      '/m/dflt.yaml': manifest('dflt', 'network: {mode: bridge, ports: [{host: 82, container: 80, hostIP: "::"}]}'),
      '/m/v4.yaml': manifest('v4', 'network: {mode: bridge, name: four, ports: [{host: 83, container: 80, hostIP: "::"}]}'),
    };
    const set = await loadSet(files);
    expect(set.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.container, d.code, d.field])).toEqual([
      ['dflt', 'MANIFEST_CONFLICT', 'spec.network.ports[0].hostIP'],
      ['v4', 'MANIFEST_CONFLICT', 'spec.network.ports[0].hostIP'],
    ]);
    expect(set.containers.map((c) => c.spec.name)).toEqual(['ok']);
    expect(unsupportedNetworkFields(set.containers[0]!.spec)).toEqual([]);
  });

  test('`::1` and an IPv4-mapped loopback are refused by the driver: the kernel cannot DNAT them', async () => {
    const set = await loadSet({
      '/m/six.yaml': network('six', '{subnet: 10.94.0.0/24, ipv6: {enabled: true}}'),
      '/m/lo.yaml': manifest('lo', 'network: {mode: bridge, name: six, ports: [{host: 80, container: 80, hostIP: "::1"}, {host: 81, container: 80, hostIP: "::ffff:127.0.0.1"}]}'),
    });
    expect(unsupportedNetworkFields(set.containers[0]!.spec).map((d) => [d.code, d.field])).toEqual([
      ['NOT_SUPPORTED', 'spec.network.ports[0].hostIP'], ['NOT_SUPPORTED', 'spec.network.ports[1].hostIP'],
    ]);
  });

  test('addresses are compared in their canonical form, and a wildcard covers its own family only', () => {
    expect(canonicalHostIP('0:0::0')).toBe('::');
    expect(canonicalHostIP('127.0.0.1')).toBe('127.0.0.1');
    expect(forwardsOverlap({ host: 80, container: 80, hostIP: '::' }, { host: 80, container: 80, hostIP: '2001:db8::1' })).toBe(true);
    expect(forwardsOverlap({ host: 80, container: 80, hostIP: '::' }, { host: 80, container: 80, hostIP: '0.0.0.0' })).toBe(false);
    expect(forwardsOverlap({ host: 80, container: 80, hostIP: '0.0.0.0' }, { host: 80, container: 80 })).toBe(true);
  });
});

describe('what the driver renders for IPv6', () => {
  test('/etc/hosts: a second line with the same names for every container that has an IPv6 address', () => {
    const text = renderHosts({ address: '10.94.0.3', address6: 'fd00::3', names: ['b'] }, [{ address: '10.94.0.2', address6: 'fd00::2', names: ['a', 'www'] }]);
    expect(text).toContain('10.94.0.3\tb\nfd00::3\tb\n10.94.0.2\ta www\nfd00::2\ta www\n');
  });

  test('the table: DNAT to the IPv6 address for `::` and a given address, hairpin and masquerade per IPv6 subnet', () => {
    const net = { name: 'six', bridge: 'cn-six', subnet: '10.94.0.0/24', subnet6: 'fd00:1::/64', masquerade: true, isolated: true };
    const ports = [
      { hostIP: '::', hostPort: 8096, containerPort: 80, protocol: 'tcp' as const },
      { hostIP: '2001:db8::1', hostPort: 53, containerPort: 53, protocol: 'udp' as const },
      { hostIP: '127.0.0.1', hostPort: 8097, containerPort: 80, protocol: 'tcp' as const },
    ];
    const text = renderRuleset('corral', [net], [{ name: 'a', address: '10.94.0.2', address6: 'fd00:1::2', ports }]);
    expect(text).toContain('    meta nfproto ipv6 tcp dport 8096 dnat ip6 to [fd00:1::2]:80 comment "a"');
    expect(text).toContain('    ip6 daddr 2001:db8::1 udp dport 53 dnat ip6 to [fd00:1::2]:53 comment "a"');
    expect(text).toContain('    ip daddr 127.0.0.1 tcp dport 8097 dnat ip to 10.94.0.2:80 comment "a"');
    expect(text).toContain('    ct status dnat ip6 saddr fd00:1::/64 ip6 daddr fd00:1::/64 masquerade');
    expect(text).toContain('    ip6 saddr fd00:1::/64 ip6 daddr != fd00:1::/64 oifname != "cn-six" masquerade');
    expect(renderRuleset('corral', [{ ...net, masquerade: false }], [])).not.toContain('ip6 daddr != ');
  });

  test('host listeners from /proc/net/tcp6: `::` takes both families, a given IPv6 address only its own port on it', () => {
    const tcp6 = (address: string, port: number): string => `  sl  local_address remote_address st\n   0: ${address}:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000000000000000000000000000:0000 0A\n`;
    const any6 = '00000000000000000000000000000000';
    // 2001:db8::1 as four little-endian words.
    const doc6 = 'B80D0120000000000000000001000000';
    const read = (file: string, text: string) => (f: string): string => (f === file ? text : '  sl\n');
    const port = (hostIP: string) => ({ hostIP, hostPort: 8080, containerPort: 80, protocol: 'tcp' as const });
    expect(hostListener(port('127.0.0.1'), read('/proc/net/tcp6', tcp6(any6, 8080)))).toBe('[::]:8080');
    expect(hostListener(port('::'), read('/proc/net/tcp6', tcp6(doc6, 8080)))).toBe('[2001:db8::1]:8080');
    expect(hostListener(port('2001:db8::1'), read('/proc/net/tcp6', tcp6(doc6, 8080)))).toBe('[2001:db8::1]:8080');
    expect(hostListener(port('2001:db8::2'), read('/proc/net/tcp6', tcp6(doc6, 8080)))).toBeNull();
    expect(hostListener(port('0.0.0.0'), read('/proc/net/tcp6', tcp6(doc6, 8080)))).toBeNull();
  });
});
