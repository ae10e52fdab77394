// Bridge networking end to end, through the CLI, with corral running inside a "host" network
// namespace of the test's own (test/support/test-netns.ts) and an "outside" one routed to it:
// published ports, names, masquerade, hairpin, a flushed ruleset, a SIGKILL during apply, plan-time
// conflicts, two state roots side by side, and nothing left behind.

import { spawn } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { buildBusyboxRootfs } from '../../support/busybox.js';
import { BIN } from '../../support/cli.js';
import { bridgeSetup, type BridgeSetup } from '../../support/bridge-setup.js';
import { psJson, sandbox, type Sandbox } from '../../support/host-sandbox.js';
import { requireRoot } from '../../support/root.js';
import { exploitDir } from '../../security/build.js';
import { HOST_ADDRESS, OUTSIDE_ADDRESS, type TestNetwork } from '../../support/test-netns.js';

let setup: BridgeSetup | null = null;
let net: TestNetwork;
let sb: Sandbox;
let rootfsDir: string;

beforeAll(() => {
  if (!requireRoot()) return;
  setup = bridgeSetup('bridge', (rootfs) => {
    mkdirSync(join(rootfs, 'www'));
    writeFileSync(join(rootfs, 'www/index.html'), 'hello from web\n');
  });
  ({ net, sb, rootfs: rootfsDir } = setup);
});
afterAll(async () => {
  await setup?.cleanup();
});

const container = (name: string, network: string, command?: string, extra?: string): string => setup!.container(name, network, command, extra);
const httpFrom = (name: string, host: string, port: number): string => setup!.httpFrom(name, host, port);
const curl = (netns: string, url: string): string => setup!.curl(netns, url);
const lease = (name: string): { address: string } => setup!.lease(name);

const web = (): string => container('web', '{mode: bridge, aliases: [www], ports: [{host: 8080, container: 80}, {host: 8081, container: 80, hostIP: 0.0.0.0}, {host: "8082-8083", container: "79-80"}]}', '[/bin/httpd, -f, -p, "80", -h, /www]');

function reconcile(s: Sandbox = sb): { code: number; report: { changed: boolean; errors: Array<{ code: string }>; warnings: Array<{ code: string }> } } {
  const r = s.run('reconcile', '--once', '--detailed-exitcode', '--output', 'json');
  if (!r.stdout) throw new Error(`reconcile printed nothing: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) };
}


async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}



function table(): string {
  return net.exec(net.host, ['nft', 'list', 'table', 'inet', `corral_${sb.rootId()!.slice(0, 8)}`]);
}

describe('bridge networking', () => {
  test('a published port answers on 127.0.0.1, on the host address and from outside; neighbours find each other by name and alias', () => {
    if (!sb) return;
    sb.write('web.yaml', web());
    sb.write('client.yaml', container('client', '{mode: bridge}'));
    const first = reconcile();
    expect(first.report.errors).toEqual([]);
    expect(first.code).toBe(2);
    expect(curl(net.host, 'http://127.0.0.1:8080/')).toBe('hello from web\n');
    // A range, port by port: 8083 → 80.
    expect(curl(net.host, 'http://127.0.0.1:8083/')).toBe('hello from web\n');
    expect(curl(net.host, `http://${HOST_ADDRESS}:8081/`)).toBe('hello from web\n');
    expect(curl(net.outside, `http://${HOST_ADDRESS}:8081/`)).toBe('hello from web\n');
    // Published on 127.0.0.1 only: not from outside.
    expect(curl(net.outside, `http://${HOST_ADDRESS}:8080/`)).toBe('');
    expect(httpFrom('client', 'web', 80)).toContain('hello from web');
    expect(httpFrom('client', 'www', 80)).toContain('hello from web');
    const hosts = sb.run('exec', 'client', '--', 'cat', '/etc/hosts').stdout;
    expect(hosts).toContain('127.0.0.1\tlocalhost');
    expect(hosts).toContain(`${lease('web').address}\tweb www`);
    expect(hosts).toContain(`${lease('client').address}\tclient`);
    const links = sb.run('exec', 'web', '--', 'ip', '-o', '-4', 'addr').stdout;
    expect(links).toMatch(/lo\s+inet 127\.0\.0\.1\/8/);
    expect(links).toContain(`eth0    inet ${lease('web').address}/24`);
    // A MAC derived from the address, so a restart does not leave the neighbours' ARP caches stale.
    expect(sb.run('exec', 'web', '--', 'cat', '/sys/class/net/eth0/address').stdout.trim()).toBe(`02:cc:${lease('web').address.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join(':')}`);
    const info = JSON.parse(sb.run('info', '--output', 'json').stdout).network;
    expect(info).toEqual({ bridgeAvailable: true, missing: [], bridge: `cr-${sb.rootId()!.slice(0, 8)}`, table: `corral_${sb.rootId()!.slice(0, 8)}`, subnet: '10.89.0.0/24', ipForward: true });
    const ps = sb.run('ps').stdout;
    expect(ps).toMatch(/PORTS/);
    expect(ps).toContain('0.0.0.0:8081->80/tcp, 127.0.0.1:8080->80/tcp, 127.0.0.1:8082-8083->79-80/tcp');
    expect(reconcile().code).toBe(0);
  });

  test('hairpin: a container reaches its own published port through the host address', () => {
    if (!sb) return;
    expect(httpFrom('web', HOST_ADDRESS, 8081)).toContain('hello from web');
    expect(httpFrom('client', HOST_ADDRESS, 8081)).toContain('hello from web');
  });

  test('a bridged container with a user namespace (asked for) serves port 80: the namespace opens low ports and ICMP echo sockets to any user', () => {
    if (!sb) return;
    sb.write('uweb.yaml', container('uweb', '{mode: bridge}', '[/bin/httpd, -f, -p, "80", -h, /www]', '  namespaces: {user: {enabled: true}}'));
    expect(reconcile().report.errors).toEqual([]);
    expect(setup!.inside('uweb', 'cat', '/proc/self/uid_map').stdout.trim().split(/\s+/)[1]).not.toBe('0');
    expect(setup!.inside('uweb', 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start').stdout.trim()).toBe('0');
    expect(httpFrom('client', 'uweb', 80)).toContain('hello from web');
    // Seen from a user namespace the range reads as the overflow id (host gids it does not map).
    expect(setup!.inside('client', 'cat', '/proc/sys/net/ipv4/ping_group_range').stdout.trim().split(/\s+/)).toEqual(['0', '2147483647']);
    sb.remove('uweb.yaml');
    expect(reconcile().report.errors).toEqual([]);
  });

  test('outbound traffic reaches the outside masqueraded (the outside has no route back to the bridge)', async () => {
    if (!sb) return;
    const www = mkdtempSync(join(tmpdir(), 'corral-outside-www-'));
    writeFileSync(join(www, 'index.html'), 'hello from outside\n');
    net.serve(net.outside, ['busybox', 'httpd', '-f', '-p', '81', '-h', www]);
    await new Promise((r) => setTimeout(r, 300));
    expect(httpFrom('client', OUTSIDE_ADDRESS, 81)).toContain('hello from outside');
    rmSync(www, { recursive: true, force: true });
  });

  test('/etc/hosts follows the neighbours in place: a new container appears without a restart, and leaves again', () => {
    if (!sb) return;
    const pid = psJson(sb).find((c) => c.name === 'client')!.pid;
    sb.write('db.yaml', container('db', '{mode: bridge, aliases: [database]}'));
    expect(reconcile().code).toBe(2);
    expect(sb.run('exec', 'client', '--', 'cat', '/etc/hosts').stdout).toContain(`${lease('db').address}\tdb database`);
    expect(httpFrom('db', 'www', 80)).toContain('hello from web');
    sb.remove('db.yaml');
    expect(reconcile().code).toBe(2);
    expect(sb.run('exec', 'client', '--', 'cat', '/etc/hosts').stdout).not.toContain('database');
    expect(psJson(sb).find((c) => c.name === 'client')!.pid).toBe(pid);
  });

  test('an address is kept across a restart; the container rejoins the bridge', () => {
    if (!sb) return;
    const before = lease('client').address;
    sb.write('client.yaml', container('client', '{mode: bridge}', undefined, '  env: {GENERATION: "2"}\n'));
    const r = reconcile();
    expect(r.code).toBe(2);
    expect(lease('client').address).toBe(before);
    expect(httpFrom('client', 'web', 80)).toContain('hello from web');
    // Its neighbours reach it at once: same address, same MAC, their ARP caches still right.
    expect(sb.run('exec', 'web', '--', 'ping', '-c', '1', '-W', '2', 'client').code).toBe(0);
  });

  test('a flushed ruleset (a firewall reload) is restored at the next pass, identical', () => {
    if (!sb) return;
    const before = table();
    net.exec(net.host, ['nft', 'flush', 'ruleset']);
    expect(curl(net.host, 'http://127.0.0.1:8080/')).toBe('');
    const r = reconcile();
    expect(r.code).toBe(2);
    expect(r.report.warnings.map((w) => w.code)).toContain('NETWORK_DRIFT');
    expect(table()).toBe(before);
    expect(curl(net.host, 'http://127.0.0.1:8080/')).toBe('hello from web\n');
    expect(reconcile().code).toBe(0);
  });

  test('the agent restores a flushed ruleset at its next resync, and logs it as an event; its metrics count a bridged container\'s bytes', async () => {
    if (!sb) return;
    const agent = spawn('nsenter', [`--net=${net.host}`, process.execPath, BIN, 'agent', '--resync', '1s', '--metrics', '127.0.0.1:9464'], { env: { ...process.env, ...sb.env }, stdio: 'ignore' });
    try {
      await waitFor(() => curl(net.host, 'http://127.0.0.1:8080/') === 'hello from web\n' && sb.run('status').code === 0, 'the agent to run');
      // The web container's veth counts what it served (the metrics are read in the agent's namespace).
      const sent = (): number => Number(/corral_container_network_transmit_bytes_total\{container="web",host="[^"]+"\} (\d+)/.exec(curl(net.host, 'http://127.0.0.1:9464/metrics'))?.[1] ?? 0);
      await waitFor(() => sent() > 0, 'network metrics of web');
      net.exec(net.host, ['nft', 'flush', 'ruleset']);
      await waitFor(() => curl(net.host, 'http://127.0.0.1:8080/') === 'hello from web\n', 'the published port to answer again');
      await waitFor(() => sb.run('events').stdout.includes('"drift-corrected","message":"network: the nftables table'), 'the drift event');
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }
  });

  test('a bridge or a veth deleted by hand is wired again at the next pass, without restarting a container', () => {
    if (!sb) return;
    const pids = psJson(sb).map((c) => [c.name, c.pid]);
    const bridge = `cr-${sb.rootId()!.slice(0, 8)}`;
    net.exec(net.host, ['ip', 'link', 'del', bridge]);
    expect(httpFrom('client', 'web', 80)).not.toContain('hello from web');
    let r = reconcile();
    expect(r.code).toBe(2);
    expect(r.report.warnings.filter((w) => w.code === 'NETWORK_DRIFT').length).toBeGreaterThan(0);
    expect(httpFrom('client', 'web', 80)).toContain('hello from web');
    expect(curl(net.host, 'http://127.0.0.1:8080/')).toBe('hello from web\n');
    const veth = JSON.parse(readFileSync(join(sb.root, 'network/leases/web.json'), 'utf8')).veth as string;
    net.exec(net.host, ['ip', 'link', 'del', veth]);
    r = reconcile();
    expect(r.code).toBe(2);
    expect(httpFrom('client', 'web', 80)).toContain('hello from web');
    expect(psJson(sb).map((c) => [c.name, c.pid])).toEqual(pids);
    expect(reconcile().code).toBe(0);
  });

  test('plan-time conflicts: a fixed address already leased, a host port a host process listens on; nothing running is touched', async () => {
    if (!sb) return;
    const pids = psJson(sb).map((c) => [c.name, c.pid]);
    const listener = net.serve(net.host, ['busybox', 'nc', '-l', '-p', '9090']);
    await new Promise((r) => setTimeout(r, 300));
    sb.write('bad.yaml', container('bad', `{mode: bridge, address: ${lease('web').address}, ports: [{host: 9090, container: 80}]}`));
    const plan = sb.run('plan', '--output', 'json');
    const codes = (JSON.parse(plan.stdout).errors as Array<{ code: string }>).map((e) => e.code).sort();
    expect(codes).toEqual(['NETWORK_ADDRESS_CONFLICT', 'NETWORK_PORT_CONFLICT']);
    expect(reconcile().code).toBe(1);
    expect(psJson(sb).filter((c) => c.name !== 'bad').map((c) => [c.name, c.pid])).toEqual(pids);
    listener.kill('SIGKILL');
    sb.remove('bad.yaml');
  });

  test('a second state root on the same host takes its own bridge, subnet and table', async () => {
    if (!sb) return;
    const other = sandbox('bridge2', { netns: net.host });
    try {
      other.write('web.yaml', container('web', '{mode: bridge, ports: [{host: 8090, container: 80}]}', '[/bin/httpd, -f, -p, "80", -h, /www]'));
      const r = other.run('reconcile', '--once', '--output', 'json');
      expect(JSON.parse(r.stdout).errors).toEqual([]);
      expect(curl(net.host, 'http://127.0.0.1:8090/')).toBe('hello from web\n');
      expect(curl(net.host, 'http://127.0.0.1:8080/')).toBe('hello from web\n');
      const subnets = [sb, other].map((s) => JSON.parse(readFileSync(join(s.root, 'network/default.json'), 'utf8')).subnet);
      expect(new Set(subnets).size).toBe(2);
      const bridges = net.exec(net.host, ['ip', '-o', 'link', 'show', 'type', 'bridge']);
      expect(bridges).toContain(`cr-${sb.rootId()!.slice(0, 8)}`);
      expect(bridges).toContain(`cr-${other.rootId()!.slice(0, 8)}`);
      const empty = mkdtempSync(join(tmpdir(), 'corral-bridge-empty-'));
      const teardown = other.run('reconcile', '--once', '--allow-empty', '--dir', empty, '--output', 'json');
      rmSync(empty, { recursive: true });
      // The whole result on failure: a bridge left behind says nothing of why by itself.
      expect(teardown).toMatchObject({ code: 0 });
      expect(net.exec(net.host, ['ip', '-o', 'link', 'show', 'type', 'bridge'])).not.toContain(`cr-${other.rootId()!.slice(0, 8)}`);
    } finally {
      // Its containers, monitors and cgroup parent go even when an expectation failed.
      await other.cleanup();
    }
  });

  test('SIGKILL during apply: the next run converges to a table whose every rule belongs to a lease', async () => {
    if (!sb) return;
    for (const [i, name] of ['p1', 'p2', 'p3'].entries()) {
      sb.write(`${name}.yaml`, container(name, `{mode: bridge, ports: [{host: ${8100 + i}, container: 80}]}`, '[/bin/httpd, -f, -p, "80", -h, /www]'));
    }
    for (const delay of [150, 400]) {
      const child = spawn('nsenter', [`--net=${net.host}`, process.execPath, BIN, 'reconcile', '--once'], { env: { ...process.env, ...sb.env }, stdio: 'ignore' });
      // Listened for from the start: a run that finishes before the kill has already exited.
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
    }
    // A lock left held would show as an error here, not as a test timeout.
    const run = sb.run('reconcile', '--once', '--output', 'json', '--lock-timeout', '20s');
    if (!run.stdout) throw new Error(`reconcile after the kills printed nothing: ${run.stderr}`);
    const r = { report: JSON.parse(run.stdout) as { errors: unknown[] } };
    expect(r.report.errors).toEqual([]);
    const listed = table();
    expect(listed).toBe(readFileSync(join(sb.root, 'network/table.listed'), 'utf8'));
    const targets = [...listed.matchAll(/dnat ip to ([0-9.]+):/g)].map((m) => m[1]).sort();
    const addresses = ['web', 'web', 'web', 'web', 'p1', 'p2', 'p3'].map((n) => lease(n).address).sort();
    expect(targets).toEqual(addresses);
    for (const port of [8100, 8101, 8102]) expect(curl(net.host, `http://127.0.0.1:${port}/`)).toBe('hello from web\n');
    for (const name of ['p1', 'p2', 'p3']) sb.remove(`${name}.yaml`);
    expect(reconcile().report.errors).toEqual([]);
  }, 120_000);

  test('exploit: an image whose /etc/hosts and /etc/resolv.conf are symlinks out of its root gets corral\'s files, and the host\'s targets stay untouched', () => {
    if (!sb) return;
    const evil = mkdtempSync(join(tmpdir(), 'corral-bridge-evil-'));
    const victims = [join(evil, 'victim-hosts'), join(evil, 'victim-resolv')];
    try {
      buildBusyboxRootfs(join(evil, 'rootfs'));
      for (const v of victims) writeFileSync(v, 'host file\n');
      // An absolute link climbing out, and a relative one through /proc/self/root.
      symlinkSync(`/../../../../../../..${victims[0]}`, join(evil, 'rootfs/etc/hosts'));
      symlinkSync(`../../../../proc/self/root${victims[1]}`, join(evil, 'rootfs/etc/resolv.conf'));
      sb.write('evil.yaml', container('evil', '{mode: bridge}').replace(`path: ${rootfsDir}`, `path: ${join(evil, 'rootfs')}`));
      expect(reconcile().report.errors).toEqual([]);
      expect(sb.run('exec', 'evil', '--', 'cat', '/etc/hosts').stdout).toContain(`${lease('evil').address}\tevil`);
      expect(sb.run('exec', 'evil', '--', 'cat', '/etc/resolv.conf').stdout).toMatch(/^# Written by corral/);
      const write = sb.run('exec', 'evil', '--', 'sh', '-c', 'echo owned > /etc/hosts; echo owned > /etc/resolv.conf');
      expect(write.code).not.toBe(0);
      for (const v of victims) expect(readFileSync(v, 'utf8')).toBe('host file\n');
      // The image's links are replaced in the container's own layer only.
      expect(lstatSync(join(evil, 'rootfs/etc/hosts')).isSymbolicLink()).toBe(true);
    } finally {
      sb.remove('evil.yaml');
      reconcile();
      rmSync(evil, { recursive: true, force: true });
    }
  });

  test('exploit: a container with CAP_NET_RAW cannot reach the host\'s 127.0.0.1 through the bridge (route_localnet, CVE-2020-8558)', async () => {
    if (!sb) return;
    sb.write('raw.yaml', container('raw', '{mode: bridge}', undefined, `  mounts: [{type: bind, source: ${exploitDir()}, target: /x, readOnly: true}]\n`));
    expect(reconcile().report.errors).toEqual([]);
    const listener = spawn('nsenter', [`--net=${net.host}`, process.execPath, '-e',
      "require('dgram').createSocket('udp4').on('message', (m) => process.stdout.write(m)).bind(9999, '127.0.0.1', () => process.stdout.write('ready\\n'))"]);
    let heard = '';
    listener.stdout.on('data', (d: Buffer) => {
      heard += d.toString();
    });
    try {
      await waitFor(() => heard.includes('ready'), 'the listener');
      const bridge = `cr-${sb.rootId()!.slice(0, 8)}`;
      const mac = (JSON.parse(net.exec(net.host, ['ip', '-j', 'link', 'show', 'dev', bridge])) as Array<{ address: string }>)[0]!.address;
      const attack = sb.run('exec', 'raw', '--', '/x/exploit', 'localnet', mac, lease('raw').address, '9999');
      // The attack really ran (a packet socket, frames sent), and nothing arrived.
      expect(attack.stdout).toContain('RESULT localnet-send OK');
      await new Promise((r) => setTimeout(r, 500));
      expect(heard).toBe('ready\n');
    } finally {
      listener.kill('SIGKILL');
      sb.remove('raw.yaml');
      reconcile();
    }
  });

  test('removing every container leaves no lease, veth, namespace mount, rule or bridge', () => {
    if (!sb) return;
    expect(setup!.removeAll()).toBe(0);
    expect(readdirSync(join(sb.root, 'network/leases'))).toEqual([]);
    expect(readdirSync(join(sb.root, 'network/ns'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(sb.root);
    expect(setup!.links()).toEqual(['lo', 'uplink']);
    expect(net.exec(net.host, ['nft', 'list', 'ruleset']).trim()).toBe('');
  });
});
