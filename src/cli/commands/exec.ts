// corral exec NAME [-e K=V] [-u USER[:GROUP]] [-w DIR] [-t] -- CMD...: runs a command inside a running
// container — all its namespaces (user included), its cgroups, its root, the manifest's
// environment (never the caller's) — and exits with the command's code (128+signal when killed).
// The entering happens in the single-threaded shim, never in Node (docs/architecture.md, "Calling
// the kernel from Node").

import type { ChildProcess } from 'node:child_process';
import { Command } from 'commander';
import { CorralError } from '../../errors.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { ImageDefaults, ProcessUser } from '../../reconciler/ports.js';
import { currentSecretEnv } from '../../drivers/overlay/file-tree.js';
import { parseImageUser, type UserRequest } from '../../drivers/overlay/user-lookup.js';
import { execShim } from '../../drivers/namespaces/shim.js';
import type { ProcessPlan } from '../../drivers/namespaces/spawn-spec.js';
import { buildExecSpec, DEFAULT_PATH } from '../../drivers/namespaces/spec.js';
import { hostCapabilityMask } from '../../sys/proc.js';
import { restoreTerminal, saveTerminal } from '../../sys/termios.js';
import { collect, contextFrom, type CliContext } from '../context.js';
import { checkName } from '../names.js';

/** What exec needs to know about a running container; the state store provides it. */
export interface ExecTarget {
  readonly spec: ContainerSpec;
  readonly image: ImageDefaults | null;
  /** The container's PID 1, identified by its start time. */
  readonly init: { readonly pid: number; readonly startTime: number };
  /** cgroup.procs files of the container, one per hierarchy. */
  readonly cgroupProcs: readonly string[];
  /** Its user as resolved when it started; absent (older handles): the manifest's ids. */
  readonly user?: ProcessUser;
  /** Looks a user up in the running container's own /etc/passwd and /etc/group. */
  lookupUser(request: UserRequest): ProcessUser;
  /** Whether `path` exists in the running container (symlinks on the way resolved inside it); null when that cannot be told. */
  exists(path: string): boolean | null;
}

export interface ExecDeps {
  /** Throws CONTAINER_NOT_FOUND or CONTAINER_NOT_RUNNING. */
  findRunning(name: string, ctx: CliContext): Promise<ExecTarget>;
}

/** `-u`: ids are used as they are; any name is looked up inside the container. */
export function parseUser(value: string): { uid: number; gid?: number } | { lookup: UserRequest } {
  let request: UserRequest;
  try {
    request = parseImageUser(value);
  } catch {
    throw new CorralError('CLI_USAGE', `--user \`${value}\` is not USER or USER:GROUP (names or ids)`);
  }
  const { user, group } = request;
  if (typeof user === 'number' && group === null) return { uid: user };
  if (typeof user === 'number' && typeof group === 'number') return { uid: user, gid: group };
  return { lookup: request };
}

export function parseEnv(values: readonly string[]): string[] {
  for (const v of values) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new CorralError('CLI_USAGE', `--env \`${v}\` is not NAME=VALUE`);
  }
  return [...values];
}

/**
 * The paths execve is tried on for the command, as the shim tries them (shim/exec.c ›
 * exec_search): the name itself when it holds a slash, else the name in each directory of the
 * command's PATH; relative ones from its working directory.
 */
export function executableCandidates(plan: Pick<ProcessPlan, 'argv' | 'env' | 'cwd'>): { readonly file: string; readonly searchPath: string | null; readonly paths: readonly string[] } {
  const file = plan.argv[0] ?? '';
  // Joined, never normalized: `..` after a symlink is the kernel's to resolve, inside the container.
  const inCwd = (p: string): string => (p.startsWith('/') ? p : `${plan.cwd.replace(/\/+$/, '')}/${p}`);
  if (file.includes('/')) return { file, searchPath: null, paths: [inCwd(file)] };
  const searchPath = plan.env.find((e) => e.startsWith('PATH='))?.slice('PATH='.length) ?? DEFAULT_PATH;
  return { file, searchPath, paths: searchPath.split(':').map((dir) => inCwd(`${dir || '.'}/${file}`)) };
}

/**
 * EXEC_FAILED naming the command when none of its candidates exists in the container, so a typo
 * is told before the helper starts: the helper's own report of it would reach the terminal as a
 * log line of its own, mixed with the command's output it relays.
 */
export function missingCommand(name: string, plan: Pick<ProcessPlan, 'argv' | 'env' | 'cwd'>, exists: (path: string) => boolean | null): CorralError | null {
  const { file, searchPath, paths } = executableCandidates(plan);
  if (file === '' || paths.some((p) => exists(p) !== false)) return null;
  return searchPath === null
    ? new CorralError('EXEC_FAILED', `container \`${name}\` has no \`${file}\``, { container: name, hint: 'check the path: it is looked up in the container\'s root, not the host\'s' })
    : new CorralError('EXEC_FAILED', `container \`${name}\` has no \`${file}\` in its PATH`, {
      container: name, detail: `searched ${searchPath}`, hint: 'give the full path, or another PATH with `-e PATH=...`',
    });
}

interface ExecOpts { env?: string[]; user?: string; workdir?: string; tty?: boolean }

export function execCommand(deps: ExecDeps): Command {
  return new Command('exec')
    .description('run a command inside a running container (its namespaces, cgroups, root and environment)')
    .argument('<name>', 'container name')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('-e, --env <NAME=VALUE>', 'set an environment variable (repeatable; added over the manifest\'s)', collect)
    .option('-u, --user <USER[:GROUP]>', 'run as this user (and group) inside the container: ids, or names looked up in its own /etc/passwd and /etc/group (default: the container\'s user)')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-t, --tty', 'give the command a new pseudo-terminal of the container (when the caller has a terminal); without it, pipes')
    .addHelpText('after', '\nExit status: the command\'s own; 128+N when it was killed by signal N; 1 when it could not be started.')
    .action(async (rawName: string, argv: string[], opts: ExecOpts, command: Command) => {
      const name = checkName(rawName);
      const ctx = contextFrom(command);
      const asked = opts.user === undefined ? null : parseUser(opts.user);
      if (opts.workdir !== undefined && !opts.workdir.startsWith('/')) throw new CorralError('CLI_USAGE', `--workdir \`${opts.workdir}\` is not an absolute path`);
      const target = await deps.findRunning(name, ctx);
      const user = asked === null ? (target.user ? { user: target.user } : {}) : 'lookup' in asked ? { user: target.lookupUser(asked.lookup) } : { ...(target.user ? { user: target.user } : {}), ...asked };
      const tty = opts.tty === true && process.stdin.isTTY === true && process.stdout.isTTY === true;
      if (opts.tty && !tty) ctx.logger.debug('no terminal on stdin/stdout: running without a pty', { container: name });
      const spec = buildExecSpec(target.spec, target.image, target.cgroupProcs, {
        // Variables from secrets as the container has them; `-e` still wins.
        argv, env: [...currentSecretEnv(ctx.root, name, target.spec), ...parseEnv(opts.env ?? [])], ...user, ...(opts.workdir ? { cwd: opts.workdir } : {}), tty,
      }, process.arch, hostCapabilityMask());
      const missing = missingCommand(name, spec.process, (path) => target.exists(path));
      if (missing) throw missing;
      // Every signal this process gets is passed to the helper, which hands it to the command
      // inside; a terminal's ^C, ^\\, resize or hangup reaches the helper too, and it acts on the
      // first of the two copies only (shim/relay.c › is_echo), so each arrives once.
      let helper: ChildProcess | null = null;
      const forward = (signal: NodeJS.Signals): void => {
        helper?.kill(signal);
      };
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
      for (const s of signals) process.on(s, forward);
      // The helper puts the terminal in raw mode and back; if it is killed, this puts it back.
      const terminal = tty ? saveTerminal(0) : null;
      try {
        const r = await execShim(spec, target.init, { stdio: 'inherit', onSpawn: (child) => { helper = child; } });
        process.exitCode = r.exitCode ?? 128 + (r.signal ?? 0);
      } finally {
        if (terminal) restoreTerminal(terminal);
        for (const s of signals) process.off(s, forward);
      }
    });
}
