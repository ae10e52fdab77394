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

/**
 * Calls `onEnd` once, when the monitor has exited, unless the returned function (which stops
 * watching) ran first. The agent keeps one per running container, so it is a socket and a
 * closure: no promise, no AbortController.
 */
export function onMonitorEnd(shimDir: string, onEnd: () => void): () => void {
  let closed = false;
  const end = (): void => {
    if (closed) return;
    closed = true;
    onEnd();
  };
  let fd: number;
  try {
    fd = openSync(join(shimDir, SHIM_FILES.alive), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    // No FIFO: no monitor ever ran here, or the directory is gone. Either way nothing is alive.
    queueMicrotask(end);
    return () => {
      closed = true;
    };
  }
  const sock = new Socket({ fd, readable: true, writable: false });
  // EOF and errors both end in 'close' (the socket destroys itself after either); the monitor
  // never writes, and whatever is read is dropped.
  sock.once('close', end);
  sock.on('error', () => undefined);
  sock.resume();
  return () => {
    closed = true;
    sock.destroy();
  };
}

export function watchMonitor(shimDir: string): MonitorWatch {
  let close = (): void => undefined;
  const ended = new Promise<void>((resolve) => {
    close = onMonitorEnd(shimDir, resolve);
  });
  return { ended, close };
}
