// The caller's terminal settings, saved and put back as opaque bytes: whatever happens to the
// process that changed them (a killed `exec` helper leaves the terminal raw), the CLI restores them.

import { libcFunction } from './libc.js';

/** glibc's struct termios is 60 bytes on every Linux architecture corral runs on; 64 leaves room. */
const TERMIOS_BYTES = 64;
const TCSADRAIN = 1;

export interface SavedTerminal {
  readonly fd: number;
  readonly bytes: Buffer;
}

/** The settings of terminal `fd`, or null when it is not a terminal. */
export function saveTerminal(fd: number): SavedTerminal | null {
  const bytes = Buffer.alloc(TERMIOS_BYTES);
  const r = libcFunction('int tcgetattr(int fd, _Out_ uint8_t *termios)')(fd, bytes) as number;
  return r === 0 ? { fd, bytes } : null;
}

/** Puts the settings back; a terminal that went away meanwhile is not an error. */
export function restoreTerminal(saved: SavedTerminal): void {
  libcFunction('int tcsetattr(int fd, int actions, const uint8_t *termios)')(saved.fd, TCSADRAIN, saved.bytes);
}
