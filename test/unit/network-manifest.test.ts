import { describe, expect, test } from '@jest/globals';
import type { Diagnostic } from '../../src/errors.js';
import { specHash } from '../../src/manifest/hash.js';
import { manifest } from '../support/memory-source.js';
import { loadSet } from '../support/schema.js';

/** A `kind: Network` document; `spec` is YAML under `spec:` (indented by 2). */
function network(name: string, spec = 'subnet: 10.90.0.0/24'): string {
  return `apiVersion: corral/v1
kind: Network
metadata:
  name: ${name}
spec:
${spec.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n')}
`;
}

const errors = (list: readonly Diagnostic[]) => list.filter((d) => d.severity === 'error');

describe('a Network manifest', () => {
  test('a valid network is normalized with every default written out', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back') });
    expect(set.diagnostics).toEqual([]);
    expect(set.invalidNetworks).toEqual([]);
    expect(set.networks).toHaveLength(1);
    expect(set.networks[0]!.definition).toEqual({
      name: 'back', labels: {}, bridge: 'cn-back', subnet: '10.90.0.0/24', gateway: '10.90.0.1', ipv6: null, masquerade: true, isolated: true, mtu: 1500,
    });
    expect(set.networks[0]!.origin).toEqual({ file: '/m/back.yaml', index: 0 });
    expect(set.networks[0]!.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test('the default bridge name is `cn-` and the name, cut to 15 characters', async () => {
    const set = await loadSet({ '/m/n.yaml': network('a-rather-long-network-name') });
    expect(set.diagnostics).toEqual([]);
    expect(set.networks[0]!.definition.bridge).toBe('cn-a-rather-lon');
    expect(set.networks[0]!.definition.bridge).toHaveLength(15);
  });

  test('explicit fields are kept', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'subnet: 10.90.0.0/24\nbridge: br-back\ngateway: 10.90.0.254\nmasquerade: false\nisolated: false\nmtu: 9000') });
    expect(set.diagnostics).toEqual([]);
    expect(set.networks[0]!.definition).toMatchObject({ bridge: 'br-back', gateway: '10.90.0.254', masquerade: false, isolated: false, mtu: 9000 });
  });

  test('a subnet with host bits set is an invalid format whose hint names the right subnet', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'subnet: 10.90.0.5/24') });
    const [d, ...rest] = errors(set.diagnostics);
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'MANIFEST_INVALID_FORMAT', field: 'spec.subnet', network: 'back' });
    expect(d!.hint).toContain('`10.90.0.0/24`');
    expect(set.networks).toEqual([]);
    expect(set.invalidNetworks).toEqual(['back']);
  });

  test.each(['10.90.0.0/30', '10.0.0.0/7'])('subnet %s is refused: /8 to /29 only', async (subnet) => {
    const set = await loadSet({ '/m/n.yaml': network('back', `subnet: ${subnet}`) });
    expect(errors(set.diagnostics).map((d) => [d.code, d.field])).toEqual([['MANIFEST_INVALID_FORMAT', 'spec.subnet']]);
    expect(errors(set.diagnostics)[0]!.summary).toContain('/8 to /29');
    expect(set.invalidNetworks).toEqual(['back']);
  });

  test('the widest and narrowest prefixes allowed are accepted', async () => {
    const set = await loadSet({ '/m/a.yaml': network('wide', 'subnet: 10.0.0.0/8'), '/m/b.yaml': network('narrow', 'subnet: 192.168.5.8/29') });
    expect(set.diagnostics).toEqual([]);
    expect(set.networks.map((n) => n.definition.name)).toEqual(['narrow', 'wide']);
  });

  test('a gateway outside the subnet is an invalid value at spec.gateway', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'subnet: 10.90.0.0/24\ngateway: 10.91.0.1') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_INVALID_VALUE', field: 'spec.gateway', network: 'back' })]);
    expect(errors(set.diagnostics)[0]!.summary).toContain('outside the subnet 10.90.0.0/24');
    expect(set.invalidNetworks).toEqual(['back']);
  });

  test('a gateway on the network or broadcast address is refused', async () => {
    for (const gateway of ['10.90.0.0', '10.90.0.255']) {
      const set = await loadSet({ '/m/n.yaml': network('back', `subnet: 10.90.0.0/24\ngateway: ${gateway}`) });
      expect(errors(set.diagnostics).map((d) => [d.code, d.field])).toEqual([['MANIFEST_INVALID_VALUE', 'spec.gateway']]);
    }
  });

  test('the name `default` is reserved', async () => {
    const set = await loadSet({ '/m/n.yaml': network('default') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_INVALID_VALUE', field: 'metadata.name', network: 'default' })]);
    expect(set.networks).toEqual([]);
    expect(set.invalidNetworks).toEqual(['default']);
  });

  test('an unknown field under a Network spec gets a did-you-mean', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'subnet: 10.90.0.0/24\nmasquerad: false') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({
      code: 'MANIFEST_UNKNOWN_FIELD', field: 'spec.masquerad', network: 'back', hint: 'did you mean `masquerade`?',
    })]);
    expect(set.invalidNetworks).toEqual(['back']);
  });

  test('a container field under a Network spec is unknown there', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'subnet: 10.90.0.0/24\nrootfs: {host: {}}') });
    expect(errors(set.diagnostics).map((d) => [d.code, d.field])).toEqual([['MANIFEST_UNKNOWN_FIELD', 'spec.rootfs']]);
  });

  test('a Network without a subnet misses a required field', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back', 'mtu: 1400') });
    expect(errors(set.diagnostics).map((d) => d.code)).toEqual(['MANIFEST_REQUIRED_FIELD']);
    expect(errors(set.diagnostics)[0]!.summary).toContain('spec.subnet');
  });

  test('an unknown kind gives exactly one diagnostic, about the kind, with a did-you-mean', async () => {
    const set = await loadSet({ '/m/n.yaml': network('back').replace('kind: Network', 'kind: Netwrk') });
    expect(set.diagnostics).toHaveLength(1);
    expect(set.diagnostics[0]).toMatchObject({ severity: 'error', code: 'MANIFEST_BAD_API_VERSION', field: 'kind', hint: 'did you mean `Network`?' });
    expect(set.networks).toEqual([]);
    expect(set.containers).toEqual([]);
  });
});

describe('networks across the set', () => {
  test('a network defined twice is a duplicate name, owned by the network', async () => {
    const set = await loadSet({ '/m/a.yaml': network('back'), '/m/b.yaml': network('back', 'subnet: 10.91.0.0/24') });
    const dups = set.diagnostics.filter((d) => d.code === 'MANIFEST_DUPLICATE_NAME');
    expect(dups).toHaveLength(1);
    expect(dups[0]).toMatchObject({ network: 'back', field: 'metadata.name', source: { file: '/m/b.yaml' } });
    expect(dups[0]!.container).toBeUndefined();
    expect(dups[0]!.summary).toContain('/m/a.yaml:4:');
    expect(set.invalidNetworks).toEqual(['back']);
    expect(set.invalidNames).toEqual([]);
    expect(set.networks).toEqual([]);
  });

  test('overlapping subnets conflict', async () => {
    const set = await loadSet({ '/m/a.yaml': network('back', 'subnet: 10.90.0.0/16'), '/m/b.yaml': network('front', 'subnet: 10.90.3.0/24') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'NETWORK_SUBNET_CONFLICT', network: 'front', field: 'spec.subnet' })]);
    expect(set.invalidNetworks).toEqual(['front']);
    expect(set.networks.map((n) => n.definition.name)).toEqual(['back']);
  });

  test('adjacent subnets do not conflict', async () => {
    const set = await loadSet({ '/m/a.yaml': network('back', 'subnet: 10.90.0.0/24'), '/m/b.yaml': network('front', 'subnet: 10.90.1.0/24') });
    expect(set.diagnostics).toEqual([]);
    expect(set.networks).toHaveLength(2);
  });

  test('two networks on one bridge conflict', async () => {
    const set = await loadSet({
      '/m/a.yaml': network('back', 'subnet: 10.90.0.0/24\nbridge: br0'),
      '/m/b.yaml': network('front', 'subnet: 10.91.0.0/24\nbridge: br0'),
    });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_CONFLICT', network: 'front', field: 'spec.bridge' })]);
    expect(set.invalidNetworks).toEqual(['front']);
  });

  test('an explicit bridge equal to another network\'s default bridge conflicts', async () => {
    const set = await loadSet({
      '/m/a.yaml': network('back', 'subnet: 10.90.0.0/24'),
      '/m/b.yaml': network('front', 'subnet: 10.91.0.0/24\nbridge: cn-back'),
    });
    expect(errors(set.diagnostics).map((d) => [d.code, d.network])).toEqual([['MANIFEST_CONFLICT', 'front']]);
  });

  test('an invalid network is listed apart; the valid ones are kept, sorted by name', async () => {
    const set = await loadSet({
      '/m/a.yaml': network('zeta', 'subnet: 10.92.0.0/24'),
      '/m/b.yaml': network('alpha', 'subnet: 10.91.0.0/24'),
      '/m/c.yaml': network('broken', 'subnet: 10.93.0.1/24'),
    });
    expect(set.networks.map((n) => n.definition.name)).toEqual(['alpha', 'zeta']);
    expect(set.invalidNetworks).toEqual(['broken']);
    expect(set.brokenFiles).toEqual(['/m/c.yaml']);
  });

  test('the hash changes with the subnet, not with the manifest\'s formatting', async () => {
    const hashOf = async (text: string) => {
      const set = await loadSet({ '/m/n.yaml': text });
      expect(set.diagnostics).toEqual([]);
      return set.networks[0]!.hash;
    };
    const base = await hashOf(network('back', 'subnet: 10.90.0.0/24\nmtu: 1400'));
    const reformatted = `# the back network
apiVersion: corral/v1
kind: Network
metadata: {name: back}
spec: {mtu: 1400, subnet: "10.90.0.0/24"}   # flow style, other order
`;
    expect(await hashOf(reformatted)).toBe(base);
    expect(await hashOf(network('back', 'subnet: 10.90.0.0/24\nmtu: 1400\nmasquerade: true\nisolated: true'))).toBe(base);
    expect(await hashOf(network('back', 'subnet: 10.91.0.0/24\nmtu: 1400'))).not.toBe(base);
  });
});

describe('containers joining networks', () => {
  test('joining a network no manifest defines is an unknown reference, and the container is invalid', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back'), '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: nope}') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_UNKNOWN_REFERENCE', container: 'web', field: 'spec.network.name' })]);
    expect(set.invalidNames).toEqual(['web']);
    expect(set.containers).toEqual([]);
    expect(set.networks.map((n) => n.definition.name)).toEqual(['back']);
  });

  test('a container joining a network whose own manifest has errors is not blamed for it', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back', 'subnet: 10.90.0.5/24'), '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: back}') });
    expect(errors(set.diagnostics).map((d) => [d.code, d.network, d.container])).toEqual([['MANIFEST_INVALID_FORMAT', 'back', undefined]]);
    expect(set.invalidNetworks).toEqual(['back']);
    expect(set.containers.map((c) => c.spec.name)).toEqual(['web']);
  });

  test('a misspelled network name gets a did-you-mean', async () => {
    const set = await loadSet({ '/m/back.yaml': network('backend'), '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: backnd}') });
    expect(errors(set.diagnostics)[0]).toMatchObject({ code: 'MANIFEST_UNKNOWN_REFERENCE', hint: 'did you mean `backend`?' });
  });

  test('a fixed address outside the named network\'s subnet conflicts', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back'), '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: back, address: 10.89.0.20}') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'NETWORK_ADDRESS_CONFLICT', container: 'web', field: 'spec.network.address' })]);
    expect(set.invalidNames).toEqual(['web']);
  });

  test('a fixed address inside the named network\'s subnet is fine', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back'), '/m/web.yaml': manifest('web', 'network: {mode: bridge, name: back, address: 10.90.0.20}') });
    expect(set.diagnostics).toEqual([]);
    expect(set.containers[0]!.spec.network.bridge).toEqual({ address: '10.90.0.20', aliases: [], network: 'back' });
  });

  test('two containers with one fixed address on one network: a duplicate entry', async () => {
    const set = await loadSet({
      '/m/back.yaml': network('back'),
      '/m/a.yaml': manifest('api', 'network: {mode: bridge, name: back, address: 10.90.0.20}'),
      '/m/b.yaml': manifest('web', 'network: {mode: bridge, name: back, address: 10.90.0.20}'),
    });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_DUPLICATE_ENTRY', container: 'web', field: 'spec.network.address' })]);
    expect(set.invalidNames).toEqual(['web']);
    expect(set.containers.map((c) => c.spec.name)).toEqual(['api']);
  });

  test('the same fixed address on two different networks is fine', async () => {
    const set = await loadSet({
      '/m/back.yaml': network('back', 'subnet: 10.90.0.0/16'),
      '/m/front.yaml': network('front', 'subnet: 10.91.0.0/16'),
      '/m/a.yaml': manifest('api', 'network: {mode: bridge, name: back, address: 10.90.0.20}'),
      '/m/b.yaml': manifest('web', 'network: {mode: bridge, name: front, address: 10.91.0.20}'),
    });
    expect(set.diagnostics).toEqual([]);
  });

  test('`network.name` without `mode: bridge` conflicts', async () => {
    const set = await loadSet({ '/m/back.yaml': network('back'), '/m/web.yaml': manifest('web', 'network: {name: back}') });
    expect(errors(set.diagnostics)).toEqual([expect.objectContaining({ code: 'MANIFEST_CONFLICT', container: 'web', field: 'spec.network.name' })]);
    expect(set.invalidNames).toEqual(['web']);
  });

  test('a container on the default network hashes as before networks had names; one on a named network records it', async () => {
    const set = await loadSet({
      '/m/back.yaml': network('back'),
      '/m/a.yaml': manifest('plain', 'network: {mode: bridge}'),
      '/m/b.yaml': manifest('named', 'network: {mode: bridge, name: back}'),
    });
    expect(set.diagnostics).toEqual([]);
    const plain = set.containers.find((c) => c.spec.name === 'plain')!;
    const named = set.containers.find((c) => c.spec.name === 'named')!;
    expect(plain.spec.network.bridge).toEqual({ address: 'auto', aliases: [] });
    expect(plain.spec.network.bridge).not.toHaveProperty('network');
    expect(named.spec.network.bridge!.network).toBe('back');
    expect(named.hash).not.toBe(specHash({ ...named.spec, network: { ...named.spec.network, bridge: { address: 'auto', aliases: [] } } }));
  });

  test('a bridged container without `network.name` keeps the hash it had before networks existed (no restart on upgrade)', async () => {
    // Computed with the sources of the commit before `kind: Network` (git archive HEAD).
    const hashOf = async (extra: string) => (await loadSet({ '/m/web.yaml': manifest('web', extra) })).containers[0]!.hash;
    expect(await hashOf('network: {mode: bridge}')).toBe('sha256:18f800520fdcc2712de9958b2ce8455872f8cd8c0d811980ef85f0a56b5e1953');
    expect(await hashOf('network: {mode: bridge, address: 10.89.0.20, aliases: [db]}')).toBe('sha256:4f058e98c1314e0f8ce600dd999e93de7c6459519843ae2db19e7686e534b42f');
  });

  test('`name: default` is the default network: the same spec and hash as no name', async () => {
    const without = await loadSet({ '/m/a.yaml': manifest('web', 'network: {mode: bridge}') });
    const explicit = await loadSet({ '/m/a.yaml': manifest('web', 'network: {mode: bridge, name: default}') });
    expect(explicit.diagnostics).toEqual([]);
    expect(explicit.containers[0]!.spec.network.bridge).not.toHaveProperty('network');
    expect(explicit.containers[0]!.hash).toBe(without.containers[0]!.hash);
  });
});
