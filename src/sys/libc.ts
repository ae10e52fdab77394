// The one koffi binding to libc, loaded on first use. Every wrapper in src/sys goes through
// `check`, so a failing call becomes a SyscallError naming the call, its arguments and errno.
//
// Rules for wrappers here (docs/architecture.md, "Calling the kernel from Node"):
// - never call anything that can block forever on the main thread (flock without LOCK_NB, read on
//   a blocking fd, waitid without WNOHANG): a blocked koffi call stops process.exit();
// - never call unshare/setns(CLONE_NEWNS|CLONE_NEWUSER…) from the agent's threads: that is the
//   shim's job;
// - never waitpid(-1): it steals libuv's children.

import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import type * as koffiTypes from 'koffi';
import type { LibraryHandle } from 'koffi';
import { SyscallError } from '../errors.js';

type KoffiFunction = ReturnType<LibraryHandle['func']>;
type Koffi = typeof koffiTypes;

let koffiLoaded: Koffi | undefined;

/** Written by `npm run build` (scripts/locate-koffi.mjs): the addon koffi's loader picks here. */
const ADDON_RECORD = new URL('../koffi-addon.json', import.meta.url);

interface AddonRecord {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly version: string;
}

/**
 * koffi itself, loaded when first needed, so that commands that never call libc (`validate`, a
 * pull of a layer without whiteouts) do not pay for it.
 */
export function koffi(): Koffi {
  koffiLoaded ??= loadKoffi();
  return koffiLoaded;
}

/**
 * The addon the build recorded, opened directly when it is still the same file: koffi's loader
 * (two packages resolved, the node binary's ELF read to tell glibc from musl) cost 15 ms of a
 * `corral image pull`. Its JS adds nothing corral calls. Anything amiss: koffi's own loader.
 */
export function loadKoffi(record: URL = ADDON_RECORD): Koffi {
  return recordedAddon(record) ?? (createRequire(import.meta.url)('koffi') as Koffi);
}

function recordedAddon(record: URL): Koffi | null {
  let addon: AddonRecord;
  try {
    addon = JSON.parse(readFileSync(record, 'utf8')) as AddonRecord;
    const st = statSync(addon.path);
    if (st.size !== addon.size || st.mtimeMs !== addon.mtimeMs) return null;
  } catch {
    return null;
  }
  const module = { exports: {} as Partial<Koffi> };
  try {
    process.dlopen(module, addon.path);
  } catch {
    return null;
  }
  return module.exports.version === addon.version ? (module.exports as Koffi) : null;
}

let handle: LibraryHandle | undefined;
const functions = new Map<string, KoffiFunction>();

/** A libc function by its C prototype, bound once and cached. */
export function libcFunction(prototype: string): KoffiFunction {
  let fn = functions.get(prototype);
  if (!fn) {
    handle ??= koffi().load('libc.so.6');
    fn = handle.func(prototype);
    functions.set(prototype, fn);
  }
  return fn;
}

export function lastErrno(): number {
  return koffi().errno();
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

const strerror = (): KoffiFunction => libcFunction('const char *strerror(int errnum)');

export function describeErrno(errno: number): string {
  return String(strerror()(errno)).toLowerCase();
}

export function syscallError(op: string, args: Readonly<Record<string, unknown>>, errno = lastErrno(), context?: string): SyscallError {
  return new SyscallError(op, args, errno, errnoName(errno), describeErrno(errno), context);
}

/** Throws a SyscallError when a libc call returned -1 (errno is read right after the call). */
export function check<T extends number | bigint>(result: T, op: string, args: Readonly<Record<string, unknown>>): T {
  if (Number(result) === -1) throw syscallError(op, args);
  return result;
}

/** Retries on EINTR, as every careful C caller does. */
export function checkRetry<T extends number | bigint>(call: () => T, op: string, args: Readonly<Record<string, unknown>>): T {
  for (;;) {
    const result = call();
    if (Number(result) !== -1) return result;
    const errno = lastErrno();
    if (errno !== constants.errno.EINTR) throw syscallError(op, args, errno);
  }
}

/** Raw syscall(2) for calls glibc 2.36 does not wrap (pidfd_*, fsopen…, bpf). x86-64 and arm64 numbers. */
export const SYSCALL_NUMBERS = process.arch === 'arm64'
  ? { pidfd_send_signal: 424, pidfd_open: 434, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, clone3: 435, mount_setattr: 442, bpf: 280 }
  : { pidfd_send_signal: 424, pidfd_open: 434, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, clone3: 435, mount_setattr: 442, bpf: 321 };

export function rawSyscall(): KoffiFunction {
  return libcFunction('long syscall(long number, ...)');
}
