// `corral image pull` against a real registry (Debian's docker-registry, test/support/real-registry.ts)
// with images pushed by skopeo: by tag and by digest, this host's platform out of a multi-arch
// index, behind bearer tokens and htpasswd basic auth with credentials from an auth file (refused
// without them), killed in the middle of a layer and resumed; then a container runs the pulled image.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { logLinesWhenExited, psJson, sandbox, type Sandbox } from '../support/host-sandbox.js';
import { busyboxEntries, writeOciLayout } from '../support/oci.js';
import { haveRegistryTools, PASSWORD, startRegistry, throttleProxy, USER, type RealRegistry } from '../support/real-registry.js';
import { BIN, corral } from '../support/cli.js';
import { layout } from '../../src/state/layout.js';
import { requireRoot } from '../support/root.js';

const NATIVE = process.arch === 'arm64' ? 'arm64' : 'amd64';
const FOREIGN = NATIVE === 'arm64' ? 'amd64' : 'arm64';

/** An OCI layout with `single` (busybox + a config file) and `multi`, an index of it and a foreign-arch image. */
function buildLayout(dir: string): void {
  const app = { layers: [{ entries: busyboxEntries() }, { entries: [{ type: 'file' as const, path: 'etc/app.conf', content: 'pulled from a registry\n' }] }], config: { Cmd: ['/bin/sh'] }, architecture: NATIVE, refName: 'single' };
  const foreign = { layers: [{ entries: [{ type: 'file' as const, path: 'foreign', content: 'x' }] }], architecture: FOREIGN, refName: 'foreign' };
  const next = { ...app, layers: [app.layers[0]!, { entries: [{ type: 'file' as const, path: 'etc/app.conf', content: 'version two\n' }] }], refName: 'next' };
  writeOciLayout(dir, [app, foreign, next]);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }> };
  const entries = index.manifests.map((m) => ({
    mediaType: m.mediaType, digest: m.digest, size: m.size,
    platform: { os: 'linux', architecture: m.annotations?.['org.opencontainers.image.ref.name'] === 'foreign' ? FOREIGN : NATIVE },
  })).filter((m) => m.digest !== index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === 'next')?.digest);
  const blob = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), blob);
  index.manifests.push({ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: blob.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}

/** Sizes of the blobs in pull staging layouts under `root`. */
function stagedBlobs(root: string): number[] {
  const tmp = layout(root).tmpDir;
  const sizes: number[] = [];
  for (const entry of existsSync(tmp) ? readdirSync(tmp) : []) {
    const blobs = join(tmp, entry, 'blobs', 'sha256');
    if (!entry.startsWith('pull-') || !existsSync(blobs)) continue;
    for (const blob of readdirSync(blobs)) {
      try {
        sizes.push(statSync(join(blobs, blob)).size);
      } catch {
        // Renamed or removed meanwhile.
      }
    }
  }
  return sizes;
}

async function waitFor<T>(probe: () => T | null, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const logsWhenExited = async (sb: Sandbox, name: string): Promise<string> => (await logLinesWhenExited(sb, name)).join('\n');

const root = requireRoot();
const tools = haveRegistryTools();
if (root && !tools && process.env['CI'] === 'true') throw new Error('docker-registry, skopeo and openssl are needed (scripts/test-deps.sh installs them)');

(root && tools ? describe : describe.skip)('image pull from a real registry', () => {
  let sb: Sandbox;
  let work: string;
  const registries: RealRegistry[] = [];
  beforeAll(() => {
    sb = sandbox('registry');
    work = mkdtempSync(join(tmpdir(), 'corral-registry-test-'));
    buildLayout(join(work, 'layout'));
    sb.env['CORRAL_AUTH_FILE'] = join(work, 'auth.json');
  });
  afterAll(async () => {
    for (const r of registries) await r.stop();
    await sb?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  test('by tag, by digest and out of a multi-arch index; then a container runs it', async () => {
    const reg = await startRegistry('none');
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'team/app:1');
    reg.push(join(work, 'layout'), 'multi', 'team/app:multi');
    const r = sb.run('image', 'pull', `${reg.host}/team/app:1`, '-o', 'json');
    expect(r.stderr).toBe('');
    const pulled = JSON.parse(r.stdout) as { changed: boolean; image: { name: string; tag: string; digest: string; source: { kind: string; path: string } }; downloaded: string[] };
    expect(pulled).toMatchObject({ changed: true, image: { name: `${reg.host}/team/app`, tag: '1', source: { kind: 'registry', path: `${reg.host}/team/app:1` } } });
    expect(pulled.downloaded).toHaveLength(2);
    const byDigest = JSON.parse(sb.run('image', 'pull', `${reg.host}/team/app@${pulled.image.digest}`, '--name', 'app:pinned', '-o', 'json').stdout) as { image: { digest: string }; downloaded: string[] };
    expect(byDigest).toMatchObject({ image: { digest: pulled.image.digest }, downloaded: [] });
    const multi = sb.run('image', 'pull', `${reg.host}/team/app:multi`, '--name', 'app:multi');
    expect(multi.code).toBe(0);
    expect(multi.stdout).toMatch(/^pulled 127\.0\.0\.1:\d+\/team\/app:multi as app:multi sha256:[0-9a-f]{64} \(2 layers, 0 downloaded, /m);
    // Off a terminal, progress is one plain line per layer.
    expect(sb.run('image', 'pull', `${reg.host}/team/app:1`, '--name', 'app:again').stderr).toMatch(/^layer [0-9a-f]{12} already in the store$/m);

    sb.write('run.yaml', 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: pulled}\nspec:\n  rootfs: {image: "app:pinned"}\n  command: [/bin/cat, /etc/app.conf]\n  restartPolicy: Never\n');
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect(await logsWhenExited(sb, 'pulled')).toBe('pulled from a registry');
    sb.remove('run.yaml');
  });

  test('a manifest names a registry reference: pulled at the first start (the plan says so), kept, pinned by digest; `Never` refuses a missing one', async () => {
    const reg = await startRegistry('none');
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'team/svc:1');
    const image = (ref: string, extra = ''): string => `apiVersion: corral/v1\nkind: Container\nmetadata: {name: svc}\nspec:\n  rootfs: {image: "${ref}"${extra}}\n  command: [/bin/busybox, sleep, "600"]\n  stopTimeout: 1s\n`;
    sb.write('svc.yaml', image(`${reg.host}/team/svc:1`));
    const plan = sb.run('plan');
    expect(plan.stdout).toContain(`  ⇣ pull     ${reg.host}/team/svc:1 (image, for svc)\n        not in the store\n`);
    expect(plan.stderr).toBe('');
    expect((JSON.parse(sb.run('plan', '-o', 'json').stdout) as { pulls: unknown[] }).pulls).toEqual([{ reference: `${reg.host}/team/svc:1`, reason: { code: 'not-in-store', text: 'not in the store' }, containers: ['svc'] }]);
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect(psJson(sb).find((c) => c.name === 'svc')).toMatchObject({ status: 'running' });
    // What was pulled is what the record says: the next pass has nothing to do.
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    const ls = JSON.parse(sb.run('image', 'ls', '-o', 'json').stdout) as { images: Array<{ name: string; tag: string; digest: string; usedBy: string[] }> };
    const svc = ls.images.find((i) => i.name === `${reg.host}/team/svc`)!;
    expect(svc).toMatchObject({ tag: '1', usedBy: ['svc'] });
    // Pinned by digest: the same image, under its digest.
    sb.write('svc.yaml', image(`${reg.host}/team/svc@${svc.digest}`));
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    // `Never`: only the store counts.
    sb.write('never.yaml', image(`${reg.host}/team/missing:1`, ', pullPolicy: Never').replace('name: svc', 'name: never'));
    const refused = sb.run('plan');
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/error IMAGE_NOT_FOUND/);
    sb.remove('never.yaml');
  });

  test('`pullPolicy: Always` pulls again at the next start: a new image under the tag, then nothing left to do', async () => {
    const reg = await startRegistry('none');
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'team/moving:1');
    const manifest = (env: string): string => `apiVersion: corral/v1\nkind: Container\nmetadata: {name: moving}\nspec:\n  rootfs: {image: "${reg.host}/team/moving:1", pullPolicy: Always}\n  command: [/bin/cat, /etc/app.conf]\n  env: {RUN: "${env}"}\n  restartPolicy: Never\n`;
    sb.write('moving.yaml', manifest('1'));
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect(await logsWhenExited(sb, 'moving')).toBe('pulled from a registry');
    reg.push(join(work, 'layout'), 'next', 'team/moving:1');
    // Nothing starts, nothing is pulled: the tag's new digest waits for the next start.
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    sb.write('moving.yaml', manifest('2'));
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect((await logsWhenExited(sb, 'moving')).split('\n').pop()).toBe('version two');
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    sb.remove('moving.yaml');
  });

  test('`IfNotPresent`: a new digest under the tag waits for `corral image pull`, then is a recreate the plan shows', async () => {
    const reg = await startRegistry('none');
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'team/steady:1');
    sb.write('steady.yaml', `apiVersion: corral/v1\nkind: Container\nmetadata: {name: steady}\nspec:\n  rootfs: {image: "${reg.host}/team/steady:1"}\n  command: [/bin/cat, /etc/app.conf]\n  restartPolicy: Never\n`);
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect(await logsWhenExited(sb, 'steady')).toBe('pulled from a registry');
    reg.push(join(work, 'layout'), 'next', 'team/steady:1');
    // Resyncs never ask the registry: the store's digest is what counts.
    expect(sb.run('plan', '--detailed-exitcode').code).toBe(0);
    expect(sb.run('image', 'pull', `${reg.host}/team/steady:1`).code).toBe(0);
    const plan = JSON.parse(sb.run('plan', '-o', 'json').stdout) as { actions: Array<{ name: string; action: string; reasons: Array<{ text: string }> }> };
    const steady = plan.actions.find((a) => a.name === 'steady')!;
    expect(steady.action).toBe('recreate');
    expect(steady.reasons.map((r) => r.text).join('\n')).toMatch(/image/);
    expect(sb.run('reconcile', '--once')).toMatchObject({ code: 0 });
    expect((await logsWhenExited(sb, 'steady')).split('\n').pop()).toBe('version two');
    sb.remove('steady.yaml');
  });

  test('a pull killed in the middle of a layer resumes with Range when run again; the layer is whole', async () => {
    const reg = await startRegistry('none');
    registries.push(reg);
    // Random bytes: gzip cannot shrink them, so the blob is as big as the file.
    const data = randomBytes(2 << 20);
    writeOciLayout(join(work, 'big'), { layers: [{ entries: busyboxEntries() }, { entries: [{ type: 'file', path: 'data/big', content: data }] }], config: { Cmd: ['/bin/sh'] }, refName: '1' });
    reg.push(join(work, 'big'), '1', 'team/big:1');
    const proxy = await throttleProxy(reg.host);
    try {
      const ref = `${proxy.host}/team/big:1`;
      const child = spawn(process.execPath, [BIN, 'image', 'pull', ref], { env: { PATH: process.env['PATH'] ?? '', ...sb.env }, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      // Killed once a quarter MiB of the big layer is in the staging blob.
      const partial = await waitFor(() => stagedBlobs(sb.root).find((size) => size >= 256 << 10 && size < data.length) ?? null);
      child.kill('SIGKILL');
      await exited;
      proxy.release();
      const r = sb.run('image', 'pull', ref, '-o', 'json');
      expect(r.code).toBe(0);
      // The proxy's lines arrive once this process runs again (sb.run blocked it).
      const resumed = await waitFor(() => (proxy.ranges.some((start) => start >= partial) ? proxy.ranges.filter((start) => start >= partial) : null), 5000);
      expect(resumed).toHaveLength(1);
      const pulled = JSON.parse(r.stdout) as { image: { layers: Array<{ digest: string }> } };
      const bigFile = join(layout(sb.root).layer(pulled.image.layers[1]!.digest), 'data', 'big');
      expect(createHash('sha256').update(readFileSync(bigFile)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(readdirSync(layout(sb.root).tmpDir).filter((e) => e.startsWith('pull-'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  test.each(['token', 'basic'] as const)('%s auth: credentials from the auth file; refused without them', async (auth) => {
    const reg = await startRegistry(auth);
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'private/app:2');
    writeFileSync(sb.env['CORRAL_AUTH_FILE']!, JSON.stringify({ auths: {} }));
    const refused = sb.run('image', 'pull', `${reg.host}/private/app:2`, '--name', `${auth}:2`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/REGISTRY_AUTH_FAILED/);
    writeFileSync(sb.env['CORRAL_AUTH_FILE']!, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }));
    const ok = sb.run('image', 'pull', `${reg.host}/private/app:2`, '--name', `${auth}:2`);
    expect(ok.stderr.replace(/^layer .*\n/gm, '')).toBe('');
    expect(ok.code).toBe(0);
  });

  test.each(['token', 'basic'] as const)('%s auth: `corral login` checks the credentials before it keeps them; `logout` forgets them', async (auth) => {
    const reg = await startRegistry(auth);
    registries.push(reg);
    reg.push(join(work, 'layout'), 'single', 'private/login:1');
    const file = join(work, `login-${auth}.json`);
    // Another registry's entry and other keys of the file are kept.
    writeFileSync(file, JSON.stringify({ auths: { 'other.example.com': { auth: 'eDp5' } }, credHelpers: {} }));
    const env = { ...sb.env, CORRAL_AUTH_FILE: file };
    const run = (args: string[], input = ''): ReturnType<typeof corral> => corral(args, { env, input });
    const wrong = run(['login', reg.host, '-u', USER, '--password-stdin'], 'not-the-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/REGISTRY_AUTH_FAILED/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ auths: { 'other.example.com': { auth: 'eDp5' } }, credHelpers: {} });
    const ok = run(['login', `http://${reg.host}/`, '-u', USER, '--password-stdin'], `${PASSWORD}\n`);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe(`Login succeeded: credentials for ${reg.host} saved in ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run(['image', 'pull', `${reg.host}/private/login:1`, '--name', `login-${auth}:1`]).code).toBe(0);
    expect(run(['logout', reg.host]).stdout).toBe(`Removed the credentials for ${reg.host} from ${file}\n`);
    expect(JSON.parse(readFileSync(file, 'utf8')).auths).toEqual({ 'other.example.com': { auth: 'eDp5' } });
    expect(run(['image', 'pull', `${reg.host}/private/login:1`, '--name', `login-${auth}:2`]).stderr).toMatch(/REGISTRY_AUTH_FAILED/);
    expect(run(['logout', reg.host]).code).toBe(1);
    // No terminal and no --password-stdin: refused, nothing asked.
    expect(run(['login', reg.host, '-u', USER]).stderr).toMatch(/CLI_USAGE.*no terminal/);
  });
});
