// Defaults written into every ContainerSpec, and the tables they come from. Changing a value here
// changes the spec hash of every container that relies on it, so it restarts them: treat these as
// part of the v1 format. Pure.

import type { DeviceRule } from './spec.js';

/** Every capability the kernel knows (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default set (docs/security.md, "What a default container gets"). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** Capabilities that hand the container the host; plans warn when one is added. */
export const RISKY_CAPABILITIES: ReadonlySet<string> = new Set([
  'CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH', 'CAP_BPF',
  'CAP_SYS_BOOT', 'CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE', 'CAP_NET_ADMIN', 'CAP_PERFMON',
]);

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

/**
 * The devices every container may use, and nothing else (docs/security.md, "Devices": a node in
 * /dev is not a policy; the kernel's device controller is). `node` names the node corral creates
 * in the container's /dev; rules without one cover nodes that appear by themselves (ptmx and
 * pts/N on the container's own devpts). Not here on purpose: /dev/console (5:1) would reach the
 * host's console, tty0/vcs the host's virtual consoles; a manifest asks for fuse or net/tun
 * through `spec.devices`.
 */
export const DEFAULT_DEVICES: readonly { readonly node: string | null; readonly rule: DeviceRule }[] = [
  { node: 'null', rule: { type: 'c', major: 1, minor: 3, access: 'rwm' } },
  { node: 'zero', rule: { type: 'c', major: 1, minor: 5, access: 'rwm' } },
  { node: 'full', rule: { type: 'c', major: 1, minor: 7, access: 'rwm' } },
  { node: 'random', rule: { type: 'c', major: 1, minor: 8, access: 'rwm' } },
  { node: 'urandom', rule: { type: 'c', major: 1, minor: 9, access: 'rwm' } },
  { node: 'tty', rule: { type: 'c', major: 5, minor: 0, access: 'rwm' } },
  { node: null, rule: { type: 'c', major: 5, minor: 2, access: 'rwm' } },
  { node: null, rule: { type: 'c', major: 136, minor: null, access: 'rwm' } },
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * sysctls that are namespaced, so a container may set them, and the namespace each needs private.
 * Anything else would change the host (runc refuses them the same way).
 */
export function sysctlNamespace(name: string): 'net' | 'ipc' | 'uts' | null {
  if (name.startsWith('net.')) return 'net';
  if (name.startsWith('fs.mqueue.')) return 'ipc';
  if (['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax',
    'kernel.shmmni', 'kernel.shm_rmid_forced'].includes(name)) return 'ipc';
  if (name === 'kernel.domainname') return 'uts';
  return null;
}

export const ULIMIT_NAMES: readonly string[] = [
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss',
  'rtprio', 'rttime', 'sigpending', 'stack',
];

/** Where corral keeps its state unless told otherwise (`--root`, CORRAL_ROOT). */
export const DEFAULT_STATE_ROOT = '/var/lib/corral';

/** Where corral binds a container's secrets and config files (read-only); their targets are symlinks into it. */
export const FILES_MOUNT = '/run/corral/files';

export const DEFAULTS = {
  pids: 2048,
  stopTimeoutMs: 10_000,
  stopSignal: 'SIGTERM',
  restartPolicy: 'Always',
  tmpfsSizeBytes: 64 * 2 ** 20,
  tmpfsMode: 0o1777,
  secretMode: 0o400,
  configFileMode: 0o444,
  secretsDir: '/run/secrets',
  logMaxSizeBytes: 10 * 2 ** 20,
  logMaxFiles: 3,
  userNamespaceSize: 65536,
  portHostIP: '127.0.0.1',
  healthcheck: { intervalMs: 10_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 0, onFailure: 'none' },
  imageTag: 'latest',
  /** Smallest memory limit accepted: below this the kernel OOM-kills during exec. */
  minMemoryBytes: 2 ** 20,
} as const;

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN. */
export function canonicalCapability(name: string): string {
  const upper = name.toUpperCase();
  return upper === 'ALL' ? 'ALL' : upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}
