// Whether this kernel can run a container in a user namespace the way corral does it
// (docs/security.md, "User namespaces and idmapped layers"): the monitor builds the root overlay
// from idmapped lower layers handed to overlayfs as file descriptors (fsconfig FSCONFIG_SET_FD
// `lowerdir+`), which Linux has since 6.13; idmapped tmpfs (a state root on /tmp) came in 6.3.
// Older kernels refuse the start half-way (`idmap … EINVAL`), so manifests asking for a user
// namespace are refused up front, at validate and plan. Pure but for the kernel release it is given.

import { diagnostic, type Diagnostic } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';

export const IDMAP_MIN_KERNEL: readonly [number, number] = [6, 13];

/** `6.18.44-fc-v1098` → [6, 18]; null when the release does not start with two numbers. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function idmapSupported(release: string): boolean {
  const v = kernelVersion(release);
  if (!v) return false;
  return v[0] > IDMAP_MIN_KERNEL[0] || (v[0] === IDMAP_MIN_KERNEL[0] && v[1] >= IDMAP_MIN_KERNEL[1]);
}

/** The support check of the namespaces driver for a host running kernel `release`. */
export function userNamespaceSupport(release: string): (spec: ContainerSpec) => Diagnostic[] {
  const ok = idmapSupported(release);
  return (spec) => (ok || !spec.namespaces.user ? [] : [diagnostic('error', 'NOT_SUPPORTED', `a user namespace needs idmapped layers, which this kernel (${release}) cannot build`, {
    container: spec.name, field: 'spec.namespaces.user',
    detail: `corral mounts the root from idmapped lower layers passed to overlayfs as file descriptors: Linux ${IDMAP_MIN_KERNEL.join('.')} or later`,
    hint: 'run it without a user namespace (`namespaces.user: {enabled: false}`), or on a newer kernel',
  })]);
}
