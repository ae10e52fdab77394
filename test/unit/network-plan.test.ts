import { describe, expect, test } from '@jest/globals';
import { networkHash, normalizeNetwork, type NetworkDefinition } from '../../src/manifest/network.js';
import type { NetworkSpecV1 } from '../../src/manifest/manifest-v1.js';
import { hasChanges, plan } from '../../src/reconciler/plan/plan.js';
import type { Actual, ActualContainer, ActualNetwork, Desired, DesiredContainer, DesiredNetwork } from '../../src/reconciler/plan/types.js';
import { manifest } from '../support/memory-source.js';
import { desiredOf, exited, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';

const opts = (allowEmpty = false) => ({ now: T0, allowEmpty });

function definition(name: string, spec: Partial<NetworkSpecV1> = {}): NetworkDefinition {
  return normalizeNetwork({ apiVersion: 'corral/v1', kind: 'Network', metadata: { name }, spec: { subnet: '10.90.0.0/24', ...spec } });
}

function wanted(def: NetworkDefinition, hostDiagnostics: DesiredNetwork['hostDiagnostics'] = []): DesiredNetwork {
  return { definition: def, hash: networkHash(def), origin: { file: `/m/${def.name}.net.yaml`, index: 0 }, hostDiagnostics };
}

function applied(def: NetworkDefinition): ActualNetwork {
  return { definition: def, hash: networkHash(def), origin: { file: `/m/${def.name}.net.yaml`, index: 0 } };
}

/** A desired container; `network` names the network it joins (`null`: no bridge, `default`: the default one). */
async function container(name: string, network: string | null): Promise<DesiredContainer> {
  const files: Record<string, string> = {};
  if (network === null) {
    files[`/m/${name}.yaml`] = manifest(name);
  } else if (network === 'default') {
    files[`/m/${name}.yaml`] = manifest(name, 'network: {mode: bridge}');
  } else {
    files[`/m/${network}.net.yaml`] = `apiVersion: corral/v1\nkind: Network\nmetadata: {name: ${network}}\nspec: {subnet: 10.90.0.0/24}\n`;
    files[`/m/${name}.yaml`] = manifest(name, `network: {mode: bridge, name: ${network}}`);
  }
  const desired = await desiredOf(files);
  expect(desired.diagnostics).toEqual([]);
  return desired.containers[0]!;
}

function desiredWith(parts: { containers?: DesiredContainer[]; networks?: DesiredNetwork[]; invalidNetworks?: string[]; brokenFiles?: string[]; missing?: boolean }): Desired {
  return {
    containers: parts.containers ?? [], elsewhere: [], invalidNames: [], brokenFiles: parts.brokenFiles ?? [], missing: parts.missing ?? false, diagnostics: [],
    networks: parts.networks ?? [], invalidNetworks: parts.invalidNetworks ?? [],
  };
}

function actualWith(parts: { containers?: ActualContainer[]; networks?: ActualNetwork[] }): Actual {
  return { containers: parts.containers ?? [], networks: parts.networks ?? [], orphans: [], serial: 7 };
}

const running = (d: DesiredContainer): ActualContainer => ({ record: recordFor(d), live: RUNNING });
const networkNamed = (p: ReturnType<typeof plan>, name: string) => p.networks.find((n) => n.name === name)!;
const changeNamed = (p: ReturnType<typeof plan>, name: string) => p.changes.find((c) => c.name === name)!;

describe('plan: networks', () => {
  test('a new network is created', () => {
    const back = definition('back');
    const p = plan(desiredWith({ networks: [wanted(back)] }), actualWith({}), opts());
    expect(p.networks).toEqual([{
      name: 'back', action: 'create', reasons: [{ code: 'new-manifest', text: 'new manifest' }],
      before: null, after: back, afterHash: networkHash(back), origin: { file: '/m/back.net.yaml', index: 0 },
    }]);
    expect(hasChanges(p)).toBe(true);
    expect(p.complete).toBe(true);
  });

  test('a network whose hash matches is up to date, and the plan has no changes', async () => {
    const back = definition('back');
    const web = await container('web', 'back');
    const p = plan(desiredWith({ containers: [web], networks: [wanted(back)] }), actualWith({ containers: [running(web)], networks: [applied(back)] }), opts());
    expect(p.networks).toEqual([expect.objectContaining({ name: 'back', action: 'none', reasons: [{ code: 'up-to-date', text: 'up to date' }], before: back, after: back })]);
    expect(changeNamed(p, 'web').action).toBe('none');
    expect(hasChanges(p)).toBe(false);
    expect(p.complete).toBe(true);
    expect(p.diagnostics).toEqual([]);
  });

  test.each([
    ['mtu', { mtu: 9000 }, 'mtu: 1500 → 9000'],
    ['masquerade', { masquerade: false }, 'masquerade: true → false'],
    ['isolated', { isolated: false }, 'isolated: true → false'],
  ] as const)('a %s change is a live update; the containers on the network are left running', async (_field, patch, text) => {
    const before = definition('back');
    const after = definition('back', patch);
    const web = await container('web', 'back');
    const p = plan(desiredWith({ containers: [web], networks: [wanted(after)] }), actualWith({ containers: [running(web)], networks: [applied(before)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'update', reasons: [{ code: 'manifest-changed', text }], before, after, afterHash: networkHash(after) });
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'none', reasons: [{ code: 'up-to-date' }] });
  });

  test.each([
    ['subnet', { subnet: '10.91.0.0/24' }],
    ['bridge', { bridge: 'br-back' }],
    ['gateway', { gateway: '10.90.0.254' }],
  ] as const)('a %s change rebuilds the network and restarts its running containers; others are untouched', async (field, patch) => {
    const before = definition('back');
    const after = definition('back', patch);
    const front = definition('front', { subnet: '10.92.0.0/24' });
    const web = await container('web', 'back');
    const api = await container('api', 'front');
    const desired = desiredWith({ containers: [web, api], networks: [wanted(after), wanted(front)] });
    const p = plan(desired, actualWith({ containers: [running(web), running(api)], networks: [applied(before), applied(front)] }), opts());
    const rebuilt = networkNamed(p, 'back');
    expect(rebuilt).toMatchObject({ action: 'recreate', before, after, afterHash: networkHash(after) });
    expect(new Set(rebuilt.reasons.map((r) => r.code))).toEqual(new Set(['manifest-changed']));
    expect(rebuilt.reasons.map((r) => r.text)).toContainEqual(expect.stringMatching(new RegExp(`^${field}: `)));
    expect(networkNamed(p, 'front').action).toBe('none');
    const restarted = changeNamed(p, 'web');
    expect(restarted.action).toBe('restart');
    expect(restarted.reasons.map((r) => r.code)).toEqual(['network-changed']);
    expect(restarted.after).toEqual(web.spec);
    expect(changeNamed(p, 'api')).toMatchObject({ action: 'none', reasons: [{ code: 'up-to-date' }] });
  });

  test('a rebuilt network does not restart a container on it that is not running', async () => {
    const web = await container('web', 'back');
    const p = plan(
      desiredWith({ containers: [web], networks: [wanted(definition('back', { subnet: '10.91.0.0/24' }))] }),
      actualWith({ containers: [{ record: recordFor(web, { status: 'stopped', desiredState: 'stopped' }), live: { ...exited(143), exit: null } }], networks: [applied(definition('back'))] }),
      opts(),
    );
    expect(networkNamed(p, 'back').action).toBe('recreate');
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'none', reasons: [{ code: 'stopped-by-hand' }] });
  });

  test('a rebuilt network keeps a stop by hand: the running container is stopped, not restarted', async () => {
    const web = await container('web', 'back');
    const p = plan(
      desiredWith({ containers: [web], networks: [wanted(definition('back', { subnet: '10.91.0.0/24' }))] }),
      actualWith({ containers: [{ record: recordFor(web, { desiredState: 'stopped' }), live: RUNNING }], networks: [applied(definition('back'))] }),
      opts(),
    );
    expect(networkNamed(p, 'back').action).toBe('recreate');
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'stop', reasons: [{ code: 'stopped-by-hand' }] });
  });

  test('a kept network (still joined) counts as there: a restart of a container on it goes ahead', async () => {
    const back = definition('back');
    const web = await container('web', 'back');
    const record = recordFor(web, { hash: 'sha256:older', spec: { ...web.spec, process: { ...web.spec.process, env: [{ name: 'A', value: '1' }] } } });
    const p = plan(desiredWith({ containers: [web] }), actualWith({ containers: [{ record, live: RUNNING }], networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back').reasons.map((r) => r.code)).toEqual(['network-in-use']);
    expect(changeNamed(p, 'web').action).toBe('restart');
  });

  test('a network no longer desired is removed', async () => {
    const back = definition('back');
    const keep = await container('keep', null);
    const p = plan(desiredWith({ containers: [keep] }), actualWith({ containers: [running(keep)], networks: [applied(back)] }), opts());
    expect(p.networks).toEqual([expect.objectContaining({ name: 'back', action: 'remove', reasons: [{ code: 'manifest-removed', text: 'its manifest was removed' }], before: back, after: null, afterHash: null })]);
    expect(p.complete).toBe(true);
    expect(p.diagnostics).toEqual([]);
  });

  test('a network still joined by a container that stays is not removed: network-in-use, and the plan is incomplete', async () => {
    const back = definition('back');
    const web = await container('web', 'back');
    const p = plan(desiredWith({ containers: [web] }), actualWith({ containers: [running(web)], networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'none', reasons: [{ code: 'network-in-use', text: expect.stringContaining('`web`') }], after: back, afterHash: networkHash(back) });
    expect(p.diagnostics).toEqual([expect.objectContaining({ severity: 'error', code: 'NETWORK_IN_USE', network: 'back' })]);
    expect(p.complete).toBe(false);
    expect(changeNamed(p, 'web').action).toBe('none');
  });

  test('a container removed in the same plan does not keep its network', async () => {
    const back = definition('back');
    const web = await container('web', 'back');
    const keep = await container('keep', null);
    const p = plan(desiredWith({ containers: [keep] }), actualWith({ containers: [running(web), running(keep)], networks: [applied(back)] }), opts());
    expect(changeNamed(p, 'web').action).toBe('remove');
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'remove', reasons: [{ code: 'manifest-removed' }] });
    expect(p.diagnostics).toEqual([]);
    expect(p.complete).toBe(true);
  });

  test('a network whose manifest is invalid keeps its last applied definition', async () => {
    const back = definition('back');
    const keep = await container('keep', null);
    const p = plan(desiredWith({ containers: [keep], invalidNetworks: ['back'] }), actualWith({ containers: [running(keep)], networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'none', reasons: [{ code: 'manifest-invalid' }], before: back, after: back, afterHash: networkHash(back) });
    expect(p.complete).toBe(false);
  });

  test('a network defined in a broken file keeps its last applied definition', async () => {
    const back = definition('back');
    const keep = await container('keep', null);
    const p = plan(desiredWith({ containers: [keep], brokenFiles: ['/m/back.net.yaml'] }), actualWith({ containers: [running(keep)], networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'none', reasons: [{ code: 'manifest-invalid' }] });
  });

  test('a container can start on a network whose manifest is invalid but that the host still has', async () => {
    const back = definition('back');
    const web = await container('web', 'back');
    const p = plan(desiredWith({ containers: [web], invalidNetworks: ['back'] }), actualWith({ networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back').action).toBe('none');
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'create', reasons: [{ code: 'new-manifest' }] });
  });

  test('a container joining a network that is neither desired nor on the host is not created', async () => {
    const web = await container('web', 'back');
    const p = plan(desiredWith({ containers: [web], invalidNetworks: ['back'] }), actualWith({}), opts());
    expect(p.networks).toEqual([]);
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'none', reasons: [{ code: 'network-missing', text: expect.stringContaining('`back`') }], diff: [] });
    expect(p.complete).toBe(false);
  });

  test('a container on the default network needs no Network manifest', async () => {
    const web = await container('web', 'default');
    const p = plan(desiredWith({ containers: [web] }), actualWith({}), opts());
    expect(changeNamed(p, 'web').action).toBe('create');
    expect(p.complete).toBe(true);
  });

  test('a network the host cannot apply is left as is, with the host\'s diagnostic', () => {
    const back = definition('back');
    const err = { severity: 'error' as const, code: 'NETWORK_SUBNET_CONFLICT' as const, summary: 'subnet 10.90.0.0/24 overlaps the host route 10.90.0.0/16 (eth1)' };
    const p = plan(desiredWith({ networks: [wanted(back, [err])] }), actualWith({}), opts());
    expect(p.networks).toEqual([expect.objectContaining({
      name: 'back', action: 'none', reasons: [{ code: 'host-unsupported', text: expect.stringContaining('overlaps the host route') }], after: null, afterHash: null,
    })]);
    expect(p.diagnostics).toEqual([err]);
    expect(p.complete).toBe(false);
  });

  test('a network the host cannot apply keeps its last applied definition, and the containers on it start', async () => {
    const before = definition('back');
    const after = definition('back', { subnet: '10.91.0.0/24' });
    const web = await container('web', 'back');
    const err = { severity: 'error' as const, code: 'NETWORK_SUBNET_CONFLICT' as const, summary: 'subnet overlaps a host route' };
    const p = plan(desiredWith({ containers: [web], networks: [wanted(after, [err])] }), actualWith({ networks: [applied(before)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'none', reasons: [{ code: 'host-unsupported' }], before, after: before, afterHash: networkHash(before) });
    expect(changeNamed(p, 'web').action).toBe('create');
  });

  test('a container joining a new network the host cannot make is not created', async () => {
    const web = await container('web', 'back');
    const err = { severity: 'error' as const, code: 'NETWORK_SUBNET_CONFLICT' as const, summary: 'subnet overlaps a host route' };
    const p = plan(desiredWith({ containers: [web], networks: [wanted(definition('back'), [err])] }), actualWith({}), opts());
    expect(changeNamed(p, 'web')).toMatchObject({ action: 'none', reasons: [{ code: 'network-missing' }] });
  });

  test('an empty or missing manifest set removes no network without --allow-empty', () => {
    const back = definition('back');
    for (const missing of [true, false]) {
      const p = plan(desiredWith({ missing }), actualWith({ networks: [applied(back)] }), opts());
      expect(p.networks).toEqual([expect.objectContaining({ name: 'back', action: 'none', reasons: [{ code: 'prune-refused', text: expect.stringContaining('--allow-empty') }], after: back })]);
      expect(hasChanges(p)).toBe(false);
    }
    const allowed = plan(desiredWith({}), actualWith({ networks: [applied(back)] }), opts(true));
    expect(allowed.networks).toEqual([expect.objectContaining({ name: 'back', action: 'remove', reasons: [expect.objectContaining({ code: 'manifest-removed' })] })]);
  });

  test('a set with only an invalid network is not empty: the guard does not hold, the network is kept as invalid', () => {
    const back = definition('back');
    const p = plan(desiredWith({ invalidNetworks: ['back'] }), actualWith({ networks: [applied(back)] }), opts());
    expect(networkNamed(p, 'back')).toMatchObject({ action: 'none', reasons: [{ code: 'manifest-invalid' }] });
  });

  test('networks are listed by name', () => {
    const p = plan(desiredWith({ networks: [wanted(definition('zeta', { subnet: '10.93.0.0/24' })), wanted(definition('alpha', { subnet: '10.94.0.0/24' }))] }), actualWith({ networks: [applied(definition('mid', { subnet: '10.95.0.0/24' }))] }), opts());
    expect(p.networks.map((n) => [n.name, n.action])).toEqual([['alpha', 'create'], ['mid', 'remove'], ['zeta', 'create']]);
  });
});
