// bench/pull: how long `corral image pull` takes for a multi-layer image from a local registry,
// beside `skopeo copy docker://… oci:…` and `podman pull` in the same run, and how many bytes the
// store gains when a second image shares all but one of its layers.
//   npm run bench:pull      or      npm run build && node bench/pull.mjs [runs=5]
//   (root; needs docker-registry, skopeo and podman from Debian: scripts/test-deps.sh installs the
//   first two, `apt-get install podman` the third; podman's row is left out without it)
// The registry is Debian's docker-registry on 127.0.0.1 with a port and a config of its own. The
// image: busybox plus 4 layers of 6 MiB of base64 text each (gzip keeps about 3/4 of it); image b
// shares the first 4 layers and has its own last one. Each run pulls into a fresh store, the tools
// interleaved, so load drifts hit all of them alike. corral's time includes its Node.js start and
// its code run cold (a row without both pulls in this process, its code warm after the first
// run). skopeo stores blobs without unpacking them; podman and corral unpack every layer, so a row
// gives skopeo's copy followed by `tar -xzf` of each layer, the same work as an unpacking pull.
// Below the table, the floor of any pull that unpacks the layers or checks their diff_ids (the
// sha256 of each layer's tar, which the image config lists; skopeo's copy checks only the
// compressed digests): every layer inflated, with Node's zlib, as many at a time as this host has
// CPUs, nothing downloaded or written; and `node -e 0`, what the CLI's start cannot go below.
// podman runs in a private mount namespace (tmpfs over /run, /dev/shm and /var/lib: its locks
// and runtime state) with its storage under the temp dir, so none of the machine's podman state
// is touched.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { pullImage } from '../dist/drivers/overlay/images/registry/pull.js';
import { parseReference, storeNameOf } from '../dist/manifest/image-reference.js';
import { privateMounts } from './lib/host.mjs';
import { emitResult } from './lib/result.mjs';

const RUNS = Number(process.argv[2] ?? 5);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CORRAL = join(REPO, 'bin', 'corral');
const have = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
if (process.getuid?.() !== 0) throw new Error('bench/pull needs root');
for (const bin of ['docker-registry', 'skopeo', 'tar', 'gzip']) if (!have(bin)) throw new Error(`bench/pull needs ${bin} (scripts/test-deps.sh installs it)`);
const podman = have('podman');

const tmp = mkdtempSync(join(tmpdir(), 'corral-bench-pull-'));
const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A gzipped layer of `files` (path → content), written into the layout's blobs. */
function layer(layout, name, files) {
  const dir = join(tmp, 'src', name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const tar = execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-C', dir, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  const gz = execFileSync('gzip', ['-n', '-6'], { input: tar, maxBuffer: 1 << 30 });
  writeFileSync(join(layout, 'blobs', 'sha256', sha(gz).slice(7)), gz);
  return { diffId: sha(tar), desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length } };
}

function image(layout, layers, ref) {
  const config = Buffer.from(JSON.stringify({ architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  writeFileSync(join(layout, 'blobs', 'sha256', sha(config).slice(7)), config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: layers.map((l) => l.desc) }));
  writeFileSync(join(layout, 'blobs', 'sha256', sha(manifest).slice(7)), manifest);
  return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } };
}

function buildLayout() {
  const layout = join(tmp, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  // Base64 of random bytes: about as compressible as real layers (gzip keeps ~75%).
  const text = () => randomBytes((6 << 20) / 4 * 3).toString('base64');
  const busybox = layer(layout, 'base', { 'bin/busybox': readFileSync('/bin/busybox') });
  const shared = [busybox, ...[1, 2, 3].map((i) => layer(layout, `l${i}`, { [`data/${i}.txt`]: text() }))];
  const a = image(layout, [...shared, layer(layout, 'a', { 'data/a.txt': text() })], 'a');
  const b = image(layout, [...shared, layer(layout, 'b', { 'data/b.txt': text() })], 'b');
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [a, b] }));
  return layout;
}

async function startRegistry() {
  const dir = join(tmp, 'registry');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:0\n`);
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const host = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start: ${log}`)), 15000);
    child.stderr.on('data', (d) => {
      log = (log + d).slice(-4000);
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return { host, stop: () => child.kill('SIGKILL') };
}

const timed = (fn) => { const t = performance.now(); fn(); return performance.now() - t; };
const run = (cmd, args, env = {}) => {
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? ''} ${r.stderr || r.stdout}`);
  return r.stdout;
};
const du = (dir) => Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
const stats = (xs) => { const s = [...xs].sort((x, y) => x - y); const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]; return { median: q(0.5), p90: q(0.9) }; };

// skopeo as root keeps a blob-info cache in /var/lib/containers/cache, the machine's podman's and
// skopeo's: it runs in a mount namespace of the bench's, entered with nsenter (~1 ms more than
// starting skopeo alone).
const varLib = await privateMounts({ dir: tmp, tmpfs: ['/var/lib'], what: 'skopeo' });
const skopeo = (args) => run('nsenter', [...varLib.enter, 'skopeo', ...args]);
let registry = null;
try {
  registry = await startRegistry();
  const layout = buildLayout();
  for (const ref of ['a', 'b']) skopeo(['copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', `oci:${layout}:${ref}`, `docker://${registry.host}/bench/app:${ref}`]);
  const image = `${registry.host}/bench/app:a`;
  const times = { corral: [], inProcess: [], skopeo: [], skopeoUnpack: [], ...(podman ? { podman: [] } : {}) };
  const tools = Object.keys(times);
  for (let i = 0; i < RUNS; i++) {
    const order = [...tools.slice(i % tools.length), ...tools.slice(0, i % tools.length)];
    for (const tool of order) {
      const dir = join(tmp, `run-${tool}-${i}`);
      mkdirSync(dir);
      if (tool === 'corral') times.corral.push(timed(() => run(CORRAL, ['--root', dir, 'image', 'pull', image], { CORRAL_AUTH_FILE: '/nonexistent' })));
      if (tool === 'inProcess') {
        const t = performance.now();
        const ref = parseReference(image);
        await pullImage(dir, ref, storeNameOf(ref), { env: { CORRAL_AUTH_FILE: '/nonexistent' } });
        times.inProcess.push(performance.now() - t);
      }
      if (tool === 'skopeo') times.skopeo.push(timed(() => skopeo(['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${image}`, `oci:${dir}/oci:a`])));
      if (tool === 'skopeoUnpack') {
        // What a pull that unpacks has to do on top of skopeo's copy: every layer through tar -x.
        times.skopeoUnpack.push(timed(() => {
          skopeo(['copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${image}`, `oci:${dir}/oci:a`]);
          const blob = (digest) => join(dir, 'oci', 'blobs', 'sha256', digest.slice(7));
          const index = JSON.parse(readFileSync(join(dir, 'oci', 'index.json'), 'utf8'));
          const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
          for (const [i, l] of manifest.layers.entries()) {
            mkdirSync(join(dir, `layer-${i}`));
            run('tar', ['-xzf', blob(l.digest), '-C', join(dir, `layer-${i}`)]);
          }
        }));
      }
      if (tool === 'podman') {
        const script = `mount -t tmpfs none /run && mount -t tmpfs none /dev/shm && mount -t tmpfs none /var/lib && exec podman --root ${dir}/root --runroot ${dir}/run --storage-driver overlay pull --quiet --tls-verify=false ${image} >/dev/null`;
        times.podman.push(timed(() => run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script])));
      }
      if (tool === 'podman') spawnSync('umount', ['-R', `${dir}/root/overlay`], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      process.stderr.write(`run ${i + 1}/${RUNS} ${tool}: ${times[tool].at(-1).toFixed(0)} ms\n`);
    }
  }
  // Bytes: image a into a fresh store, then b, which shares 4 of its 5 layers.
  const store = join(tmp, 'store');
  const pulled = (ref) => JSON.parse(run(CORRAL, ['--root', store, 'image', 'pull', `${registry.host}/bench/app:${ref}`, '-o', 'json'], { CORRAL_AUTH_FILE: '/nonexistent' }));
  const first = pulled('a');
  const afterA = du(join(store, 'layers'));
  const second = pulled('b');
  const afterB = du(join(store, 'layers'));
  // The inflate floor (header comment), timed after the pulls so that it races none of them.
  const blob = (digest) => join(layout, 'blobs', 'sha256', digest.slice(7));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const layerBlobs = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8')).layers.map((l) => readFileSync(blob(l.digest)));
  const width = availableParallelism();
  const inflate = promisify(gunzip);
  const floor = { inflate: [], nodeStart: [] };
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: width }, async () => {
      while (next < layerBlobs.length) await inflate(layerBlobs[next++], { chunkSize: 256 << 10 });
    }));
    floor.inflate.push(performance.now() - t);
    floor.nodeStart.push(timed(() => run(process.execPath, ['-e', '0'])));
  }
  const mib = (n) => (n / (1 << 20)).toFixed(1);
  console.log(`pull of a 5-layer image (${mib(first.downloadedBytes)} MiB compressed, ${mib(afterA)} MiB unpacked) from a local registry, ${RUNS} runs each (ms)`);
  console.log(`  ${'tool'.padEnd(38)} median      p90`);
  for (const tool of tools) {
    const s = stats(times[tool]);
    const what = { corral: 'corral image pull (unpacks)', inProcess: '  the same in process (no Node start)', skopeo: 'skopeo copy → oci: (no unpack)', skopeoUnpack: '  the same, then tar -xzf of each layer', podman: 'podman pull, overlay (unpacks)' }[tool];
    console.log(`  ${what.padEnd(38)} ${s.median.toFixed(0).padStart(6)} ${s.p90.toFixed(0).padStart(8)}`);
  }
  if (!podman) console.log('  podman: not installed (apt-get install podman), left out');
  const resultRows = tools.map((tool) => ({ tool: { inProcess: 'corral in process', skopeoUnpack: 'skopeo + tar -x' }[tool] ?? tool, metric: 'pull a 5-layer image', ...stats(times[tool]), n: times[tool].length }));
  const f = stats(floor.inflate);
  const n = stats(floor.nodeStart);
  console.log(`floor of a pull that unpacks the layers or checks their diff_ids (skopeo's copy does neither: it inflates nothing)`);
  console.log(`  ${`${layerBlobs.length} layers inflated (zlib), ${width} at a time`.padEnd(38)} ${f.median.toFixed(0).padStart(6)} ${f.p90.toFixed(0).padStart(8)}`);
  console.log(`  ${'node -e 0'.padEnd(38)} ${n.median.toFixed(0).padStart(6)} ${n.p90.toFixed(0).padStart(8)}`);
  resultRows.push({ tool: 'zlib', metric: `inflate the layers, ${width} at a time`, ...f, n: RUNS }, { tool: 'node -e 0', metric: 'start', ...n, n: RUNS });
  const c = stats(times.corral).median;
  const k = stats(times.skopeo).median;
  const u = stats(times.skopeoUnpack).median;
  console.log(`target (corral <= skopeo at the median): corral ${c.toFixed(0)} ms, skopeo ${k.toFixed(0)} ms: ${c <= k ? 'met' : 'not met'} (the floor of a Node CLI that unpacks with zlib: ${(f.median + n.median).toFixed(0)} ms); against skopeo plus unpacking ${u.toFixed(0)} ms: ${c <= u ? 'met' : 'not met'}`);
  console.log(`second image sharing 4 of 5 layers: ${second.downloaded.length} layer downloaded (${mib(second.downloadedBytes)} MiB), the store grew by ${mib(afterB - afterA)} MiB (its own layer; ${mib(afterA)} MiB if nothing were shared)`);
  resultRows.push({ tool: 'corral', metric: 'store growth, second image sharing 4 of 5 layers', median: (afterB - afterA) / 2 ** 20, p90: (afterB - afterA) / 2 ** 20, n: 1, unit: 'MiB' });
  emitResult({ bench: 'pull', unit: 'ms', rows: resultRows, params: { runs: RUNS } });
} finally {
  varLib.stop();
  registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
}
