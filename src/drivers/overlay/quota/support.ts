// Whether the state root's filesystem can enforce a writable-layer size (project quotas), decided
// from facts a probe gathered (probe.ts). Pure: no Node, no kernel, so every answer and its wording
// is tested without a filesystem of each kind.
//
// What enforces a project quota:
//   XFS   quota support in the kernel (CONFIG_XFS_QUOTA), mounted with `prjquota`/`pquota`
//         (`pqnoenforce` only accounts). XFS turns quotas on at mount time only, not on remount.
//   ext4  the `project` feature (project ids in inodes; needs 256-byte inodes) and project quota
//         on: the `quota` feature (hidden quota inodes), or quota files; limits are enforced only
//         when mounted with `prjquota`. The kernel needs CONFIG_QUOTA and CONFIG_QFMT_V2.

/** What a message needs to name the filesystem. */
export interface FilesystemFacts {
  /** The directory that was probed (the containers directory, or its nearest existing parent). */
  readonly path: string;
  /** statfs type by name: `xfs`, `ext4`, `tmpfs`, or the magic number. */
  readonly type: string;
  /** From mountinfo; null when no mount matched the directory's device. */
  readonly mountPoint: string | null;
  readonly source: string | null;
  /** Super-block options (where `prjquota` shows). */
  readonly options: string | null;
}

/** An errno name from a failed quotactl, or its result. */
export type Probed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: string };

export interface QuotaFacts {
  readonly fs: FilesystemFacts;
  /** Q_XGETQSTATV flags (XFS, and ext4 kernels that answer it); absent when not asked. */
  readonly stateFlags?: Probed<number>;
  /** ext4: Q_GETFMT for project quota. */
  readonly projectFormat?: Probed<number>;
  /** ext4: the super block's features; null when the device could not be read. */
  readonly ext4Features?: { readonly project: boolean; readonly quota: boolean } | null;
}

export type QuotaKind = 'xfs' | 'ext4';

export type QuotaSupport =
  | { readonly available: true; readonly kind: QuotaKind; readonly fs: FilesystemFacts; readonly via: string }
  | { readonly available: false; readonly fs: FilesystemFacts; readonly reason: string; readonly hint: string };

/** Q_XGETQSTATV qs_flags bits for project quota. */
const PDQ_ACCT = 0x10;
const PDQ_ENFD = 0x20;

const NEEDED = 'put the state root on XFS mounted with `prjquota`, or on ext4 with the `project` and `quota` features mounted with `prjquota`';

/** `ext4 \`/dev/vda\` at \`/\` (rw,relatime)`: the filesystem as a message names it. */
export function describeFilesystem(fs: FilesystemFacts): string {
  const where = fs.mountPoint === null ? '' : ` at \`${fs.mountPoint}\``;
  const source = fs.source === null ? '' : ` \`${fs.source}\``;
  return `${fs.type}${source}${where}${fs.options === null ? '' : ` (${fs.options})`}`;
}

function hasOption(fs: FilesystemFacts, ...names: string[]): boolean {
  const opts = (fs.options ?? '').split(',');
  return names.some((n) => opts.includes(n));
}

function unavailable(fs: FilesystemFacts, reason: string, hint: string): QuotaSupport {
  return { available: false, fs, reason, hint };
}

function judgeXfs(facts: QuotaFacts): QuotaSupport {
  const { fs } = facts;
  const state = facts.stateFlags;
  if (!state || !state.ok) {
    if (state?.errno === 'ENOSYS') {
      return unavailable(fs, 'this kernel has no XFS quota support (built without CONFIG_XFS_QUOTA)', 'boot a kernel with XFS quota support, or put the state root on ext4 with the `project` and `quota` features mounted with `prjquota`');
    }
    return unavailable(fs, `the kernel did not report the quota state: quotactl Q_XGETQSTATV failed with ${state?.errno ?? 'no answer'}`, NEEDED);
  }
  if ((state.value & PDQ_ACCT) === 0) {
    return unavailable(fs, 'XFS is mounted without project quotas', 'mount it with `prjquota` (XFS turns quotas on only when mounting, not on remount; for the root filesystem add `rootflags=prjquota` to the kernel command line)');
  }
  if ((state.value & PDQ_ENFD) === 0) {
    return unavailable(fs, 'XFS accounts project quotas but does not enforce them (mounted with `pqnoenforce`)', 'mount it with `prjquota` instead of `pqnoenforce`');
  }
  return { available: true, kind: 'xfs', fs, via: 'XFS project quota' };
}

function judgeExt4(facts: QuotaFacts): QuotaSupport {
  const { fs } = facts;
  const features = facts.ext4Features ?? null;
  const mkfs = 'unmount it and run `tune2fs -O project,quota` on the device (project ids need 256-byte inodes: `mkfs.ext4 -I 256`), then mount it with `prjquota`';
  if (features && !features.project) return unavailable(fs, 'ext4 without the `project` feature keeps no project ids', mkfs);
  const format = facts.projectFormat;
  if (!format || !format.ok) {
    if (format?.errno === 'ENOSYS') return unavailable(fs, 'this kernel has no quota support (built without CONFIG_QUOTA)', `boot a kernel with quota support, or ${NEEDED}`);
    if (features && !features.quota) return unavailable(fs, 'ext4 has the `project` feature but no `quota` feature, so project usage is not tracked', mkfs);
    if (format?.errno === 'ESRCH') return unavailable(fs, 'project quota is off on this ext4', features?.quota ? 'mount it with `prjquota`' : `${mkfs}; or turn it on with quota files (\`quotacheck\`, \`quotaon -P\`)`);
    return unavailable(fs, `the kernel did not report the project quota format: quotactl Q_GETFMT failed with ${format?.errno ?? 'no answer'}`, NEEDED);
  }
  // ext4 with the quota feature always tracks usage; limits are enforced only with `prjquota`.
  // Q_XGETQSTATV says so directly where the kernel answers it; otherwise the mount option does.
  const state = facts.stateFlags;
  const enforced = state?.ok ? (state.value & PDQ_ENFD) !== 0 : hasOption(fs, 'prjquota', 'prjjquota');
  if (!enforced) return unavailable(fs, 'ext4 tracks project usage but does not enforce limits (mounted without `prjquota`)', 'mount it with `prjquota`');
  return { available: true, kind: 'ext4', fs, via: 'ext4 project quota' };
}

export function judgeQuotaSupport(facts: QuotaFacts): QuotaSupport {
  switch (facts.fs.type) {
    case 'xfs':
      return judgeXfs(facts);
    case 'ext4':
      return judgeExt4(facts);
    default:
      return unavailable(facts.fs, `${facts.fs.type} has no project quotas corral can use`, NEEDED);
  }
}

/** One line for `corral info` and messages: `yes (XFS project quota on …)` or `no: reason`. */
export function summarizeSupport(support: QuotaSupport): string {
  return support.available
    ? `${support.via} on ${describeFilesystem(support.fs)}`
    : `${support.reason}: \`${support.fs.path}\` is on ${describeFilesystem(support.fs)}`;
}
