// Secrets and config files (`spec.secrets`, `spec.configFiles`): names unique per list, targets
// unique and canonical, never where corral mounts kernel filesystems or its own file tree, and
// never at or under a bind or a volume (the symlink that delivers the file would be written into
// the host's directory or a shared volume); `valueFrom: {secret}` names a secret of the list. Pure.

import { DEFAULT_MASKED_PATHS, FILES_MOUNT } from '../../defaults.js';
import type { FileV1 } from '../../manifest-v1.js';
import { isCanonicalAbsolute, isWithin, normalizeAbsolute } from '../../posix-path.js';
import type { DocumentCheck, Report } from '../report.js';

const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev'];
const RESERVED = [...KERNEL_FILESYSTEMS, FILES_MOUNT];

type ListName = 'secrets' | 'configFiles';

function checkList(report: Report, list: readonly FileV1[], which: ListName, targets: Map<string, string>): void {
  const names = new Map<string, number>();
  list.forEach((f, i) => {
    const earlier = names.get(f.name);
    if (earlier !== undefined) {
      report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', which, i, 'name'], `\`${f.name}\` is already the name of \`spec.${which}[${earlier}]\``);
    } else names.set(f.name, i);
    const target = f.target ?? `/run/secrets/${f.name}`;
    const path = ['spec', which, i, f.target === undefined ? 'name' : 'target'] as const;
    if (!isCanonicalAbsolute(target)) {
      report('error', 'MANIFEST_PATH_TRICK', [...path], `target \`${target}\` is not a canonical absolute path`, { hint: `write \`${normalizeAbsolute(target)}\` if that is what you mean` });
      return;
    }
    const reserved = RESERVED.find((r) => isWithin(target, r) || isWithin(r, target)) ?? DEFAULT_MASKED_PATHS.find((m) => isWithin(target, m));
    if (reserved !== undefined) {
      report('error', 'MANIFEST_PATH_TRICK', [...path], `target \`${target}\` is at or over \`${reserved}\`, which corral sets up itself`, { hint: 'choose a path of the container\'s own filesystem, such as /run/secrets/NAME or /etc/APP/FILE' });
      return;
    }
    const other = targets.get(target);
    if (other !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', [...path], `target \`${target}\` is already the target of ${other}`);
    else targets.set(target, `\`spec.${which}[${i}]\``);
    if (f.source.file !== undefined && !isCanonicalAbsolute(f.source.file)) {
      report('error', 'MANIFEST_PATH_TRICK', ['spec', which, i, 'source', 'file'], `source file \`${f.source.file}\` is not a canonical absolute path`, { hint: `write \`${normalizeAbsolute(f.source.file)}\` if that is what you mean` });
    } else if (f.source.file !== undefined && KERNEL_FILESYSTEMS.some((k) => isWithin(f.source.file!, k))) {
      // /proc/self/environ is corral's own environment, every `source.env` secret in it.
      report('error', 'MANIFEST_PATH_TRICK', ['spec', which, i, 'source', 'file'], `source file \`${f.source.file}\` is on a kernel filesystem`, { hint: 'name a regular file on the host' });
    }
  });
}

export const files: DocumentCheck = {
  name: 'files',
  run: ({ spec }, report) => {
    const targets = new Map<string, string>();
    checkList(report, spec.secrets ?? [], 'secrets', targets);
    checkList(report, spec.configFiles ?? [], 'configFiles', targets);
    // A symlink written under a bind or a volume lands in the host's directory or a shared volume.
    (spec.mounts ?? []).forEach((m, i) => {
      if (m.type === 'tmpfs') {
        if (targets.has(m.target)) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'mounts', i, 'target'], `mount target \`${m.target}\` is the target of ${targets.get(m.target)!}`);
        return;
      }
      for (const [target, owner] of targets) {
        if (isWithin(target, m.target)) {
          report('error', 'MANIFEST_CONFLICT', ['spec', 'mounts', i, 'target'], `${owner} delivers \`${target}\`, at or under this ${m.type} mount`, {
            detail: 'the file is a symlink written where its target is, which would be inside the host directory or the shared volume',
            hint: 'give the file a target outside the mount',
          });
        } else if (isWithin(m.target, target)) {
          report('error', 'MANIFEST_CONFLICT', ['spec', 'mounts', i, 'target'], `this ${m.type} mount is under \`${target}\`, which ${owner} delivers as a file`, { hint: 'give one of them another path' });
        }
      }
    });
    // One file's target inside another's would need the first to be a directory.
    const all = [...targets];
    for (const [a, ownerA] of all) {
      const outer = all.find(([b]) => b !== a && isWithin(a, b));
      if (outer) report('error', 'MANIFEST_CONFLICT', ['spec'], `${ownerA} delivers \`${a}\`, under \`${outer[0]}\`, which ${outer[1]} delivers as a file`, { hint: 'give one of them another path' });
    }
    // The bridge driver binds these files itself (names of the network, its DNS).
    if (spec.network?.mode === 'bridge') {
      for (const managed of ['/etc/hosts', '/etc/resolv.conf']) {
        const owner = targets.get(managed);
        if (owner) report('error', 'MANIFEST_CONFLICT', ['spec', 'network', 'mode'], `${owner} delivers \`${managed}\`, which a bridged container gets from corral's network`, { hint: 'use `network.dns` for resolv.conf settings, or another target' });
      }
    }
    const secrets = new Set((spec.secrets ?? []).map((s) => s.name));
    const env = spec.env ?? {};
    const entries = Array.isArray(env) ? env.map((e, i) => [i, e.valueFrom?.secret] as const) : Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? undefined : v.valueFrom.secret] as const);
    for (const [key, secret] of entries) {
      if (secret === undefined || secrets.has(secret)) continue;
      report('error', 'MANIFEST_UNKNOWN_REFERENCE', ['spec', 'env', key, 'valueFrom', 'secret'], `environment variable takes its value from secret \`${secret}\`, which \`spec.secrets\` does not define`, {
        hint: secrets.size > 0 ? `defined: ${[...secrets].join(', ')}` : 'add it to `spec.secrets`',
      });
    }
  },
};
