// What an image's config supplies (Entrypoint, Cmd, Env, User, WorkingDir, StopSignal) and how a
// manifest overrides it, following Docker's rules so images behave as their authors expect:
// - `command` replaces the Entrypoint and drops the image's Cmd; `args` replaces the Cmd;
// - env merges by name, the manifest winning;
// - `workingDir` falls back to the image's, then `/`.
// Pure: no Node imports.

import { CorralError } from '../../errors.js';
import type { EnvVar, ProcessSpec } from '../../manifest/spec.js';
import type { ImageDefaults } from './rootfs-layout.js';

export const NO_DEFAULTS: ImageDefaults = { entrypoint: null, cmd: null, env: [], user: null, workingDir: null, stopSignal: null };

function stringList(value: unknown, field: string): readonly string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new CorralError('IMAGE_INVALID', `image config field \`${field}\` is not a list of strings`);
  }
  return value as string[];
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new CorralError('IMAGE_INVALID', `image config field \`${field}\` is not a string`);
  return value;
}

/** The `config` object of an OCI image config (absent fields are null, as in the spec). */
export function defaultsFromConfig(config: unknown): ImageDefaults {
  if (config === undefined || config === null) return NO_DEFAULTS;
  if (typeof config !== 'object' || Array.isArray(config)) throw new CorralError('IMAGE_INVALID', 'image config field `config` is not an object');
  const c = config as Record<string, unknown>;
  const env = stringList(c['Env'], 'config.Env') ?? [];
  for (const e of env) {
    if (!/^[^=]+=/.test(e)) throw new CorralError('IMAGE_INVALID', `image config \`config.Env\` entry \`${e}\` is not NAME=value`);
  }
  return {
    entrypoint: stringList(c['Entrypoint'], 'config.Entrypoint'),
    cmd: stringList(c['Cmd'], 'config.Cmd'),
    env,
    user: optionalString(c['User'], 'config.User'),
    workingDir: optionalString(c['WorkingDir'], 'config.WorkingDir'),
    stopSignal: optionalString(c['StopSignal'], 'config.StopSignal'),
  };
}

export interface ResolvedProcess {
  readonly argv: readonly string[];
  /** Sorted by name. */
  readonly env: readonly EnvVar[];
  readonly workingDir: string;
  /** The image's `User` (`name`, `uid`, `uid:gid`...), for the runtime to resolve against the image's /etc/passwd when the manifest sets none. */
  readonly imageUser: string | null;
}

export function applyImageDefaults(proc: ProcessSpec, defaults: ImageDefaults | null, container?: string): ResolvedProcess {
  const d = defaults ?? NO_DEFAULTS;
  const argv = proc.command !== null ? [...proc.command, ...(proc.args ?? [])] : [...(d.entrypoint ?? []), ...(proc.args ?? d.cmd ?? [])];
  if (argv.length === 0) {
    throw new CorralError('MANIFEST_REQUIRED_FIELD', 'no command to run: the manifest sets no `command` and the image has no Entrypoint or Cmd', {
      ...(container === undefined ? {} : { container }), field: 'spec.command',
    });
  }
  const env = new Map<string, string>();
  for (const e of d.env) {
    const eq = e.indexOf('=');
    env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const e of proc.env) env.set(e.name, e.value);
  return {
    argv,
    env: [...env].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value })),
    workingDir: proc.workingDir ?? d.workingDir ?? '/',
    imageUser: d.user,
  };
}
