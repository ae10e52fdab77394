// Running an exploit end to end, the way a user's manifest runs: `corral reconcile --once` on a
// manifest that binds the exploit binary read-only at /x, then its output from `corral logs`.

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { psJson, type Sandbox } from '../support/host-sandbox.js';
import { exploitDir } from './build.js';

/** `spec:` lines of a run-once container on the host's root, with the exploit at /x. */
export function probeManifest(name: string, argv: readonly string[], extra = '', extraMounts: readonly string[] = []): string {
  const lines = [
    'rootfs: {host: {}}',
    `command: ${JSON.stringify(['/x/exploit', ...argv])}`,
    'restartPolicy: Never',
    `mounts: [{type: bind, source: ${exploitDir()}, target: /x, readOnly: true}${extraMounts.map((m) => `, ${m}`).join('')}]`,
    ...extra.split('\n').filter(Boolean),
  ];
  return `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: ${name}\nspec:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** Converges, waits for each named container to exit, returns the text each printed. */
export async function runProbes(sb: Sandbox, names: readonly string[]): Promise<Record<string, string>> {
  const r = sb.run('reconcile', '--once', '--output', 'json');
  if (r.code !== 0 && r.code !== 2) throw new Error(`reconcile failed (${r.code}): ${r.stderr}${r.stdout}`);
  for (let i = 0; i < 300; i++) {
    const ps = psJson(sb);
    if (names.every((n) => ['exited', 'failed', 'stopped'].includes(ps.find((c) => c.name === n)?.status ?? ''))) break;
    await sleep(100);
  }
  const out: Record<string, string> = {};
  for (const n of names) {
    const logs = sb.run('logs', n);
    out[n] = logs.stdout.split('\n').map((l) => /^\S+ (stdout|stderr) [FP] (.*)$/.exec(l)?.[2] ?? '').join('\n');
  }
  return out;
}

/** `major:minor` of the block device behind the host's `/`, or null (a VM on 9p). */
export function hostRootDisk(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === '/' && f[2] && !f[2].startsWith('0:')) return f[2];
  }
  return null;
}
