// Spawn specs for protocol tests: one using every field, malformed variants, fuzzed copies.

import { encodeSpawnSpec, encodeWire } from '../../../src/drivers/namespaces/protocol.js';
import { SPEC_HEADER_BYTES } from '../../../src/drivers/namespaces/protocol-fields.js';
import type { ExecSpawnSpec, RunSpawnSpec } from '../../../src/drivers/namespaces/spawn-spec.js';

export const SAMPLE: RunSpawnSpec = {
  kind: 'run', name: 'sample', namespaceFlags: 0x7e020000, userNamespace: { uidMap: '0 100000 65536\n', gidMap: '0 100000 65536\n' },
  joinNetwork: { pid: 1, startTime: 2 }, cgroupProcs: ['/sys/fs/cgroup/pids/x/cgroup.procs', '/sys/fs/cgroup/unified/x/cgroup.procs'], cgroupDir: '/sys/fs/cgroup/unified/x',
  root: { target: '/var/lib/corral/containers/sample/rootfs', source: 'overlay', fstype: 'overlay', data: 'lowerdir=/a:/b,upperdir=/u,workdir=/w', flags: 0, propagation: 0x44000 },
  mounts: [
    { kind: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: 14, create: 'dir' },
    { kind: 'mknod', target: '/dev/null', mode: 0o20666, dev: 259 },
    { kind: 'symlink', source: 'pts/ptmx', target: '/dev/ptmx', optional: true },
    { kind: 'bind', source: '/host/dir "quoted" \\ é', target: '/data', flags: 0x5001, create: 'dir' },
  ],
  finalize: [{ kind: 'write', target: '/proc/sys/net/ipv4/ip_forward', data: '1' }, { kind: 'mask', target: '/proc/kcore', optional: true }, { kind: 'remount', target: '/', flags: 1 }],
  hostname: 'box', loopback: true,
  process: {
    argv: ['/bin/sh', '-c', 'echo "hi"\n\ttab'], env: ['PATH=/bin', 'EMPTY='], cwd: '/', uid: 1000, gid: 1000, groups: [10, 20, 4294967294],
    rlimits: [{ resource: 7, soft: 1024n, hard: 2n ** 64n - 1n }], capabilities: { bounding: 0xa80425fbn, effective: 0xa80425fbn, permitted: 0xa80425fbn, inheritable: 0n, ambient: 1n << 40n },
    noNewPrivileges: true, seccomp: new Uint8Array(16), oomScoreAdj: -500, umask: 0o027,
  },
  shimDir: '/s', logDir: '/l', logMaxBytes: 10 * 2 ** 20, logMaxFiles: 3, stopSignal: 15, init: true, oomEventsFile: '/sys/fs/cgroup/memory/x/payload/memory.oom_control',
  monitorCgroupProcs: ['/sys/fs/cgroup/pids/x/monitor/cgroup.procs', '/sys/fs/cgroup/unified/x/monitor/cgroup.procs'], monitorOomScoreAdj: -1000,
};

export const EXEC_SAMPLE: ExecSpawnSpec = { kind: 'exec', name: 'sample', namespaceFlags: 0x7c020000, cgroupProcs: [], process: { ...SAMPLE.process, seccomp: null, oomScoreAdj: null }, tty: true };

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; }
function fieldBytes(id: number, payload: Buffer): Buffer { return Buffer.concat([u16(id), u32(payload.length), payload]); }
function withBody(body: Buffer, kind = 1, version = 1): Buffer {
  const h = Buffer.alloc(SPEC_HEADER_BYTES);
  h.writeUInt32LE(0x4c525243, 0); h.writeUInt16LE(version, 4); h.writeUInt16LE(kind, 6); h.writeUInt32LE(body.length, 8);
  return Buffer.concat([h, body]);
}

export function malformedSpecs(): { name: string; bytes: Buffer; reason: RegExp }[] {
  const good = encodeSpawnSpec(SAMPLE);
  const body = good.subarray(SPEC_HEADER_BYTES);
  const argv = fieldBytes(18, Buffer.concat([u32(1), u32(6), Buffer.from('/bin/\0')]));
  return [
    { name: 'empty', bytes: Buffer.alloc(0), reason: /truncated header/ },
    { name: 'truncated header', bytes: good.subarray(0, 7), reason: /truncated header/ },
    { name: 'truncated body', bytes: good.subarray(0, good.length - 5), reason: /truncated body/ },
    { name: 'bad magic', bytes: Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]), reason: /bad magic/ },
    { name: 'wrong version', bytes: withBody(body, 1, 2), reason: /wire version 2/ },
    { name: 'unknown kind', bytes: withBody(body, 9), reason: /unknown spec kind 9/ },
    { name: 'oversized', bytes: Buffer.concat([good.subarray(0, 8), u32(0x7fffffff)]), reason: /exceeds/ },
    { name: 'unknown field id', bytes: withBody(Buffer.concat([body, fieldBytes(63, u32(1))])), reason: /unknown field id 63/ },
    { name: 'field id past the table', bytes: withBody(Buffer.concat([body, fieldBytes(65535, u32(1))])), reason: /unknown field id 65535/ },
    { name: 'field longer than the body', bytes: withBody(Buffer.concat([body, u16(21), u32(1000), u32(1)])), reason: /claims 1000 bytes/ },
    { name: 'u32 of 3 bytes', bytes: withBody(Buffer.concat([fieldBytes(21, Buffer.alloc(3)), body])), reason: /u32 of 3 bytes/ },
    { name: 'repeated field', bytes: withBody(Buffer.concat([body, fieldBytes(21, u32(5))])), reason: /field 21 repeated/ },
    { name: 'huge list count', bytes: withBody(Buffer.concat([fieldBytes(19, Buffer.concat([u32(0xffffffff), u32(2), Buffer.from('a\0')])), body])), reason: /list count 4294967295/ },
    { name: 'NUL inside a string', bytes: withBody(Buffer.concat([argv, body.subarray(0)])), reason: /NUL byte|repeated/ },
    { name: 'string without NUL', bytes: withBody(Buffer.concat([fieldBytes(1, Buffer.from('abc')), body.subarray(body.indexOf(Buffer.from([2, 0])))])), reason: /NUL-terminated|field/ },
    { name: 'seccomp not a multiple of 8', bytes: withBody(Buffer.concat([fieldBytes(31, Buffer.alloc(9))])), reason: /seccomp program of 9 bytes/ },
    { name: 'no argv', bytes: withBody(fieldBytes(1, Buffer.from('x\0'))), reason: /no argv/ },
    { name: 'unknown op kind', bytes: withBody(Buffer.concat([fieldBytes(14, fieldBytes(1, u32(77))), body])), reason: /unknown op kind 77/ },
    { name: 'relative op target', bytes: withBody(Buffer.concat([fieldBytes(15, Buffer.concat([fieldBytes(1, u32(7)), fieldBytes(3, Buffer.from('etc\0'))])), body])), reason: /not absolute/ },
    { name: 'too many rlimits', bytes: withBody(Buffer.concat([body, ...Array.from({ length: 17 }, () => fieldBytes(24, Buffer.concat([fieldBytes(1, u32(7)), fieldBytes(2, Buffer.alloc(8)), fieldBytes(3, Buffer.alloc(8))])))])), reason: /more than 16 rlimits/ },
    { name: 'wrong kind for the mode', bytes: encodeWire('run', { NAME: 'x' }), reason: /no argv/ },
    { name: 'init neither 0 nor 1', bytes: withBody(Buffer.concat([encodeSpawnSpec({ ...SAMPLE, init: false }).subarray(SPEC_HEADER_BYTES), fieldBytes(46, u32(2))])), reason: /^init 2$/ },
    { name: 'init in an exec spec', bytes: withBody(Buffer.concat([encodeSpawnSpec(EXEC_SAMPLE).subarray(SPEC_HEADER_BYTES), fieldBytes(46, u32(1))]), 2), reason: /init in a spec that starts no container/ },
  ];
}

/** Deterministic corruption of a valid spec: flipped bytes, truncations, length fields blown up. */
export function fuzzedSpecs(n: number): Buffer[] {
  const good = encodeSpawnSpec(SAMPLE);
  let seed = 12345;
  const rand = (max: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % max; };
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = Buffer.from(good);
    const mode = i % 3;
    if (mode === 0) for (let k = 0; k < 1 + rand(8); k++) b[SPEC_HEADER_BYTES + rand(b.length - SPEC_HEADER_BYTES)] = rand(256);
    else if (mode === 1) b.writeUInt32LE(0xffffffff - rand(1000), SPEC_HEADER_BYTES + rand(b.length - SPEC_HEADER_BYTES - 4));
    else { out.push(withBody(b.subarray(SPEC_HEADER_BYTES, SPEC_HEADER_BYTES + rand(b.length - SPEC_HEADER_BYTES)))); continue; }
    out.push(b);
  }
  return out;
}
