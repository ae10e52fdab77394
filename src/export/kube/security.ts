// User, capabilities, seccomp and sysctls → the container's and the Pod's securityContext
// (docs/kube-export.md, "Security"). Pure.

import type { ContainerSpec } from '../../manifest/spec.js';
import type { IPodSecurityContext, ISecurityContext } from './types.js';
import type { Warn } from './volumes.js';

export interface Security {
  readonly container: ISecurityContext;
  readonly pod: IPodSecurityContext;
}

/** Run-as ids: numbers as they are; names (looked up in the image by corral) have no field. */
function identity(spec: ContainerSpec, warn: Warn): { runAsUser?: number; runAsGroup?: number; supplementalGroups?: number[] } {
  const lookup = spec.process.userLookup;
  if (lookup !== null) {
    const numbers = lookup.groups.filter((g): g is number => typeof g === 'number');
    if (typeof lookup.user === 'string' || typeof lookup.group === 'string' || numbers.length < lookup.groups.length) {
      warn('spec.user', 'a user or group given by name: runAsUser, runAsGroup and supplementalGroups take numbers only');
    }
    return {
      ...(typeof lookup.user === 'number' ? { runAsUser: lookup.user } : {}),
      ...(typeof lookup.group === 'number' ? { runAsGroup: lookup.group } : {}),
      ...(numbers.length > 0 ? { supplementalGroups: numbers } : {}),
    };
  }
  const { uid, gid, groups } = spec.process.user;
  // 0, 0 and no groups is also what a manifest without `user` gives: the image's User applies, as in a Pod without runAsUser.
  if (uid === 0 && gid === 0 && groups.length === 0) return {};
  return { runAsUser: uid, runAsGroup: gid, ...(groups.length > 0 ? { supplementalGroups: [...groups] } : {}) };
}

function seccomp(spec: ContainerSpec, warn: Warn): ISecurityContext['seccompProfile'] {
  const s = spec.security.seccomp;
  switch (s.kind) {
    // Kubernetes' own default is Unconfined: say RuntimeDefault, which is what corral's default is.
    case 'default': return { type: 'RuntimeDefault' };
    case 'unconfined': return { type: 'Unconfined' };
    case 'file': {
      const base = s.path.slice(s.path.lastIndexOf('/') + 1);
      warn('spec.security.seccomp', `a Localhost profile is found under the kubelet's seccomp directory, podman's --seccomp-profile-root: copy ${s.path} there as ${base}`);
      return { type: 'Localhost', localhostProfile: base };
    }
  }
}

export function securityOf(spec: ContainerSpec, warn: Warn): Security {
  const sec = spec.security;
  const { supplementalGroups, ...runAs } = identity(spec, warn);
  const container: ISecurityContext = { ...runAs };
  if (sec.privileged) {
    container.privileged = true;
  } else {
    // The exact set corral grants: drop everything, add it back (Kubernetes names drop the CAP_ prefix).
    const add = sec.capabilities.map((c) => c.replace(/^CAP_/, ''));
    container.capabilities = { drop: ['ALL'], ...(add.length > 0 ? { add } : {}) };
    container.allowPrivilegeEscalation = !sec.noNewPrivileges;
    container.seccompProfile = seccomp(spec, warn);
  }
  if (spec.readOnlyRootfs) container.readOnlyRootFilesystem = true;
  const pod: IPodSecurityContext = {
    ...(supplementalGroups ? { supplementalGroups } : {}),
    ...(sec.sysctls.length > 0 ? { sysctls: sec.sysctls.map((s) => ({ name: s.name, value: s.value })) } : {}),
  };
  return { container, pod };
}
