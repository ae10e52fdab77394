// quotactl(2): the few commands project quotas need, for both kernel interfaces.
//
//   XFS ("XFS quota manager" commands)  Q_XGETQSTATV  state: accounting / enforcement per type
//                                       Q_XGETQUOTA   one id's limits and usage (512-byte blocks)
//                                       Q_XSETQLIM    one id's limits
//   VFS (ext4 and other generic users)  Q_GETFMT      is quota on for the type, in which format
//                                       Q_GETINFO     grace times and flags of the type
//                                       Q_GETQUOTA    one id's limits (1 KiB blocks) and usage
//                                       Q_SETQUOTA    one id's limits
//
// Q_XGETQSTATV also answers on ext4: the VFS reports there whether limits are enforced, which
// Q_GETINFO does not tell.
//
// The target is the filesystem's block device (what quotactl(2) takes), or, when no usable device
// node exists (`/dev/root`, a device node missing in this mount namespace), any directory on the
// filesystem through quotactl_fd(2) (Linux 5.14).

import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { constants } from 'node:os';
import { isSyscallError } from '../errors.js';
import { check, lastErrno, libcFunction, rawSyscall, syscallError } from './libc.js';

export const QUOTA_TYPES = { USRQUOTA: 0, GRPQUOTA: 1, PRJQUOTA: 2 } as const;
export type QuotaType = keyof typeof QUOTA_TYPES;

const SUBCMD = {
  Q_GETFMT: 0x800004, Q_GETINFO: 0x800005, Q_GETQUOTA: 0x800007, Q_SETQUOTA: 0x800008,
  // XQM_CMD(x) = ('X' << 8) + x
  Q_XSETQLIM: 0x5804, Q_XGETQUOTA: 0x5803, Q_XGETQSTATV: 0x5808,
} as const;
type Subcmd = keyof typeof SUBCMD;

/** quotactl_fd has the same number on x86-64 and arm64 (the generic table). */
const SYS_QUOTACTL_FD = 443;

export type QuotaTarget =
  | { readonly kind: 'device'; readonly device: string }
  | { readonly kind: 'fd'; readonly path: string };

export function describeTarget(target: QuotaTarget): string {
  return target.kind === 'device' ? target.device : `fd of ${target.path}`;
}

function qcmd(subcmd: Subcmd, type: QuotaType): number {
  // QCMD(cmd, type) = (cmd << 8) | (type & 0xff); the result does not fit a positive int32.
  return ((SUBCMD[subcmd] << 8) | QUOTA_TYPES[type]) | 0;
}

function quotactl(target: QuotaTarget, subcmd: Subcmd, type: QuotaType, id: number, addr: Buffer | null): void {
  const cmd = qcmd(subcmd, type);
  const args = { cmd: subcmd, type, ...(target.kind === 'device' ? { special: target.device } : { path: target.path }), id };
  if (target.kind === 'device') {
    const fn = libcFunction('int quotactl(int cmd, const char *special, int id, _Inout_ uint8_t *addr)');
    check(fn(cmd, target.device, id | 0, addr) as number, 'quotactl', args);
    return;
  }
  let fd: number;
  try {
    fd = openSync(target.path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch (err) {
    throw syscallError('open', { path: target.path, flags: 'O_RDONLY|O_DIRECTORY' }, Math.abs((err as NodeJS.ErrnoException).errno ?? constants.errno.EIO));
  }
  try {
    const r = Number(rawSyscall()(SYS_QUOTACTL_FD, 'uint', fd, 'uint', cmd >>> 0, 'int', id | 0, 'uint8_t *', addr));
    if (r < 0) throw syscallError('quotactl_fd', args, lastErrno());
  } finally {
    closeSync(fd);
  }
}

/** fs_quota_statv qs_flags (linux/dqblk_xfs.h). */
export const FS_QUOTA_FLAGS = {
  UDQ_ACCT: 0x1, UDQ_ENFD: 0x2, GDQ_ACCT: 0x4, GDQ_ENFD: 0x8, PDQ_ACCT: 0x10, PDQ_ENFD: 0x20,
} as const;

/** struct fs_quota_statv: 160 bytes; the caller sets qs_version (FS_QSTATV_VERSION1). */
const QSTATV_SIZE = 160;

/** The qs_flags word of Q_XGETQSTATV: which quota types are accounted and enforced. */
export function quotaStateFlags(target: QuotaTarget): number {
  const buf = Buffer.alloc(QSTATV_SIZE);
  buf.writeInt8(1, 0);
  quotactl(target, 'Q_XGETQSTATV', 'PRJQUOTA', 0, buf);
  return buf.readUInt16LE(2);
}

/** Q_GETFMT: the quota format id in use for `type` (QFMT_VFS_V1 = 4); ESRCH when quota is off. */
export function quotaFormat(target: QuotaTarget, type: QuotaType): number {
  const buf = Buffer.alloc(4);
  quotactl(target, 'Q_GETFMT', type, 0, buf);
  return buf.readUInt32LE(0);
}

export interface QuotaInfo {
  readonly blockGraceSeconds: number;
  readonly inodeGraceSeconds: number;
  readonly flags: number;
}

/** Q_GETINFO: struct if_dqinfo (24 bytes). */
export function quotaInfo(target: QuotaTarget, type: QuotaType): QuotaInfo {
  const buf = Buffer.alloc(24);
  quotactl(target, 'Q_GETINFO', type, 0, buf);
  return { blockGraceSeconds: Number(buf.readBigUInt64LE(0)), inodeGraceSeconds: Number(buf.readBigUInt64LE(8)), flags: buf.readUInt32LE(16) };
}

/** One id's block limits and usage, in bytes (0: no limit). */
export interface IdQuota {
  readonly hardLimitBytes: number;
  readonly softLimitBytes: number;
  readonly usedBytes: number;
  readonly inodes: number;
}

// struct fs_disk_quota (112 bytes): limits and counts in 512-byte basic blocks.
const FS_DISK_QUOTA_SIZE = 112;
const FS_DQUOT_VERSION = 1;
const FS_PROJ_QUOTA = 2;
const FS_DQ_BSOFT = 0x4;
const FS_DQ_BHARD = 0x8;
const BB = 512;

/** Q_XGETQUOTA; null when the filesystem has no record of the id (ENOENT: never used). */
export function xfsGetQuota(target: QuotaTarget, type: QuotaType, id: number): IdQuota | null {
  const buf = Buffer.alloc(FS_DISK_QUOTA_SIZE);
  try {
    quotactl(target, 'Q_XGETQUOTA', type, id, buf);
  } catch (err) {
    if (isSyscallError(err, 'ENOENT')) return null;
    throw err;
  }
  return {
    hardLimitBytes: Number(buf.readBigUInt64LE(8)) * BB,
    softLimitBytes: Number(buf.readBigUInt64LE(16)) * BB,
    usedBytes: Number(buf.readBigUInt64LE(40)) * BB,
    inodes: Number(buf.readBigUInt64LE(48)),
  };
}

/** Q_XSETQLIM of the block limits only, rounded up to 512-byte blocks; 0 removes a limit. */
export function xfsSetBlockLimits(target: QuotaTarget, type: QuotaType, id: number, hardBytes: number, softBytes: number): void {
  const buf = Buffer.alloc(FS_DISK_QUOTA_SIZE);
  buf.writeInt8(FS_DQUOT_VERSION, 0);
  buf.writeInt8(type === 'PRJQUOTA' ? FS_PROJ_QUOTA : type === 'GRPQUOTA' ? 4 : 1, 1);
  buf.writeUInt16LE(FS_DQ_BSOFT | FS_DQ_BHARD, 2);
  buf.writeUInt32LE(id >>> 0, 4);
  buf.writeBigUInt64LE(BigInt(Math.ceil(hardBytes / BB)), 8);
  buf.writeBigUInt64LE(BigInt(Math.ceil(softBytes / BB)), 16);
  quotactl(target, 'Q_XSETQLIM', type, id, buf);
}

// struct if_dqblk (72 bytes): limits in 1 KiB quota blocks, current space in bytes.
const IF_DQBLK_SIZE = 72;
const QIF_BLIMITS = 1;
const QUOTA_BLOCK = 1024;

/** Q_GETQUOTA. */
export function vfsGetQuota(target: QuotaTarget, type: QuotaType, id: number): IdQuota {
  const buf = Buffer.alloc(IF_DQBLK_SIZE);
  quotactl(target, 'Q_GETQUOTA', type, id, buf);
  return {
    hardLimitBytes: Number(buf.readBigUInt64LE(0)) * QUOTA_BLOCK,
    softLimitBytes: Number(buf.readBigUInt64LE(8)) * QUOTA_BLOCK,
    usedBytes: Number(buf.readBigUInt64LE(16)),
    inodes: Number(buf.readBigUInt64LE(40)),
  };
}

/** Q_SETQUOTA of the block limits only (QIF_BLIMITS), rounded up to 1 KiB; 0 removes a limit. */
export function vfsSetBlockLimits(target: QuotaTarget, type: QuotaType, id: number, hardBytes: number, softBytes: number): void {
  const buf = Buffer.alloc(IF_DQBLK_SIZE);
  buf.writeBigUInt64LE(BigInt(Math.ceil(hardBytes / QUOTA_BLOCK)), 0);
  buf.writeBigUInt64LE(BigInt(Math.ceil(softBytes / QUOTA_BLOCK)), 8);
  buf.writeUInt32LE(QIF_BLIMITS, 64);
  quotactl(target, 'Q_SETQUOTA', type, id, buf);
}

/** Block-limit granularity of each interface: a limit reads back rounded up to it. */
export const LIMIT_UNIT_BYTES = { xfs: BB, vfs: QUOTA_BLOCK } as const;
