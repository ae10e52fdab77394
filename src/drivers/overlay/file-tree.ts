// A container's secrets and config files (`spec.secrets`, `spec.configFiles`): a small tmpfs per
// container at <root>/files/<name>, so no secret touches a disk, laid out as kubelet lays out a
// secret volume:
//   ..2026_12_03_07_40_12.123456789/<kind>/<name>   one generation of every file, owner and mode set
//   ..data -> ..2026_…                              the current generation
// The runtime binds the tree read-only at /run/corral/files and puts a symlink at each target to
// ..data/<kind>/<name>. A new generation is written beside the current one and `..data` is
// swapped by rename(2), so a reader sees the old files or the new ones, never a mix; then the old
// generation goes. The tree is the one host mount corral makes outside a container's namespace:
// it is unmounted when the container is removed, and the rootfs port lists a tree whose container
// is gone as an orphan, which the next pass removes.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, fchmodSync, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError, diagnostic, isCorralError, type Diagnostic } from '../../errors.js';
import { fileReferenceKey, filesOf, type ContainerSpec, type FileSpec } from '../../manifest/spec.js';
import { layout } from '../../state/layout.js';
import { MNT, MS, mount, umount2 } from '../../sys/mount.js';
import { FS_MAGIC, statfsType } from '../../sys/statfs.js';
import { asSyscallError, errnoCode } from './fs-util.js';

/** Largest content of one file. */
export const MAX_FILE_BYTES = 1 << 20;
/** Secrets plus config files a manifest may list (the schema allows 64 of each). */
const MAX_FILES = 128;
const DATA = '..data';

type Env = Readonly<Record<string, string | undefined>>;

/** Where a source is, for messages: never its content. */
export function describeSource(f: FileSpec): string {
  switch (f.source.kind) {
    case 'file': return `host file \`${f.source.path}\``;
    case 'env': return `corral's environment variable \`${f.source.name}\``;
    case 'systemdCredential': return `systemd credential \`${f.source.name}\``;
    case 'content': return 'inline content';
  }
}

function unavailable(f: FileSpec, why: string, hint?: string): CorralError {
  return new CorralError('FILE_SOURCE_UNAVAILABLE', `${f.kind === 'secret' ? 'secret' : 'config file'} \`${f.name}\`: ${describeSource(f)} ${why}`, hint ? { hint } : {});
}

function readHostFile(f: FileSpec, path: string): Buffer {
  let fd: number;
  try {
    // Non-blocking and checked on the open file: a FIFO or a device swapped in after a stat would
    // block the agent (it holds the state lock) or feed it without end.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw unavailable(f, 'does not exist', 'create it (corral reads it as root), or fix `source.file`');
    throw unavailable(f, `cannot be read (${code ?? (err as Error).message})`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw unavailable(f, 'is not a regular file');
    // Read to one byte past the limit, whatever the size says (/proc files say 0).
    const buf = Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length;) {
      r = readSync(fd, buf, n, buf.length - n, null);
      n += r;
    }
    if (n > MAX_FILE_BYTES) throw unavailable(f, `is larger than ${MAX_FILE_BYTES} bytes`);
    return Buffer.from(buf.subarray(0, n));
  } catch (err) {
    if (isCorralError(err)) throw err;
    throw unavailable(f, `cannot be read (${errnoCode(err) ?? (err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/** The content of one file, from its source; errors name the source. */
export function readSource(f: FileSpec, env: Env = process.env): Buffer {
  switch (f.source.kind) {
    case 'content': return Buffer.from(f.source.text);
    case 'file': return readHostFile(f, f.source.path);
    case 'env': {
      const value = env[f.source.name];
      if (value === undefined) throw unavailable(f, 'is not set', 'set it in the agent\'s environment (systemd: `Environment=` or `EnvironmentFile=`) and in the shell that runs `corral reconcile`');
      if (Buffer.byteLength(value) > MAX_FILE_BYTES) throw unavailable(f, `is larger than ${MAX_FILE_BYTES} bytes`);
      return Buffer.from(value);
    }
    case 'systemdCredential': {
      const dir = env['CREDENTIALS_DIRECTORY'];
      if (dir === undefined) throw unavailable(f, 'is not available: corral runs without $CREDENTIALS_DIRECTORY', 'pass it with `LoadCredential=` in the agent\'s unit, and run corral commands through that unit');
      return readHostFile(f, join(dir, f.source.name));
    }
  }
}

const KEY_BYTES = 32;

/**
 * The state root's key for secret digests. A plain sha256 of a short password is reversed by a
 * dictionary from any plan, event or CI log that shows it; an HMAC under a key only root can
 * read is not. Made once, kept with the state (0600).
 */
function secretKey(root: string): Buffer {
  const path = layout(root).secretsKey;
  try {
    const key = readFileSync(path);
    if (key.length === KEY_BYTES) return key;
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw asSyscallError(err, `read \`${path}\``);
  }
  mkdirSync(layout(root).root, { recursive: true, mode: 0o700 });
  const fresh = randomBytes(KEY_BYTES);
  try {
    writeFileSync(path, fresh, { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    // Another corral made it first: theirs is the key.
    if (errnoCode(err) === 'EEXIST') return readFileSync(path);
    throw asSyscallError(err, `write \`${path}\``);
  }
}

/** A config file's content by sha256; a secret's by HMAC-SHA256 under the state root's key. */
function digestOf(root: string, f: FileSpec, bytes: Buffer): string {
  if (f.kind === 'config') return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return `hmac-sha256:${createHmac('sha256', secretKey(root)).update(bytes).digest('hex')}`;
}

/** The content digest of every file, by reference key (`file:secret/db`): what the plan compares. */
export function fileDigests(root: string, spec: ContainerSpec, env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of filesOf(spec)) {
    try {
      out[fileReferenceKey(f)] = digestOf(root, f, readSource(f, env));
    } catch (err) {
      // Reported by fileProblems (check); the hash just lacks this digest meanwhile.
      if (!isCorralError(err)) throw err;
    }
  }
  return out;
}

/** Plan-time errors: every source that cannot be read now would fail the start. */
export function fileProblems(spec: ContainerSpec, env: Env = process.env): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const f of filesOf(spec)) {
    try {
      const bytes = readSource(f, env);
      if (f.kind === 'secret' && spec.process.env.some((e) => e.secret === f.name) && (bytes.includes(0) || !isUtf8(bytes))) {
        throw unavailable(f, 'is used as an environment value but is not UTF-8 text without NUL bytes');
      }
    } catch (err) {
      if (!isCorralError(err)) throw err;
      out.push(diagnostic('error', err.code, err.summary, { container: spec.name, field: `spec.${f.kind === 'secret' ? 'secrets' : 'configFiles'}`, ...(err.hint ? { hint: err.hint } : {}) }));
    }
  }
  return out;
}

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8')).equals(bytes);
}

/** Values of the environment variables that come from secrets, read now (at start). */
export function secretEnv(spec: ContainerSpec, env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  if (filesOf(spec).length === 0) return out;
  for (const e of spec.process.env) {
    if (e.secret === undefined) continue;
    const f = filesOf(spec).find((x) => x.kind === 'secret' && x.name === e.secret);
    if (f === undefined) throw new CorralError('INTERNAL', `environment variable \`${e.name}\` names secret \`${e.secret}\`, which the spec lacks`);
    const bytes = readSource(f, env);
    // Checked again at start: the file may have changed since the plan. The message never holds the content.
    if (bytes.includes(0) || !isUtf8(bytes)) throw unavailable(f, 'is used as an environment value but is not UTF-8 text without NUL bytes');
    out[e.name] = bytes.toString('utf8');
  }
  return out;
}

function isMounted(dir: string): boolean {
  try {
    return statfsType(dir) === FS_MAGIC.TMPFS && statSync(dir).dev !== statSync(join(dir, '..')).dev;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Room for two generations of every file a manifest may list at its largest (a limit, not an
 * allocation: tmpfs takes memory as files are written), fixed so that files added later fit in
 * the tree mounted first.
 */
const TMPFS_BYTES = MAX_FILES * 2 * MAX_FILE_BYTES + (1 << 20);

function generationName(now: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.${p(now.getUTCMilliseconds(), 3)}${process.hrtime.bigint() % 1000000n}`;
}

function writeOne(path: string, bytes: Buffer, f: FileSpec): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    // Ids as the container sees them: the tree is bound with the container's id mapping.
    fchownSync(fd, f.owner.uid, f.owner.gid);
    fchmodSync(fd, f.mode);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a new generation of every file of `spec` and makes it current; returns the tree's host
 * directory, or null (and no tree) when the spec has no files, and the digests written. Sources are read first: a missing
 * one fails the call before anything changes.
 */
export function writeFileTree(root: string, name: string, spec: ContainerSpec, env: Env = process.env, now = new Date()): { dir: string | null; digests: Record<string, string> } {
  const dir = layout(root).files(name);
  if (filesOf(spec).length === 0) {
    removeFileTree(root, name);
    return { dir: null, digests: {} };
  }
  const contents = filesOf(spec).map((f) => [f, readSource(f, env)] as const);
  const digests = Object.fromEntries(contents.map(([f, bytes]) => [fileReferenceKey(f), digestOf(root, f, bytes)]));
  try {
    mkdirSync(layout(root).filesDir, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Only root writes here; still, a link put in its place must not send the mount elsewhere.
    if (!lstatSync(dir).isDirectory()) throw new CorralError('ROOTFS_BUSY', `\`${dir}\` is not a directory corral made`, { hint: 'remove it by hand' });
    if (!isMounted(dir)) {
      mount({ source: 'corral-files', target: dir, fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: `mode=0755,size=${TMPFS_BYTES}` });
    }
    const generation = generationName(now);
    const gen = join(dir, generation);
    try {
      mkdirSync(join(gen, 'secret'), { recursive: true, mode: 0o755 });
      mkdirSync(join(gen, 'config'), { mode: 0o755 });
      for (const [f, bytes] of contents) writeOne(join(gen, f.kind, f.name), bytes, f);
    } catch (err) {
      // A half-written generation would only take room from the next one.
      rmSync(gen, { recursive: true, force: true });
      throw err;
    }
    const link = join(dir, `${DATA}.tmp`);
    rmSync(link, { force: true });
    symlinkSync(generation, link);
    renameSync(link, join(dir, DATA));
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith('..') && entry !== DATA && entry !== generation) rmSync(join(dir, entry), { recursive: true, force: true });
    }
    return { dir, digests };
  } catch (err) {
    if (isCorralError(err)) throw err;
    throw asSyscallError(err, `write the files of \`${name}\``);
  }
}

/**
 * `NAME=value` for the environment variables of `spec` that come from secrets, as the running
 * container has them now (its tree's current generation): what `corral exec` adds, as a Docker
 * exec sees the container's environment. A secret that cannot be read is left out.
 */
export function currentSecretEnv(root: string, name: string, spec: ContainerSpec): string[] {
  const out: string[] = [];
  for (const e of spec.process.env) {
    if (e.secret === undefined) continue;
    try {
      const bytes = readFileSync(join(layout(root).files(name), DATA, 'secret', e.secret));
      if (!bytes.includes(0) && isUtf8(bytes)) out.push(`${e.name}=${bytes.toString('utf8')}`);
    } catch {
      // Not delivered (yet): the variable is left out, not set empty.
    }
  }
  return out;
}

/** The current generation's target of `..data`, or null: for tests and `inspect`. */
export function currentGeneration(root: string, name: string): string | null {
  try {
    return readlinkSync(join(layout(root).files(name), DATA));
  } catch {
    return null;
  }
}

/** Unmounts and removes a container's tree; nothing when it has none. */
export function removeFileTree(root: string, name: string): void {
  const dir = layout(root).files(name);
  if (!existsSync(dir)) return;
  try {
    // Detached: a reader inside a running container keeps what it has open.
    if (!lstatSync(dir).isDirectory()) throw new CorralError('ROOTFS_BUSY', `\`${dir}\` is not a directory corral made`, { hint: 'remove it by hand' });
    while (isMounted(dir)) umount2(dir, MNT.DETACH | MNT.NOFOLLOW);
    if (lstatSync(dir).isDirectory()) rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    if (isCorralError(err)) throw err;
    throw asSyscallError(err, `remove the files of \`${name}\``);
  }
}

/** Names of the containers that have a tree (GC removes those of containers gone). */
export function fileTrees(root: string): string[] {
  try {
    return readdirSync(layout(root).filesDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}
