import { describe, expect, test } from '@jest/globals';
import { poolSpec, pooledSpec } from '../../src/manifest/spec-pool.js';
import { desiredOne } from '../support/plan-fixtures.js';

describe('spec pool', () => {
  test('one object per hash: the first spec made is the one every later equal spec is served as', async () => {
    const a = await desiredOne('pool-a');
    const again = await desiredOne('pool-a');
    // Two loads of the same manifest: equal specs, one object.
    expect(again.hash).toBe(a.hash);
    expect(again.spec).toBe(a.spec);
    expect(pooledSpec(a.hash)).toBe(a.spec);
    const copy = structuredClone(a.spec);
    expect(poolSpec(a.hash, copy)).toBe(a.spec);
    // Another spec, another hash, another object.
    const b = await desiredOne('pool-b');
    expect(b.spec).not.toBe(a.spec);
    expect(pooledSpec(b.hash)).toBe(b.spec);
    expect(pooledSpec('sha256:none')).toBeUndefined();
  });

  test('parts most containers have alike are one object across specs; a part that differs is its own', async () => {
    const a = await desiredOne('parts-a');
    const b = await desiredOne('parts-b');
    const c = await desiredOne('parts-c', 'security: {capabilities: {add: [NET_ADMIN]}}');
    expect(b.spec.security).toBe(a.spec.security);
    expect(b.spec.devices).toBe(a.spec.devices);
    expect(b.spec.logging).toBe(a.spec.logging);
    expect(c.spec.security).not.toBe(a.spec.security);
    expect(c.spec.security.capabilities).toContain('CAP_NET_ADMIN');
    expect(c.spec.devices).toBe(a.spec.devices);
  });
});
