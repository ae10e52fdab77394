// The running kernel's release, parsed once: a few overlay features depend on the version
// (`lowerdir+` in the new mount API arrived in 6.8).

import { release } from 'node:os';

export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
}

let cached: KernelVersion | undefined;

export function kernelVersion(): KernelVersion {
  if (!cached) {
    const m = /^(\d+)\.(\d+)/.exec(release());
    cached = m ? { major: Number(m[1]), minor: Number(m[2]) } : { major: 0, minor: 0 };
  }
  return cached;
}

export function kernelAtLeast(major: number, minor: number): boolean {
  const v = kernelVersion();
  return v.major > major || (v.major === major && v.minor >= minor);
}
