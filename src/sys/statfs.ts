// statfs(2): which filesystem a path is on (cgroup layout detection, overlay upper checks).

import { check, libcFunction } from './libc.js';

export const FS_MAGIC = {
  CGROUP: 0x27e0eb,
  CGROUP2: 0x63677270,
  TMPFS: 0x01021994,
  OVERLAYFS: 0x794c7630,
  NFS: 0x6969,
  EXT4: 0xef53,
  XFS: 0x58465342,
  BTRFS: 0x9123683e,
  PROC: 0x9fa0,
  SYSFS: 0x62656572,
} as const;

// struct statfs on 64-bit Linux: f_type is the first field, a long; the whole struct is 120 bytes.
const STATFS_SIZE = 120;

export function statfsType(path: string): number {
  const fn = libcFunction('int statfs(const char *path, _Out_ uint8_t *buf)');
  const buf = Buffer.alloc(STATFS_SIZE);
  check(fn(path, buf) as number, 'statfs', { path });
  return Number(buf.readBigInt64LE(0));
}

export function fsMagicName(magic: number): string {
  return Object.entries(FS_MAGIC).find(([, m]) => m === magic)?.[0]?.toLowerCase() ?? `0x${magic.toString(16)}`;
}
