// Registry credentials from the files users already have, in the order podman and skopeo read
// them: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, /etc/containers/auth.json
// (root's usual place), then ~/.docker/config.json. `CORRAL_AUTH_FILE` names the only file to read
// (tests, or an agent with a file of its own). An entry is `{auth: base64("user:password")}` or
// `{username, password}`, keyed by the registry host (with or without a scheme and a path).
// Credential helpers (`credsStore`, `credHelpers`) are not run. `corral login` writes the first
// file of that list that is not Docker's (loginFile), as `podman login` does.

import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { atomicWriteFile } from '../../fs-util.js';
import { CorralError } from '../../../../errors.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
  /** The file they came from, for messages. */
  readonly source: string;
}

const MAX_FILE = 1 << 20;
const DOCKER_HUB_KEYS = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'];

export function credentialFiles(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  if (env['CORRAL_AUTH_FILE']) return [env['CORRAL_AUTH_FILE']];
  return [
    ...(env['REGISTRY_AUTH_FILE'] ? [env['REGISTRY_AUTH_FILE']] : []),
    ...(env['XDG_RUNTIME_DIR'] ? [join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json')] : []),
    '/etc/containers/auth.json',
    join(env['HOME'] ?? homedir(), '.docker', 'config.json'),
  ];
}

/** `https://host:5000/v1/` → `host:5000`. */
function hostOf(key: string): string {
  const noScheme = key.replace(/^[a-z]+:\/\//i, '');
  const slash = noScheme.indexOf('/');
  return (slash === -1 ? noScheme : noScheme.slice(0, slash)).toLowerCase();
}

function readJson(file: string): Record<string, unknown> | null {
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE) throw new CorralError('REGISTRY_AUTH_FAILED', `credential file \`${file}\` is larger than ${MAX_FILE} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CorralError('REGISTRY_AUTH_FAILED', `credential file \`${file}\` is not valid JSON: ${(err as Error).message}`, { hint: 'fix it, or point CORRAL_AUTH_FILE at another file' });
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
}

function decode(entry: unknown, file: string, key: string): Credentials | null {
  if (typeof entry !== 'object' || entry === null) return null;
  const e = entry as Record<string, unknown>;
  if (typeof e['username'] === 'string' && typeof e['password'] === 'string') return { username: e['username'], password: e['password'], source: file };
  if (typeof e['auth'] !== 'string' || e['auth'] === '') return null;
  const text = Buffer.from(e['auth'], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) throw new CorralError('REGISTRY_AUTH_FAILED', `credential file \`${file}\`: the \`auth\` of \`${key}\` is not base64 of USER:PASSWORD`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1), source: file };
}

/** Credentials for `registry` (`host[:port]`, docker.io for Docker Hub), from the first file that has some. */
export function findCredentials(registry: string, files: readonly string[] = credentialFiles()): Credentials | null {
  const wanted = registry === 'docker.io' ? new Set(DOCKER_HUB_KEYS.map(hostOf)) : new Set([registry.toLowerCase()]);
  for (const file of files) {
    const auths = readJson(file)?.['auths'];
    if (typeof auths !== 'object' || auths === null) continue;
    for (const [key, entry] of Object.entries(auths)) {
      if (!wanted.has(hostOf(key))) continue;
      const found = decode(entry, file, key);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Where `corral login` keeps credentials: CORRAL_AUTH_FILE, REGISTRY_AUTH_FILE, then
 * $XDG_RUNTIME_DIR/containers/auth.json, else /etc/containers/auth.json: root's agent under
 * systemd has no runtime directory, and a login must outlive a reboot for it.
 */
export function loginFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return credentialFiles(env)[0]!;
}

/** The file's entries for other registries, and its other keys, are kept; written atomically, 0600. */
function rewrite(file: string, change: (auths: Record<string, unknown>) => boolean): boolean {
  const json = readJson(file) ?? {};
  const current = json['auths'];
  const auths: Record<string, unknown> = typeof current === 'object' && current !== null && !Array.isArray(current) ? { ...(current as Record<string, unknown>) } : {};
  if (!change(auths)) return false;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  atomicWriteFile(file, `${JSON.stringify({ ...json, auths }, null, 2)}\n`, 0o600);
  return true;
}

/** Stores `username:password` for `registry` under its host, replacing what it had. */
export function saveCredentials(file: string, registry: string, username: string, password: string): void {
  const host = registry.toLowerCase();
  rewrite(file, (auths) => {
    for (const key of Object.keys(auths)) if (hostOf(key) === host) delete auths[key];
    auths[host] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    return true;
  });
}

/** Removes every entry of `registry`; false when the file had none. */
export function removeCredentials(file: string, registry: string): boolean {
  const host = registry.toLowerCase();
  return rewrite(file, (auths) => {
    const keys = Object.keys(auths).filter((key) => hostOf(key) === host);
    for (const key of keys) delete auths[key];
    return keys.length > 0;
  });
}
