// bin/corral: a shell script that starts Node from the CLI's startup snapshot, and the same file as
// an ES module when Node runs it or the snapshot cannot be used (scripts/bundle.mjs, src/cli/snapshot-entry.ts).

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { BIN, REPO } from '../support/cli.js';

const BLOB_ROOT = join(REPO, 'dist/corral.blob.root');

interface Run { code: number | null; stdout: string; stderr: string }

function run(file: string, args: readonly string[], cwd = REPO, env: Record<string, string> = {}): Run {
  const r = spawnSync(file, args, { cwd, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: '/root', CORRAL_ROOT: join(dir, 'root'), ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliStart(r: Run): string {
  return (JSON.parse(r.stdout) as { host: { cliStart: string } }).host.cliStart;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-launcher-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

test('run as a program, it starts from the snapshot the build made for this checkout', () => {
  expect(readFileSync(BLOB_ROOT, 'utf8').trim()).toBe(REPO);
  const info = run(BIN, ['info', '-o', 'json']);
  expect(info.code).toBe(0);
  expect(cliStart(info)).toBe('snapshot');
  // Arguments reach corral, not Node: `--help` is corral's, options after the command are the command's.
  expect(run(BIN, ['--help']).stdout).toContain('Usage: corral');
  expect(run(BIN, ['validate', '--help']).stdout).toContain('Usage: corral validate');
});

test('`validate` starts from a snapshot of that command alone, which refuses any other', () => {
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const lean = join(REPO, 'dist/corral-validate.blob');
  const r = run(BIN, ['validate', join(REPO, 'manifests')]);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(/^valid: 3 files/);
  // What bin/corral learnt of it: it loads on this machine (it was tried, and then used).
  expect(existsSync(`${lean}.loads.${boot}`)).toBe(true);
  expect(spawnSync(process.execPath, ['--snapshot-blob', lean, '--', 'validate', join(REPO, 'manifests')], { encoding: 'utf8' }).stdout).toMatch(/^valid: 3 files/);
  // It holds no other command: a launcher that picked it for one gets a clear internal error.
  const wrong = spawnSync(process.execPath, ['--snapshot-blob', lean, '--', 'ps'], { encoding: 'utf8' });
  expect(wrong.status).toBe(1);
  expect(wrong.stderr).toContain('internal error (a bug; please report it): a snapshot of validate started for ps');
  // Global options first: the whole CLI's snapshot serves it, with the same answer.
  expect(run(BIN, ['--log-level', 'error', 'validate', join(REPO, 'manifests')]).stdout).toMatch(/^valid: 3 files/);
});

test('a bare `--version` is answered without starting Node, as the snapshot and the modules answer it', () => {
  // No node on PATH: the launcher would fail to start it.
  for (const flag of ['--version', '-V']) expect(run(BIN, [flag], REPO, { PATH: dir })).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  expect(run(process.execPath, [BIN, '--version']).stdout).toBe(`${VERSION}\n`);
  expect(spawnSync(process.execPath, ['--snapshot-blob', join(REPO, 'dist/corral.blob'), '--', '--version'], { encoding: 'utf8' }).stdout).toBe(`${VERSION}\n`);
  // With anything else on the line, Node answers (and finds the mistake).
  expect(run(BIN, ['--version', 'extra'], REPO, { PATH: dir }).stderr).toContain('node is not on PATH');
});

test('NODE_EXTRA_CA_CERTS reaches only the commands that may open a TLS connection', () => {
  // Node reads the file as it starts and warns when it cannot: the warning says who got it.
  const env = { NODE_EXTRA_CA_CERTS: join(dir, 'no-such-bundle.pem') };
  const loaded = (r: Run) => r.stderr.includes('Ignoring extra certs');
  // `plan` only says which pulls a start would make.
  for (const args of [['--help'], ['ps'], ['validate', join(REPO, 'manifests')], ['info', '-o', 'json'], ['logs', '--help'], ['plan', '--help']]) {
    const r = run(BIN, args, REPO, env);
    expect({ args, code: r.code, loaded: loaded(r) }).toEqual({ args, code: 0, loaded: false });
  }
  // A command that may pull an image keeps it (a registry behind a private CA).
  for (const args of [['image', '--help'], ['reconcile', '--help'], ['agent', '--help']]) expect({ args, loaded: loaded(run(BIN, args, REPO, env)) }).toEqual({ args, loaded: true });
});

test('through a symlink elsewhere (an installation in /usr/local/bin) it finds its checkout', () => {
  const link = join(dir, 'corral');
  symlinkSync(BIN, link);
  const info = run(link, ['info', '-o', 'json'], dir);
  expect(info.code).toBe(0);
  expect(cliStart(info)).toBe('snapshot');
});

test('`node bin/corral` runs the module part, with the same answers', () => {
  const info = run(process.execPath, [BIN, 'info', '-o', 'json']);
  expect(info.code).toBe(0);
  expect(cliStart(info)).toBe('modules');
  expect(run(process.execPath, [BIN, '--version']).stdout.trim()).toBe(VERSION);
});

test('with NODE_OPTIONS (V8 flags a snapshot refuses to load under), modules instead', () => {
  const info = run(BIN, ['info', '-o', 'json'], REPO, { NODE_OPTIONS: '--max-old-space-size=512' });
  expect(info.code).toBe(0);
  expect(cliStart(info)).toBe('modules');
});

test('a snapshot built for another checkout is not used (its paths would be wrong): modules instead', () => {
  const saved = readFileSync(BLOB_ROOT);
  try {
    writeFileSync(BLOB_ROOT, '/somewhere/else\n');
    const info = run(BIN, ['info', '-o', 'json']);
    expect(info.code).toBe(0);
    expect(cliStart(info)).toBe('modules');
  } finally {
    writeFileSync(BLOB_ROOT, saved);
  }
});

test('a checkout without a snapshot (a build that stopped after tsc) still runs', () => {
  const copy = join(dir, 'no-blob-root');
  copyFileSync(BLOB_ROOT, copy);
  try {
    rmSync(BLOB_ROOT);
    const r = run(BIN, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(r.stderr).toBe('');
  } finally {
    copyFileSync(copy, BLOB_ROOT);
  }
});

test('a snapshot this machine refuses (another CPU, as in a VM sharing the checkout): tried once, then modules', () => {
  // A checkout of its own whose dist/ is the real one but for a blob V8 cannot load.
  const fake = join(dir, 'refusing');
  mkdirSync(join(fake, 'bin'), { recursive: true });
  mkdirSync(join(fake, 'dist'));
  copyFileSync(BIN, join(fake, 'bin/corral'));
  for (const f of readdirSync(join(REPO, 'dist'))) if (!f.startsWith('corral.blob')) symlinkSync(join(REPO, 'dist', f), join(fake, 'dist', f));
  writeFileSync(join(fake, 'dist/corral.blob'), 'not a snapshot');
  writeFileSync(join(fake, 'dist/corral.blob.root'), `${fake}\n`);
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  for (let i = 0; i < 2; i++) {
    const r = run(join(fake, 'bin/corral'), ['info', '-o', 'json'], dir);
    expect(r.code).toBe(0);
    expect(cliStart(r)).toBe('modules');
    expect(r.stderr).toBe('');
    expect(existsSync(join(fake, `dist/corral.blob.refused.${boot}`))).toBe(true);
  }
});

