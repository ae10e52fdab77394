// `validate` and `plan` name every setting that weakens containment (a warning: allowed, but a
// reviewer must see it), and refuse the ones that would let a container defeat the runtime's own
// objects (a mount over /dev/null or a masked path, a working directory in /proc).

import { describe, expect, test } from '@jest/globals';
import { loadSet } from '../support/schema.js';

function manifest(spec: string): string {
  return `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: c\nspec:\n  rootfs: {host: {}}\n  command: [/bin/true]\n${spec.split('\n').map((l) => `  ${l}`).join('\n')}\n`;
}

async function findings(spec: string): Promise<Array<[string, string, string]>> {
  const set = await loadSet({ '/m/c.yaml': manifest(spec) });
  return set.diagnostics.map((d) => [d.severity, d.code, d.field ?? '']);
}

describe('warnings for settings that weaken containment', () => {
  test.each([
    ['security: {privileged: true}', 'spec.security.privileged'],
    ['namespaces: {pid: host}', 'spec.namespaces.pid'],
    ['namespaces: {ipc: host}', 'spec.namespaces.ipc'],
    ['namespaces: {uts: host}', 'spec.namespaces.uts'],
    ['namespaces: {network: host}', 'spec.namespaces.network'],
    ['network: {mode: host}', 'spec.network.mode'],
    ['mounts: [{type: bind, source: /, target: /host}]', 'spec.mounts[0].source'],
    ['mounts: [{type: bind, source: /proc, target: /hostproc}]', 'spec.mounts[0].source'],
    ['mounts: [{type: bind, source: /sys, target: /hostsys}]', 'spec.mounts[0].source'],
    ['mounts: [{type: bind, source: /dev, target: /hostdev}]', 'spec.mounts[0].source'],
    ['mounts: [{type: bind, source: /var/run/docker.sock, target: /docker.sock}]', 'spec.mounts[0].source'],
    ['mounts: [{type: bind, source: /var/lib/corral/state, target: /s}]', 'spec.mounts[0].source'],
    ['security: {capabilities: {add: [NET_ADMIN]}}', 'spec.security.capabilities.add[0]'],
    ['security: {capabilities: {add: [SYS_NICE]}}', 'spec.security.capabilities.add[0]'],
    ['security: {seccomp: unconfined}', 'spec.security.seccomp'],
    ['security: {noNewPrivileges: false}', 'spec.security.noNewPrivileges'],
  ])('%s', async (spec, field) => {
    expect(await findings(spec)).toContainEqual(['warning', 'MANIFEST_RISKY', field]);
  });

  test('the defaults, a re-added default capability and ordinary binds warn about nothing', async () => {
    expect(await findings('security: {capabilities: {drop: [ALL], add: [CHOWN]}}\nmounts: [{type: bind, source: /etc/hostname, target: /etc/hostname, readOnly: true}]')).toEqual([]);
  });
});

describe('refused: objects the runtime relies on', () => {
  test.each([
    ['mounts: [{type: bind, source: /etc/hostname, target: /dev/null}]', 'spec.mounts[0].target'],
    ['mounts: [{type: tmpfs, target: /dev/pts}]', 'spec.mounts[0].target'],
    ['mounts: [{type: tmpfs, target: /sys/firmware}]', 'spec.mounts[0].target'],
    ['mounts: [{type: tmpfs, target: /secret}]\nsecurity: {maskedPaths: [/secret]}', 'spec.mounts[0].target'],
    ['devices: [{path: /dev/fuse, containerPath: /dev/null}]', 'spec.devices[0].containerPath'],
    ['workingDir: /proc/self/fd/3', 'spec.workingDir'],
    ['workingDir: /sys/kernel', 'spec.workingDir'],
  ])('%s', async (spec, field) => {
    expect(await findings(spec)).toContainEqual(['error', 'MANIFEST_PATH_TRICK', field]);
  });
});
