// A new network namespace, bound to a file (what `unshare --net=FILE` does), made in this process:
// the calling thread enters it with unshare(CLONE_NEWNET), binds it to the file, opens what the
// caller needs inside it (a netlink socket, an fd of the namespace), and returns to its own
// namespace before this function returns. A network namespace is per thread and the switch is
// synchronous, so no other JavaScript, and no I/O of the event loop, ever runs in the new one;
// libuv's worker threads never leave corral's. (Mount and user namespaces are another matter:
// those stay the shim's job, src/sys/libc.ts.)

import { closeSync, openSync, writeFileSync, constants } from 'node:fs';
import { CorralError } from '../errors.js';
import { check, libcFunction } from './libc.js';
import { mount, MS } from './mount.js';
import { NetlinkSocket } from './netlink.js';

const CLONE_NEWNET = 0x40000000;
const SELF = '/proc/thread-self/ns/net';

export interface NewNetns {
  /** A NETLINK_ROUTE socket inside the new namespace. */
  readonly socket: NetlinkSocket;
  /** An fd of the new namespace (for IFLA_NET_NS_FD); the caller closes it. */
  readonly fd: number;
}

/**
 * Makes the namespace, binds it at `file` (created), sets `sysctls` in it (`net.*` names: those are
 * per namespace, and /proc/sys/net shows the calling thread's), and hands back a socket and an fd
 * in it.
 */
export function createNetnsAt(file: string, sysctls: ReadonlyArray<{ readonly name: string; readonly value: string }> = []): NewNetns {
  writeFileSync(file, '', { mode: 0o600 });
  const home = openSync(SELF, constants.O_RDONLY);
  let socket: NetlinkSocket | null = null;
  let fd = -1;
  try {
    check(libcFunction('int unshare(int flags)')(CLONE_NEWNET) as number, 'unshare', { flags: 'CLONE_NEWNET' });
    try {
      mount({ source: SELF, target: file, fstype: null, flags: MS.BIND });
      for (const { name, value } of sysctls) {
        if (!name.startsWith('net.')) throw new CorralError('INTERNAL', `sysctl \`${name}\` is not one of a network namespace`);
        writeFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, value);
      }
      socket = NetlinkSocket.open();
      fd = openSync(SELF, constants.O_RDONLY);
    } finally {
      const back = libcFunction('int setns(int fd, int nstype)')(home, CLONE_NEWNET) as number;
      if (back !== 0) {
        // corral's main thread would stay in the container's namespace: nothing sane can follow.
        process.stderr.write('corral: fatal: cannot return to its own network namespace after making a container\'s\n');
        process.abort();
      }
    }
  } catch (err) {
    socket?.close();
    if (fd >= 0) closeSync(fd);
    throw err instanceof CorralError ? err : new CorralError('NETWORK_SETUP_FAILED', `create the network namespace \`${file}\`: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(home);
  }
  return { socket: socket!, fd };
}
