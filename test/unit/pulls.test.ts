// The plan's pull steps (src/reconciler/plan/pulls.ts): a registry image the store lacks is pulled
// by the first start that needs it, `Always` pulls at every start, `Never` and store names never
// pull, and a container that starts nothing pulls nothing (the agent's resyncs).

import { describe, expect, test } from '@jest/globals';
import { plan } from '../../src/reconciler/plan/plan.js';
import type { Actual, ActualContainer, DesiredContainer } from '../../src/reconciler/plan/types.js';
import { renderReport } from '../../src/cli/views/plan-human.js';
import { buildReport } from '../../src/cli/views/plan-json.js';
import type { Styler } from '../../src/cli/style.js';
import { desiredOf, exited, recordFor, RUNNING, T0 } from '../support/plan-fixtures.js';

const plain = ((_color: string, t: string) => t) as Styler;
const REF = 'registry.example.com/team/app';
const text = (name: string, image: string, policy = ''): string =>
  `apiVersion: corral/v1\nkind: Container\nmetadata: {name: ${name}}\nspec:\n  rootfs: {image: "${image}"${policy ? `, pullPolicy: ${policy}` : ''}}\n  command: [/bin/true]\n`;

async function desired(files: Record<string, string>, inStore: readonly string[] = []): Promise<{ containers: DesiredContainer[]; rest: Omit<Awaited<ReturnType<typeof desiredOf>>, 'containers'> }> {
  const { containers, ...rest } = await desiredOf(files);
  // What the rootfs port says of an image in the store: its digest.
  const withRefs = containers.map((c) => (c.spec.rootfs.kind === 'image' && inStore.includes(`${c.spec.rootfs.name}:${c.spec.rootfs.tag}`)
    ? { ...c, references: { image: 'sha256:' + 'a'.repeat(64) } } : c));
  return { containers: withRefs, rest };
}

const actualOf = (...containers: ActualContainer[]): Actual => ({ containers, orphans: [], serial: 1 });

describe('pull steps', () => {
  test('two new containers of one missing image: one pull, for both; a store name is never pulled', async () => {
    const { containers, rest } = await desired({ '/m/a.yaml': text('a', `${REF}:1`), '/m/b.yaml': text('b', `${REF}:1`), '/m/c.yaml': text('c', 'local:1') });
    const p = plan({ ...rest, containers }, actualOf(), { now: T0, allowEmpty: false });
    expect(p.pulls).toEqual([{ reference: `${REF}:1`, reason: { code: 'not-in-store', text: 'not in the store' }, containers: ['a', 'b'] }]);
    const human = renderReport(buildReport('plan', p, p.diagnostics, null), plain);
    expect(human).toContain(`  ⇣ pull     ${REF}:1 (image, for a, b)\n        not in the store`);
    expect(buildReport('plan', p, p.diagnostics, null).pulls).toEqual(p.pulls);
  });

  test('in the store: no pull, unless `Always` and the container starts; `Never` never', async () => {
    const files = { '/m/a.yaml': text('a', `${REF}:1`), '/m/b.yaml': text('b', `${REF}:2`, 'Always'), '/m/n.yaml': text('n', `${REF}:3`, 'Never') };
    const { containers, rest } = await desired(files, [`${REF}:1`, `${REF}:2`]);
    const created = plan({ ...rest, containers }, actualOf(), { now: T0, allowEmpty: false });
    expect(created.pulls.map((s) => [s.reference, s.reason.code, s.containers])).toEqual([[`${REF}:2`, 'pull-always', ['b']]]);
    // Running and unchanged: a resync starts nothing, so it pulls nothing, `Always` included.
    const running = containers.map((d) => ({ record: recordFor(d), live: RUNNING }));
    expect(plan({ ...rest, containers }, actualOf(...running), { now: T0, allowEmpty: false }).pulls).toEqual([]);
    // Exited and restarted by its policy: `Always` pulls again.
    const b = containers.find((d) => d.spec.name === 'b')!;
    const crashed = plan({ ...rest, containers: [b] }, actualOf({ record: recordFor(b, { status: 'exited' }), live: exited(1) }), { now: new Date(T0.getTime() + 3_600_000), allowEmpty: false });
    expect(crashed.changes[0]!.action).toBe('start');
    expect(crashed.pulls.map((s) => s.reason.code)).toEqual(['pull-always']);
  });

  test('pinned by digest: the pull names the digest', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const { containers, rest } = await desired({ '/m/a.yaml': text('a', `${REF}@${digest}`) });
    expect(plan({ ...rest, containers }, actualOf(), { now: T0, allowEmpty: false }).pulls.map((s) => s.reference)).toEqual([`${REF}@${digest}`]);
  });
});
