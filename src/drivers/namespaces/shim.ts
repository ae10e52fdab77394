// Spawning the shim, the execa way: typed failures (ShimError), AbortSignal cancellation, and
// SIGTERM escalating to SIGKILL. The spec goes to fd 3, status lines come back on fd 4, the shim's
// own JSON log lines on stderr are forwarded to the logger. `run` starts it with posix_spawn
// (no fork of the agent); `exec` with Node's spawn, whose ChildProcess its caller drives.

import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CorralError } from '../../errors.js';
import { sameProcess } from '../../sys/proc.js';
import { sealedCopy } from '../../sys/memfd.js';
import { closeFd, pidfdOpen, pidfdSendSignal, waitPidfd } from '../../sys/pidfd.js';
import { pipe, posixSpawn } from '../../sys/posix-spawn.js';
import { encodeSpawnSpec, parseStatusLine, type StatusMessage } from './protocol.js';
import { SHIM_EXIT, SHIM_FD } from './protocol-fields.js';
import { ShimError } from './shim-error.js';
import type { ExecSpawnSpec, JoinTarget, NetworkJoin, RunSpawnSpec, SpawnSpec } from './spawn-spec.js';

/** Where `npm install` builds the shim; the same path from src/ and from dist/. */
export const DEFAULT_SHIM_PATH = fileURLToPath(new URL('../../../src/drivers/namespaces/shim/build/corral-shim', import.meta.url));

export function shimPath(): string {
  return process.env['CORRAL_SHIM'] ?? DEFAULT_SHIM_PATH;
}

export interface ShimLogger {
  log(level: string, message: string, meta?: Record<string, unknown>): unknown;
}

export interface ShimOptions {
  readonly shim?: string;
  readonly signal?: AbortSignal;
  /** SIGTERM, then SIGKILL this long after (execa's forceKillAfterDelay). */
  readonly forceKillAfterMs?: number;
  readonly logger?: ShimLogger;
}

function checkShim(path: string): void {
  try {
    accessSync(path, fsConstants.X_OK);
  } catch (cause) {
    throw new CorralError('SHIM_MISSING', `the shim \`${path}\` is not built or not executable`, {
      hint: 'run `npm install` (or `make -C src/drivers/namespaces/shim`); it needs a C compiler', cause,
    });
  }
}

let sealed: { readonly key: string; readonly fd: number } | null = null;

/**
 * What to execute for `path`: one sealed memfd copy per process (per build of the shim), named
 * through this process's fd table. Every monitor and exec helper started from it shares the same
 * read-only pages, and a container process that reaches its /proc/PID/exe finds a file nobody can
 * write (shim/seal.h). The shim re-executes from a copy of its own when started any other way.
 */
export function sealedShimPath(path: string): string {
  const st = statSync(path);
  const key = `${path}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  if (sealed?.key !== key) {
    const fd = sealedCopy(path, 'corral-shim', true);
    // Processes already started from the old copy hold their own reference to it.
    if (sealed) closeFd(sealed.fd);
    sealed = { key, fd };
  }
  return `/proc/${process.pid}/fd/${sealed.fd}`;
}

/** A pidfd of the target, checked against its start time after opening: no PID-reuse mistakes. */
/** An fd to setns() into: a namespace file's, or the pidfd of a process checked against its start time. */
function openNetworkJoin(join: NetworkJoin, container: string): number {
  if (!('netnsPath' in join)) return openTarget(join, container);
  try {
    return openSync(join.netnsPath, 'r');
  } catch (cause) {
    throw new CorralError('CONTAINER_SETUP_FAILED', `container \`${container}\`: cannot open its network namespace \`${join.netnsPath}\``, { container, cause });
  }
}

export function openTarget(target: JoinTarget, container: string): number {
  let fd: number;
  try {
    fd = pidfdOpen(target.pid);
  } catch (cause) {
    throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${container}\`: its init (pid ${target.pid}) is gone`, { container, cause });
  }
  if (!sameProcess(target.pid, target.startTime)) {
    closeFd(fd);
    throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${container}\`: pid ${target.pid} is no longer its init (start time differs)`, { container });
  }
  return fd;
}

/** How the shim process ended. */
type ShimExit = { code: number | null; signal: NodeJS.Signals | null };

interface Exchange {
  readonly messages: StatusMessage[];
  readonly stderr: string[];
  readonly done: Promise<ShimExit>;
  readonly kill: (signal: NodeJS.Signals) => void;
  canceled: boolean;
}

/** The shim's end of one exchange, however it was started. */
interface ShimPipes {
  readonly status: Readable | null;
  readonly stderr: Readable | null;
  readonly spec: Writable | null;
  /** Resolves when the shim process has ended (and is reaped); rejects when it could not start. */
  readonly exited: Promise<ShimExit>;
  readonly kill: (signal: NodeJS.Signals) => void;
}

function forwardLogs(stream: Readable | null, sink: string[], logger: ShimLogger | undefined, name: string): void {
  if (!stream) return;
  createInterface({ input: stream }).on('line', (line) => {
    sink.push(line);
    if (!logger) return;
    try {
      const { level, msg, ...rest } = JSON.parse(line) as { level?: string; msg?: string };
      logger.log(level === 'warn' || level === 'error' || level === 'debug' ? level : 'info', `shim: ${msg ?? ''}`, { container: name, ...rest });
    } catch {
      logger.log('warn', `shim: ${line}`, { container: name });
    }
  });
}

/** The shim gets no environment of ours; only sanitizer settings pass, for the ASan test run. */
function shimEnv(): Record<string, string> {
  // Two lookups, not a walk of process.env (each of its entries is a call into Node).
  const env: Record<string, string> = {};
  for (const name of ['ASAN_OPTIONS', 'UBSAN_OPTIONS']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Sends the spec, collects status lines and log lines, and settles once the shim ended and its status pipe closed. */
function converse(spec: SpawnSpec, pipes: ShimPipes, opts: ShimOptions): Exchange {
  const messages: StatusMessage[] = [];
  const stderr: string[] = [];
  const ex: Exchange = {
    messages, stderr, canceled: false, kill: pipes.kill,
    done: new Promise((resolve, reject) => {
      let exit: ShimExit | undefined;
      let statusClosed = false;
      const finish = (): void => {
        if (exit && statusClosed) resolve(exit);
      };
      pipes.exited.then((e) => {
        exit = e;
        finish();
      }, reject);
      if (!pipes.status) {
        statusClosed = true;
        return;
      }
      const rl = createInterface({ input: pipes.status });
      rl.on('line', (line) => {
        try {
          messages.push(parseStatusLine(line));
        } catch (err) {
          reject(err);
        }
      });
      rl.once('close', () => {
        statusClosed = true;
        finish();
      });
    }),
  };
  forwardLogs(pipes.stderr, stderr, opts.logger, spec.name);
  // The shim reads exactly header + body; EPIPE here means it died first, which `done` reports.
  pipes.spec?.on('error', () => undefined);
  pipes.spec?.end(encodeSpawnSpec(spec));

  if (opts.signal) {
    const onAbort = (): void => {
      ex.canceled = true;
      pipes.kill('SIGTERM');
      setTimeout(() => pipes.kill('SIGKILL'), opts.forceKillAfterMs ?? 5000).unref();
    };
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
    void ex.done.finally(() => opts.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
  }
  return ex;
}

/** `exec`: through Node's spawn, whose ChildProcess the caller drives (stdin, a terminal's job control). */
function spawnExec(spec: SpawnSpec, stdio: StdioOptions, path: string): { child: ChildProcess; pipes: ShimPipes } {
  // An exec helper stays in the caller's process group, so a terminal's job control applies to it
  // (stopped with ^Z, SIGTTIN when it reads in the background). It leaves the signals a terminal
  // generates to its parent, which passes on what it gets (shim/relay.h).
  const child = spawn(sealedShimPath(path), ['exec'], { stdio, env: shimEnv(), argv0: 'corral-shim' });
  const exited = new Promise<ShimExit>((resolve, reject) => {
    child.once('error', (err) => reject(new ShimError('SHIM_MISSING', { stage: 'spawn', detail: path, container: spec.name, cause: err })));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    pipes: {
      status: child.stdio[SHIM_FD.status] as Readable | null, stderr: child.stderr, spec: child.stdio[SHIM_FD.spec] as Writable | null,
      exited, kill: (signal) => child.kill(signal),
    },
  };
}

/** Number to name, the first name of each number (SIGABRT, not its alias SIGIOT), as Node's own 'exit' event says. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(osConstants.signals)) if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name as NodeJS.Signals);

/** The launcher's pidfd until it is reaped; null after, when its number may already name another fd. */
interface Launcher {
  pidfd: number | null;
}

/** Polls a child that is about to end (its status pipe closed): waitid(WNOHANG) on its pidfd, never a blocking wait. */
async function reap(launcher: Launcher): Promise<ShimExit> {
  for (let delay = 1; launcher.pidfd !== null; delay = Math.min(delay * 2, 50)) {
    const exit = waitPidfd(launcher.pidfd);
    if (exit) {
      closeFd(launcher.pidfd);
      launcher.pidfd = null;
      return { code: exit.code, signal: exit.signal === null ? null : SIGNAL_NAMES.get(exit.signal) ?? null };
    }
    await sleep(delay);
  }
  throw new Error('reaped twice');
}

/**
 * `run`: through posix_spawn (src/sys/posix-spawn.ts), which does not copy the agent's page
 * tables as Node's fork does. stdin and stdout are /dev/null; stderr, the spec and the status
 * are pipes; `extraFd`, when given, becomes fd 5.
 */
function spawnRun(spec: SpawnSpec, path: string, extraFd: number | null): ShimPipes {
  const [stderrRead, stderrWrite] = pipe();
  const [specRead, specWrite] = pipe();
  const [statusRead, statusWrite] = pipe();
  const theirs = [stderrWrite, specRead, statusWrite];
  let spawned;
  try {
    spawned = posixSpawn(sealedShimPath(path), ['corral-shim', 'run'], shimEnv(), ['null', 'null', stderrWrite, specRead, statusWrite, ...(extraFd === null ? [] : [extraFd])]);
  } catch (err) {
    for (const fd of [...theirs, stderrRead, specWrite, statusRead]) closeFd(fd);
    const e = Promise.reject(new ShimError('SHIM_MISSING', { stage: 'spawn', detail: path, container: spec.name, cause: err }));
    e.catch(() => undefined);
    return { status: null, stderr: null, spec: null, exited: e, kill: () => undefined };
  }
  for (const fd of theirs) closeFd(fd);
  const launcher: Launcher = { pidfd: spawned.pidfd };
  let reaping: Promise<ShimExit> | null = null;
  const startReaping = (): Promise<ShimExit> => (reaping ??= reap(launcher));
  // The launcher forks the monitor and ends once the monitor has recorded the start (or failed),
  // as the status pipe closes: reaping starts then, or at a kill, which before `ready` takes the
  // monitor and the container's first process with it (shim/main.c).
  const status = new Socket({ fd: statusRead, readable: true, writable: false });
  const exited = new Promise<ShimExit>((resolve) => status.once('close', () => resolve(startReaping())));
  return {
    status,
    stderr: new Socket({ fd: stderrRead, readable: true, writable: false }),
    spec: new Socket({ fd: specWrite, readable: false, writable: true }),
    exited,
    // Through the pidfd, and never once reaped.
    kill: (signal) => {
      if (launcher.pidfd === null) return;
      try {
        pidfdSendSignal(launcher.pidfd, osConstants.signals[signal]);
      } catch { /* already gone */ }
      void startReaping();
    },
  };
}

/**
 * Setup failures that are a refusal, not an accident: a path of the container that resolves
 * outside it or through a magic link (shim/exec.c › enter_workdir), a /dev/null or ptmx that is
 * not the kernel object it must be (shim/root.c, shim/attach.c).
 */
function isUnsafePath(stage: string, errno: number): boolean {
  if (stage === 'workdir') return errno === osConstants.errno.ELOOP || errno === osConstants.errno.EXDEV;
  return stage === 'mask-source' || stage === 'ptmx';
}

function failure(spec: SpawnSpec, ex: Exchange, exit: ShimExit, setupCode: 'CONTAINER_SETUP_FAILED' | 'EXEC_FAILED'): ShimError {
  const err = ex.messages.find((m): m is Extract<StatusMessage, { type: 'error' }> => m.type === 'error');
  const base = { exitCode: exit.code, signal: exit.signal, stderr: ex.stderr.join('\n'), container: spec.name, isCanceled: ex.canceled };
  if (err) {
    const code = err.stage === 'spec' ? 'SHIM_PROTOCOL' : isUnsafePath(err.stage, err.errno) ? 'CONTAINER_PATH_UNSAFE' : setupCode;
    return new ShimError(code, { ...base, stage: err.stage, errno: err.errno, detail: err.detail });
  }
  if (ex.canceled) return new ShimError(setupCode, { ...base, stage: 'canceled', detail: 'the start was aborted' });
  return new ShimError('SHIM_PROTOCOL', { ...base, stage: 'status', detail: `the shim ended (exit ${exit.code ?? exit.signal}) without reporting ready or an error` });
}

export interface ShimReady {
  readonly monitorPid: number;
  readonly monitorStartTime: number;
  readonly initPid: number;
  readonly initStartTime: number;
  readonly startedAtMs: number;
}

/** Starts a container; resolves once its command runs (execve succeeded). */
export async function runShim(spec: RunSpawnSpec, opts: ShimOptions = {}): Promise<ShimReady> {
  const path = opts.shim ?? shimPath();
  checkShim(path);
  const join = spec.joinNetwork ? openNetworkJoin(spec.joinNetwork, spec.name) : null;
  try {
    const ex = converse(spec, spawnRun(spec, path, join), opts);
    const exit = await ex.done;
    const ready = ex.messages.find((m) => m.type === 'ready');
    if (ready && ready.type === 'ready' && ready.monitorPid && ready.initPid) {
      if (ex.canceled) {
        // Aborted after all: the monitor's process group holds the monitor and the init.
        try { process.kill(-ready.monitorPid, 'SIGKILL'); } catch { /* already gone */ }
        throw failure(spec, ex, exit, 'CONTAINER_SETUP_FAILED');
      }
      return {
        monitorPid: ready.monitorPid, monitorStartTime: ready.monitorStartTime ?? 0, initPid: ready.initPid,
        initStartTime: ready.initStartTime ?? 0, startedAtMs: ready.startedAtMs ?? Date.now(),
      };
    }
    throw failure(spec, ex, exit, 'CONTAINER_SETUP_FAILED');
  } finally {
    if (join !== null) closeFd(join);
  }
}

export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: number | null;
  readonly pid: number | null;
}

export interface ExecOptions extends ShimOptions {
  /** stdin, stdout, stderr of the command: 'inherit' for a CLI, 'pipe' for tests. */
  readonly stdio?: 'inherit' | 'pipe' | readonly ['inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore', 'inherit' | 'pipe' | 'ignore'];
  /** Called with the child once spawned (to write its stdin or read its output). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/** Runs a command inside a running container (setns in the single-threaded shim, never in Node). */
export async function execShim(spec: ExecSpawnSpec, target: JoinTarget, opts: ExecOptions = {}): Promise<ExecResult> {
  const pidfd = openTarget(target, spec.name);
  try {
    const s = opts.stdio ?? 'inherit';
    const io = typeof s === 'string' ? [s, s, s] : [...s];
    // The shim's own log lines share stderr with the command here: with 'inherit' they go to the
    // caller's terminal, which is where an exec failure belongs.
    const path = opts.shim ?? shimPath();
    checkShim(path);
    const { child, pipes } = spawnExec(spec, [...io, 'pipe', 'pipe', pidfd] as StdioOptions, path);
    const ex = converse(spec, pipes, { ...opts, logger: undefined });
    opts.onSpawn?.(child);
    const exit = await ex.done;
    const exited = ex.messages.find((m) => m.type === 'exited');
    const ready = ex.messages.find((m) => m.type === 'ready');
    if (exited && exited.type === 'exited') {
      return { exitCode: exited.exitCode, signal: exited.signal, pid: ready?.type === 'ready' ? ready.pid ?? null : null };
    }
    if (exit.code !== null && exit.code !== SHIM_EXIT.setup && exit.code !== SHIM_EXIT.protocol && !ex.messages.some((m) => m.type === 'error')) {
      return { exitCode: exit.code, signal: null, pid: null };
    }
    throw failure(spec, ex, exit, 'EXEC_FAILED');
  } finally {
    closeFd(pidfd);
  }
}
