// posix_spawn(3) from Node, for the shim's `run`: glibc spawns with clone(CLONE_VM | CLONE_VFORK),
// so the child shares the caller's memory until it execs. Node's child_process forks instead and
// copies the page tables of the whole agent (100 MB and more): ~3 ms of the main thread per
// container start, then copy-on-write faults in the parent (measured in the closing notes of
// issue 17; bench/reconcile.mjs). The child gets what libuv gives its children: every signal
// back to its default action, an empty signal mask, and exactly the fds it is handed.
//
// Reaping is the caller's (waitPidfd on the pidfd returned): never waitpid(-1), which would
// steal libuv's children.

import { check, libcFunction, syscallError } from './libc.js';
import { pidfdOpen } from './pidfd.js';

/** glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on 64-bit: room to spare. */
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 512;
const SIGSET_SIZE = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const F_DUPFD_CLOEXEC = 1030;
/** Source fds are moved at or above this, so that no dup2 into 0…N overwrites a later source. */
const FIRST_FREE_FD = 64;

/** What a child fd gets: an fd of ours (dup2'd; ours stays open), or /dev/null. */
export type ChildFd = number | 'null';

export interface Spawned {
  readonly pid: number;
  /** A pidfd of the child, close-on-exec: signals and reaping without pid-reuse races. */
  readonly pidfd: number;
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;

/** A close-on-exec pipe: [read end, write end]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  check(libcFunction('int pipe2(_Out_ int *fds, int flags)')(fds, O_CLOEXEC) as number, 'pipe2', {});
  return [fds[0]!, fds[1]!];
}

function highFd(fd: number): { fd: number; owned: boolean } {
  if (fd >= FIRST_FREE_FD) return { fd, owned: false };
  return { fd: check(libcFunction('int fcntl(int fd, int cmd, int arg)')(fd, F_DUPFD_CLOEXEC, FIRST_FREE_FD) as number, 'fcntl', { fd, cmd: 'F_DUPFD_CLOEXEC' }), owned: true };
}

/**
 * Starts `path` with `argv` and `env`; child fd i gets `fds[i]`, and no other fd of this process
 * (every fd Node and corral open is close-on-exec). Throws a SyscallError when the program cannot
 * be executed (glibc reports the child's execve errno).
 */
export function posixSpawn(path: string, argv: readonly string[], env: Readonly<Record<string, string>>, fds: readonly ChildFd[]): Spawned {
  const actions = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const raised = fds.map((f) => (f === 'null' ? null : highFd(f)));
  const fn = libcFunction;
  // Both only initialise memory (glibc): they cannot fail.
  fn('int posix_spawn_file_actions_init(_Inout_ uint8_t *fa)')(actions);
  fn('int posix_spawnattr_init(_Inout_ uint8_t *attr)')(attr);
  try {
    const addDup2 = fn('int posix_spawn_file_actions_adddup2(_Inout_ uint8_t *fa, int fd, int newfd)');
    const addOpen = fn('int posix_spawn_file_actions_addopen(_Inout_ uint8_t *fa, int fd, const char *path, int oflag, uint32_t mode)');
    for (const [target, source] of raised.entries()) {
      const r = source === null
        ? addOpen(actions, target, '/dev/null', target === 0 ? O_RDONLY : O_WRONLY, 0)
        : addDup2(actions, source.fd, target);
      if (r !== 0) throw syscallError(source === null ? 'posix_spawn_file_actions_addopen' : 'posix_spawn_file_actions_adddup2', { fd: target }, r as number);
    }
    const all = Buffer.alloc(SIGSET_SIZE, 0xff);
    const none = Buffer.alloc(SIGSET_SIZE, 0);
    fn('int posix_spawnattr_setsigdefault(_Inout_ uint8_t *attr, const uint8_t *set)')(attr, all);
    fn('int posix_spawnattr_setsigmask(_Inout_ uint8_t *attr, const uint8_t *set)')(attr, none);
    fn('int posix_spawnattr_setflags(_Inout_ uint8_t *attr, short flags)')(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    const pid = new Int32Array(1);
    const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const spawn = fn('int posix_spawn(_Out_ int *pid, const char *path, const uint8_t *fa, const uint8_t *attr, const char **argv, const char **envp)');
    const errno = spawn(pid, path, actions, attr, [...argv, null], [...envList, null]) as number;
    if (errno !== 0) throw syscallError('posix_spawn', { path }, errno);
    return { pid: pid[0]!, pidfd: pidfdOpen(pid[0]!) };
  } finally {
    fn('int posix_spawn_file_actions_destroy(_Inout_ uint8_t *fa)')(actions);
    fn('int posix_spawnattr_destroy(_Inout_ uint8_t *attr)')(attr);
    for (const r of raised) if (r?.owned) libcFunction('int close(int fd)')(r.fd);
  }
}
