// A fleet of corral hosts on one machine, driven from git as a CI pipeline would: three agents,
// each with its own state root, cgroup parent, network namespace, host name and labels, watching
// its own clone of one repository that the test commits to and pushes; the test pulls each clone
// (`git pull --ff-only`, as contrib/corral-pull.timer does). It checks that
//   - each agent converges exactly its share (`spec.hosts` by name glob and by label);
//   - a pull is one settled change: one pass per agent, however many files it rewrote;
//   - moving a manifest from one label to another moves the container;
//   - a broken commit (an invalid manifest) changes nothing anywhere, and every host says why;
//   - one scrape of every agent's /metrics (each on 127.0.0.1:9464 in its own namespace, every
//     series with `host`) adds up to the repository's intent, as `corral status -o json` does.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import Ajv2020Module from 'ajv/dist/2020.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { BIN, REPO } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { psJson, sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { until as waitUntil } from '../support/until.js';

const Ajv2020 = Ajv2020Module.default;

const METRICS = '127.0.0.1:9464';

interface Member {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly netns: string;
  readonly sb: Sandbox;
  agent: ChildProcess | null;
  log: string;
}

const dirs: string[] = [];
const namespaces: string[] = [];
const fleet: Member[] = [];

afterAll(async () => {
  await Promise.all(fleet.map(async (m) => {
    const a = m.agent;
    if (!a || a.exitCode !== null || a.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => a.kill('SIGKILL'), 15_000);
      a.once('exit', () => { clearTimeout(kill); resolve(); });
      a.kill('SIGTERM');
    });
  }));
  // The sandboxes first (their cleanup runs corral in the namespace), then the namespaces.
  for (const m of fleet) await m.sb.cleanup();
  for (const ns of namespaces) {
    try {
      execFileSync('umount', ['-l', ns]);
    } catch {
      // Never mounted (a setup that failed early).
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 120_000);

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=ci@example.org', '-c', 'user.name=ci', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe', encoding: 'utf8' }).trim();
}

function newNamespace(file: string): void {
  writeFileSync(file, '');
  namespaces.push(file);
  execFileSync('unshare', [`--net=${file}`, 'true']);
  execFileSync('nsenter', [`--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
}

function startAgent(m: Member): void {
  const labels = Object.entries(m.labels).flatMap(([k, v]) => ['--host-label', `${k}=${v}`]);
  const child = spawn('nsenter', [`--net=${m.netns}`, process.execPath, BIN, ...labels, 'agent', '--settle', '100ms', '--resync', '1h', '--metrics', METRICS], {
    env: { ...process.env, ...m.sb.env, CORRAL_HOST_NAME: m.name, CORRAL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d: Buffer) => { m.log = (m.log + d.toString()).slice(-8000); });
  m.agent = child;
}

interface Status {
  format: number;
  host: { name: string; labels: Record<string, string> };
  running: boolean;
  state: string;
  agent: { reconciles: number } | null;
  lastReconcile: { result: string; commit: string | null } | null;
  containers: { total: number; byStatus: Record<string, number>; items: Array<{ name: string; status: string }> };
  pendingErrors: Array<{ code: string; container?: string }>;
  repository: { commit: string | null; ref: string | null; dirty: boolean | null } | null;
}

function status(m: Member): Status {
  const r = m.sb.run('status', '-o', 'json');
  return JSON.parse(r.stdout) as Status;
}

/** Prometheus text of one agent, fetched inside its namespace. */
function scrape(m: Member): string {
  return execFileSync('nsenter', [`--net=${m.netns}`, 'curl', '-sf', '--max-time', '10', `http://${METRICS}/metrics`], { encoding: 'utf8' });
}

/** `host/container` of every series `corral_container_up … 1` in one scrape of the whole fleet. */
function upInScrape(): string[] {
  const out: string[] = [];
  for (const m of fleet) {
    for (const line of scrape(m).split('\n')) {
      if (!line.startsWith('corral_container_up{')) continue;
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
      if (line.endsWith(' 1')) out.push(`${labels['host']}/${labels['container']}`);
    }
  }
  return out.sort();
}

/** What the repository asks for: `host/container` for every manifest and every host it selects. */
function intent(selects: Record<string, (m: Member) => boolean>): string[] {
  return fleet.flatMap((m) => Object.entries(selects).filter(([, sel]) => sel(m)).map(([name]) => `${m.name}/${name}`)).sort();
}

function runningOn(m: Member): string[] {
  return psJson(m.sb).filter((c) => c.status === 'running').map((c) => `${m.name}/${c.name}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 45_000): Promise<T> {
  return waitUntil(what, probe, timeoutMs, () => fleet.map((m) => `--- ${m.name}:\n${m.log.slice(-2500)}`).join('\n'));
}

describe('a fleet of corral agents following one git repository', () => {
  test('each converges its share; a pull is one pass; a label move moves the container; a broken commit changes nothing; the scrape adds up', async () => {
    if (!requireRoot()) return;
    const base = mkdtempSync(join(tmpdir(), 'corral-fleet-'));
    dirs.push(base);
    const origin = join(base, 'origin.git');
    const ci = join(base, 'ci');
    git(base, 'init', '-q', '--bare', origin);
    git(base, 'clone', '-q', origin, ci);
    const hosts = (sel: string) => `hosts: ${sel}`;
    const manifests = (cacheZone: string, rev: string, broken = false): Record<string, string> => ({
      // By name glob: the web hosts.
      'web.yaml': sleeper('web', `${hosts('{hostnames: ["web-*"]}')}\n${broken ? 'resources: {memory: lots}\nenv: {REV: "broken"}' : ''}`),
      // By label.
      'db.yaml': sleeper('db', hosts('{labels: {role: db}}')),
      'cache.yaml': sleeper('cache', hosts(`{labels: {zone: ${cacheZone}}}`)),
      // Every host.
      'node.yaml': sleeper('node'),
      // Not a manifest: the watcher and the loader ignore it.
      'README.md': `rev ${rev}\n`,
    });
    const commit = (files: Record<string, string>, message: string): string => {
      for (const [name, text] of Object.entries(files)) {
        // metadata.labels change only corral's record: a rewrite of every file that restarts nothing.
        writeFileSync(join(ci, name), name.endsWith('.yaml') ? text.replace(/^metadata:\n/m, `metadata:\n  labels: {rev: "${message.replace(/\W/g, '-')}"}\n`) : text);
      }
      git(ci, 'add', '-A');
      git(ci, 'commit', '-qm', message);
      git(ci, 'push', '-q', 'origin', 'HEAD:main');
      return git(ci, 'rev-parse', 'HEAD');
    };
    let head = commit(manifests('a', '1'), 'one');

    const members: Array<[string, Record<string, string>]> = [['web-1', { role: 'web', zone: 'a' }], ['web-2', { role: 'web', zone: 'b' }], ['db-1', { role: 'db', zone: 'a' }]];
    for (const [name, labels] of members) {
      const netns = join(base, `netns-${name}`);
      newNamespace(netns);
      const sb = sandbox(`fleet-${name}`, { netns });
      // The sandbox's manifest directory is empty: the agent's clone goes there.
      git(base, 'clone', '-q', origin, sb.manifests);
      fleet.push({ name, labels, netns, sb, agent: null, log: '' });
    }
    const t0 = Date.now();
    for (const m of fleet) startAgent(m);

    const selects = (cacheZone: string): Record<string, (m: Member) => boolean> => ({
      web: (m) => m.name.startsWith('web-'),
      db: (m) => m.labels['role'] === 'db',
      cache: (m) => m.labels['zone'] === cacheZone,
      node: () => true,
    });
    const converged = (cacheZone: string, commitId: string) => () => {
      const want = intent(selects(cacheZone));
      return fleet.every((m) => {
        const s = status(m);
        return s.running && s.state === 'ok' && s.lastReconcile?.commit === commitId;
      }) && JSON.stringify(fleet.flatMap(runningOn).sort()) === JSON.stringify(want);
    };

    // 1. Each agent converges exactly its share.
    await until('the first commit converged', converged('a', head));
    const convergedMs = Date.now() - t0;
    expect(upInScrape()).toEqual(intent(selects('a')));
    expect(upInScrape()).toEqual(['db-1/cache', 'db-1/db', 'db-1/node', 'web-1/cache', 'web-1/node', 'web-1/web', 'web-2/node', 'web-2/web']);
    const schema = JSON.parse(readFileSync(join(REPO, 'schemas/status-format-1.schema.json'), 'utf8')) as object;
    const ajv = new Ajv2020({ allErrors: true, strict: false, formats: { 'date-time': fullFormats['date-time'] } });
    const validate = ajv.compile(schema);
    for (const m of fleet) {
      const s = status(m);
      expect(validate(s) ? '' : ajv.errorsText(validate.errors)).toBe('');
      expect(s).toMatchObject({ format: 1, host: { name: m.name, labels: m.labels }, running: true, state: 'ok', repository: { commit: head, ref: 'refs/heads/main', dirty: false } });
      expect(s.containers.byStatus['running']).toBe(intent(selects('a')).filter((x) => x.startsWith(`${m.name}/`)).length);
      // Every series carries the host.
      const series = scrape(m).split('\n').filter((l) => l.startsWith('corral_'));
      expect(series.length).toBeGreaterThan(0);
      expect(series.filter((l) => !l.includes(`host="${m.name}"`))).toEqual([]);
    }
    const pids = () => Object.fromEntries(fleet.flatMap((m) => psJson(m.sb).map((c) => [`${m.name}/${c.name}`, c.pid])));

    // 2. A commit that rewrites every file (labels only: nothing restarts): each pull is one pass.
    const passes = () => fleet.map((m) => status(m).agent!.reconciles);
    const before = passes();
    const kept = pids();
    head = commit(manifests('a', '2'), 'two');
    for (const m of fleet) git(m.sb.manifests, 'pull', '-q', '--ff-only');
    await until('the rewrite converged', converged('a', head));
    // Late events of the pull would show as a second pass within this.
    await sleep(1500);
    expect(passes().map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
    expect(pids()).toEqual(kept);

    // 3. Move cache from zone a to zone b: it leaves web-1 and db-1 and starts on web-2.
    head = commit(manifests('b', '3'), 'three');
    for (const m of fleet) git(m.sb.manifests, 'pull', '-q', '--ff-only');
    await until('cache moved to zone b', converged('b', head));
    expect(upInScrape()).toEqual(['db-1/db', 'db-1/node', 'web-1/node', 'web-1/web', 'web-2/cache', 'web-2/node', 'web-2/web']);
    // Label-only edits restart nothing: only the moved container is new.
    const after = pids();
    for (const [key, pid] of Object.entries(after)) if (!key.endsWith('/cache')) expect(pid).toBe(kept[key]);

    // 4. A broken commit: every host notices and says why; nothing changes anywhere.
    const good = head;
    head = commit(manifests('b', '4', true), 'broken');
    for (const m of fleet) git(m.sb.manifests, 'pull', '-q', '--ff-only');
    await until('every host reports the broken commit', () => fleet.every((m) => {
      const s = status(m);
      return s.lastReconcile?.commit === head && s.state === 'degraded' && s.pendingErrors.some((e) => e.code.startsWith('MANIFEST_'));
    }));
    await sleep(1000);
    expect(pids()).toEqual(after);
    expect(upInScrape()).toEqual(['db-1/db', 'db-1/node', 'web-1/node', 'web-1/web', 'web-2/cache', 'web-2/node', 'web-2/web']);

    // 5. The revert converges again, still without a restart.
    git(ci, 'revert', '--no-edit', 'HEAD');
    git(ci, 'push', '-q', 'origin', 'HEAD:main');
    head = git(ci, 'rev-parse', 'HEAD');
    for (const m of fleet) git(m.sb.manifests, 'pull', '-q', '--ff-only');
    await until('the revert converged', converged('b', head));
    expect(head).not.toBe(good);
    expect(pids()).toEqual(after);
    process.stderr.write(`fleet: 3 agents converged from nothing in ${convergedMs} ms; whole test ${Date.now() - t0} ms\n`);
  }, 180_000);
});
