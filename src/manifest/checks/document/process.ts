// What the container's first process is started with: a command, an environment, capabilities.
// Each rule catches a manifest that the schema accepts but that would start something other than
// what it says (no command at all, a variable set twice, a capability both added and dropped). Pure.

import { ALL_CAPABILITIES, canonicalCapability } from '../../defaults.js';
import { didYouMean } from '../../suggest.js';
import type { DocumentCheck } from '../report.js';

export const commandRequired: DocumentCheck = {
  name: 'command-required',
  run: ({ spec }, report) => {
    if (spec.command === undefined && spec.rootfs.image === undefined) {
      report('error', 'MANIFEST_REQUIRED_FIELD', ['spec'], 'missing required field `spec.command`', {
        key: true, detail: 'only an image can supply a default command; `path` and `host` roots need one', hint: 'add `command: [/bin/sh, -c, "..."]`',
      });
    }
  },
};

export const env: DocumentCheck = {
  name: 'env',
  run: ({ spec }, report) => {
    if (!Array.isArray(spec.env)) return;
    const seen = new Map<string, number>();
    spec.env.forEach((e, i) => {
      const previous = seen.get(e.name);
      if (previous !== undefined) report('error', 'MANIFEST_DUPLICATE_ENTRY', ['spec', 'env', i, 'name'], `environment variable \`${e.name}\` is already set by \`spec.env[${previous}]\``);
      else seen.set(e.name, i);
    });
  },
};

/** `user` names a user once and a group once: by number or by name, not both. */
export const user: DocumentCheck = {
  name: 'user',
  run: ({ spec }, report) => {
    const u = spec.user;
    if (u === undefined || typeof u === 'string') return;
    if (u.uid !== undefined && u.name !== undefined) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'name'], '`user.uid` and `user.name` both name the user', { hint: 'keep one of them' });
    }
    if (u.gid !== undefined && u.group !== undefined) {
      report('error', 'MANIFEST_CONFLICT', ['spec', 'user', 'group'], '`user.gid` and `user.group` both name the group', { hint: 'keep one of them' });
    }
  },
};

export const capabilities: DocumentCheck = {
  name: 'capabilities',
  run: ({ spec }, report) => {
    const caps = spec.security?.capabilities;
    const known = new Set([...ALL_CAPABILITIES, 'ALL']);
    const names = [...ALL_CAPABILITIES.map((c) => c.slice(4)), 'ALL'];
    for (const side of ['add', 'drop'] as const) {
      (caps?.[side] ?? []).forEach((raw, i) => {
        if (!known.has(canonicalCapability(raw))) {
          report('error', 'MANIFEST_INVALID_VALUE', ['spec', 'security', 'capabilities', side, i], `unknown capability \`${raw}\``, {
            hint: didYouMean(raw.toUpperCase().replace(/^CAP_/, ''), names),
          });
        }
      });
    }
    const dropped = new Set((caps?.drop ?? []).map(canonicalCapability));
    (caps?.add ?? []).forEach((raw, i) => {
      const cap = canonicalCapability(raw);
      if (cap !== 'ALL' && dropped.has(cap)) report('error', 'MANIFEST_CONFLICT', ['spec', 'security', 'capabilities', 'add', i], `capability \`${cap}\` is both added and dropped`, { hint: 'remove it from one of the two lists' });
    });
  },
};
