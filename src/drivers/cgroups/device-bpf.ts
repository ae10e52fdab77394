// Device control on a cgroup2 directory: corral's device program (device-program.ts) attached with
// BPF_F_ALLOW_MULTI, so that programs others attached (systemd's, on a delegated unit) keep
// running beside it: the kernel allows an access only when every program allows it. Used by the
// v2 manager, and by the v1 manager on a hybrid host without a v1 `devices` hierarchy: the kernel
// checks a task's device access against the programs of its cgroup2 cgroup and the v1 controller.
// The program lives as long as the cgroup; corral keeps no fd to it.

import { closeSync, constants, openSync } from 'node:fs';
import { CorralError, isSyscallError } from '../../errors.js';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgInfoById,
  bpfProgLoad, bpfProgQuery, type ProgInfo,
} from '../../sys/bpf.js';
import { DEVICE_PROGRAM_NAME, deviceProgramBytes, programTags } from './device-program.js';
import { describePolicy } from './device-rules.js';
import { describeFsError } from './knob.js';
import type { DeviceCheck, DevicePolicy } from './types.js';

const LICENSE = 'Apache-2.0';

function openDir(dir: string): number {
  try {
    return openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    throw new CorralError('CGROUP_READ_FAILED', `open cgroup \`${dir}\`: ${describeFsError(err)}`, { cause: err });
  }
}

function withDir<T>(dir: string, fn: (fd: number) => T): T {
  const fd = openDir(dir);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The device programs attached to the directory itself; one detached meanwhile is skipped. */
function attachedPrograms(fd: number): ProgInfo[] {
  const out: ProgInfo[] = [];
  for (const id of bpfProgQuery(fd, BPF_CGROUP_DEVICE)) {
    try {
      out.push(bpfProgInfoById(id));
    } catch (err) {
      if (!isSyscallError(err, 'ENOENT')) throw err;
    }
  }
  return out;
}

function detach(fd: number, id: number): void {
  let progFd: number;
  try {
    progFd = bpfProgGetFdById(id);
  } catch (err) {
    if (isSyscallError(err, 'ENOENT')) return;
    throw err;
  }
  try {
    bpfProgDetach(fd, progFd, BPF_CGROUP_DEVICE);
  } catch (err) {
    if (!isSyscallError(err, 'ENOENT')) throw err;
  } finally {
    closeSync(progFd);
  }
}

function failed(what: string, dir: string, err: unknown): CorralError {
  return new CorralError('CGROUP_WRITE_FAILED', `${what} \`${dir}\`: ${(err as Error).message}`, { cause: err });
}

/**
 * Puts `policy` in force on a cgroup2 directory. A new program is attached before corral's old
 * ones are detached: in between both run, so only what both allow is allowed, and a device
 * allowed before and after is never denied. Allow-all is no program of corral's at all. Does
 * nothing when corral's program for these rules is already there.
 */
export function applyDeviceProgram(dir: string, policy: DevicePolicy): void {
  withDir(dir, (fd) => {
    let ours: ProgInfo[];
    try {
      ours = attachedPrograms(fd).filter((p) => p.name === DEVICE_PROGRAM_NAME);
    } catch (err) {
      throw new CorralError('CGROUP_READ_FAILED', `list the device programs of \`${dir}\`: ${(err as Error).message}`, { cause: err });
    }
    let keep: ProgInfo | undefined;
    if (!policy.allowAll) {
      const bytes = deviceProgramBytes(policy.rules);
      const tags = programTags(bytes);
      keep = ours.find((p) => tags.includes(p.tag));
      if (keep === undefined) {
        let progFd: number;
        try {
          progFd = bpfProgLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns: bytes, license: LICENSE, name: DEVICE_PROGRAM_NAME });
        } catch (err) {
          throw failed(`load the device program (${describePolicy(policy)}) for`, dir, err);
        }
        try {
          bpfProgAttach(fd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
        } catch (err) {
          throw failed('attach the device program to', dir, err);
        } finally {
          closeSync(progFd);
        }
      }
    }
    for (const old of ours) {
      if (old === keep) continue;
      try {
        detach(fd, old.id);
      } catch (err) {
        throw failed(`detach the old device program (id ${old.id}) from`, dir, err);
      }
    }
  });
}

function summary(programs: readonly ProgInfo[]): string {
  if (programs.length === 0) return 'no device program';
  if (programs.length > 1) return `${programs.length} device programs`;
  return `device program \`${programs[0]!.name || 'unnamed'}\` with tag ${programs[0]!.tag}`;
}

/** Exactly `policy`: no program for allow-all, else one program, with the tag of corral's program for these rules. */
export function checkDeviceProgram(dir: string, policy: DevicePolicy): DeviceCheck {
  return withDir(dir, (fd) => {
    let programs: ProgInfo[];
    try {
      programs = attachedPrograms(fd);
    } catch (err) {
      throw new CorralError('CGROUP_READ_FAILED', `list the device programs of \`${dir}\`: ${(err as Error).message}`, { cause: err });
    }
    if (policy.allowAll) return { enforced: programs.length === 0, current: summary(programs) };
    const tags = programTags(deviceProgramBytes(policy.rules));
    const enforced = programs.length === 1 && tags.includes(programs[0]!.tag);
    return { enforced, current: enforced ? describePolicy(policy) : summary(programs) };
  });
}

let support: string | null | undefined;

/**
 * null when this kernel loads cgroup device programs for this process, else why not. Found by
 * loading the deny-all program once (nothing is attached; the program is freed with its fd).
 */
export function deviceProgramUnsupported(): string | null {
  if (support !== undefined) return support;
  try {
    closeSync(bpfProgLoad({ type: BPF_PROG_TYPE_CGROUP_DEVICE, insns: deviceProgramBytes([]), license: LICENSE, name: DEVICE_PROGRAM_NAME }));
    support = null;
  } catch (err) {
    const why = isSyscallError(err, 'EPERM') ? 'loading a cgroup device program needs root (CAP_SYS_ADMIN or CAP_BPF)'
      : isSyscallError(err, 'ENOSYS') ? 'the kernel has no bpf(2) (CONFIG_BPF_SYSCALL)'
        : isSyscallError(err, 'EINVAL') ? 'the kernel refuses cgroup device programs (CONFIG_CGROUP_BPF; JMP32 needs Linux 5.1)'
          : 'the kernel refuses cgroup device programs';
    support = `${why}: ${(err as Error).message}`;
  }
  return support;
}
