// The cgroup handle as the state record stores it (formatVersion 1; handles from before leaves
// have none, and keep working until the container's next start; handles from before
// `leavesUnder` have the leaves in every directory). Read back field by field.

import { HandleReader } from '../../state/handle-reader.js';
import type { Json } from '../../state/record.js';
import type { CgroupBackend, CgroupHandle } from './types.js';

const BACKENDS: readonly CgroupBackend[] = ['v1', 'v2', 'none'];

export function encodeCgroupHandle(h: CgroupHandle): Json {
  return {
    formatVersion: h.formatVersion,
    backend: h.backend,
    name: h.name,
    v1: { ...h.v1 },
    unified: h.unified,
    ...(h.leaves ? { leaves: { monitor: h.leaves.monitor, payload: h.leaves.payload } } : {}),
    ...(h.leavesUnder ? { leavesUnder: [...h.leavesUnder] } : {}),
  };
}

export function decodeCgroupHandle(json: Json): CgroupHandle {
  const r = new HandleReader('cgroup handle');
  const o = r.object(json);
  r.version(o, [1]);
  const leaves = o['leaves'] === undefined ? undefined : r.object(o['leaves'], 'leaves');
  return {
    formatVersion: 1,
    backend: r.oneOf(o, 'backend', BACKENDS),
    name: r.string(o, 'name'),
    v1: r.stringMap(o, 'v1'),
    unified: r.stringOrNull(o, 'unified'),
    ...(leaves ? { leaves: { monitor: r.string(leaves, 'monitor'), payload: r.string(leaves, 'payload') } } : {}),
    ...(o['leavesUnder'] === undefined ? {} : { leavesUnder: r.strings(o, 'leavesUnder') }),
  };
}
