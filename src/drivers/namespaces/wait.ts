// Noticing that a monitor has ended without polling /proc: the monitor holds alive.fifo open for
// writing all its life, so a reader sees EOF exactly when it is gone (however it ended, SIGKILL
// included), and libuv watches that fd with epoll like any pipe. Works after an agent restart:
// any process can open the FIFO again.

import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { SHIM_FILES } from './protocol-fields.js';

export interface MonitorWatch {
  /** Resolves when the monitor has exited; never rejects. */
  readonly ended: Promise<void>;
  /** Stops watching (the promise then never resolves). */
  close(): void;
}

export function watchMonitor(shimDir: string): MonitorWatch {
  let fd: number;
  try {
    fd = openSync(join(shimDir, SHIM_FILES.alive), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    // No FIFO: no monitor ever ran here, or the directory is gone. Either way nothing is alive.
    return { ended: Promise.resolve(), close: () => undefined };
  }
  const sock = new Socket({ fd, readable: true, writable: false });
  let closed = false;
  const ended = new Promise<void>((resolve) => {
    const done = (): void => {
      if (!closed) resolve();
      sock.destroy();
    };
    sock.on('data', () => undefined); // the monitor never writes; drain anyway
    sock.once('end', done);
    sock.once('close', done);
    sock.once('error', done);
  });
  return {
    ended,
    close: () => {
      closed = true;
      sock.destroy();
    },
  };
}
