// For `corral exec`: the running container NAME — its record's spec, its init (from its monitor's
// files), its cgroup placement and its image's defaults — composed from the drivers' own answers.

import { placementOfHandle } from '../drivers/cgroups/port.js';
import { currentRuntime } from '../drivers/namespaces/port.js';
import { status as runtimeStatus } from '../drivers/namespaces/runtime.js';
import { resolveRootfs } from '../drivers/overlay/container-rootfs.js';
import { resolveUser, USER_DB_MAX_BYTES, type UserRequest } from '../drivers/overlay/user-lookup.js';
import { lstatInRoot, readFileInRoot } from '../sys/open-in-root.js';
import { CorralError } from '../errors.js';
import type { Layout } from '../state/layout.js';
import { StateStore } from '../state/store.js';
import type { ExecTarget } from './commands/exec.js';
import type { CliContext } from './context.js';

export async function findRunning(name: string, ctx: CliContext, layout: Layout): Promise<ExecTarget> {
  const record = await new StateStore(layout).get(name);
  if (!record) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`' });
  const runtime = currentRuntime(layout, name, record.runtime, record.spec.stopSignal.number);
  if (!runtime || runtimeStatus(runtime).state !== 'running') {
    throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${name}\` is not running`, { hint: `start it with \`corral start ${name}\`` });
  }
  ctx.logger.debug('exec target', { container: name, pid: runtime.init.pid });
  // The image's defaults only: nothing is prepared (or pulled) for an exec.
  const prepared = record.spec.rootfs.kind === 'image' ? (() => {
    try {
      return resolveRootfs(layout.root, record.spec.rootfs);
    } catch {
      return null;
    }
  })() : null;
  return {
    spec: record.spec,
    image: prepared?.defaults ?? null,
    init: runtime.init,
    // The cgroup the record stores: an exec'd process joins the container's processes there.
    cgroupProcs: record.cgroup === null ? [] : placementOfHandle(record.cgroup).procs,
    ...(runtime.user ? { user: runtime.user } : {}),
    // Through its init's root: the files as the container sees them now, symlinks resolved inside.
    lookupUser: (request: UserRequest) => {
      const read = (path: string): string | null => readFileInRoot(`/proc/${runtime.init.pid}/root`, path, USER_DB_MAX_BYTES)?.toString('utf8') ?? null;
      return resolveUser(request, { passwd: read('/etc/passwd'), group: read('/etc/group') }, name);
    },
    exists: (path: string) => {
      try {
        return lstatInRoot(`/proc/${runtime.init.pid}/root`, path) !== null;
      } catch {
        // A magic link, a loop, a root gone meanwhile: the command's own start will say.
        return null;
      }
    },
  };
}
