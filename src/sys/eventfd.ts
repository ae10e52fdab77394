// eventfd(2): the counter cgroup v1 OOM notifications are delivered through.

import { check, libcFunction } from './libc.js';

export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

export function eventfd(initval = 0, flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  const fn = libcFunction('int eventfd(unsigned int initval, int flags)');
  return check(fn(initval, flags) as number, 'eventfd', { initval, flags });
}
