// What the bridge networking tests share: a "host" network namespace with an "outside" one
// (./test-netns.ts), a corral sandbox running inside it, a busybox root filesystem, and the
// helpers to write manifests and look from inside a container. One per test file.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxRootfs } from './busybox.js';
import { corral } from './cli.js';
import { sandbox, type Sandbox } from './host-sandbox.js';
import { makeTestNetwork, type TestNetwork } from './test-netns.js';

export interface BridgeSetup {
  readonly net: TestNetwork;
  readonly sb: Sandbox;
  readonly rootfs: string;
  /** A container manifest on this root filesystem; `network` is the YAML of `spec.network`. */
  container(name: string, network: string, command?: string, extra?: string): string;
  /** The container's lease, as the driver wrote it. */
  lease(name: string): { address: string; address6?: string; network?: string; veth: string };
  /** A command inside the container. */
  inside(name: string, ...command: string[]): { code: number; stdout: string };
  /** An HTTP GET from inside a container with busybox nc (its wget crashes when linked statically). */
  httpFrom(name: string, host: string, port: number): string;
  /** curl in a namespace; '' when it fails. */
  curl(netns: string, url: string): string;
  /** The interfaces of the host namespace, sorted. */
  links(): string[];
  /** `reconcile --once --allow-empty` on an empty directory: every container and network goes. Its exit code. */
  removeAll(): number;
  cleanup(): Promise<void>;
}

/** `prepare` fills the root filesystem beyond busybox (pages to serve). */
export function bridgeSetup(label: string, prepare: (rootfs: string) => void = () => undefined): BridgeSetup {
  const rootfs = mkdtempSync(join(tmpdir(), `corral-${label}-rootfs-`));
  buildBusyboxRootfs(rootfs);
  prepare(rootfs);
  const net = makeTestNetwork(label);
  const sb = sandbox(label, { netns: net.host });
  return {
    net,
    sb,
    rootfs,
    container: (name, network, command = '[/bin/sleep, "100000"]', extra = '') => `apiVersion: corral/v1
kind: Container
metadata: {name: ${name}}
spec:
  rootfs: {path: ${rootfs}}
  command: ${command}
  stopTimeout: 2s
  network: ${network}
${extra}`,
    lease: (name) => JSON.parse(readFileSync(join(sb.root, 'network/leases', `${name}.json`), 'utf8')) as { address: string; address6?: string; network?: string; veth: string },
    inside: (name, ...command) => sb.run('exec', name, '--', ...command),
    httpFrom: (name, host, port) => corral(['exec', name, '--', 'nc', '-w', '3', host, String(port)], { env: sb.env, input: 'GET / HTTP/1.0\r\n\r\n' }).stdout,
    curl(netns, url) {
      try {
        return net.exec(netns, ['curl', '-g', '-s', '-m', '3', url]);
      } catch {
        return '';
      }
    },
    links: () => net.exec(net.host, ['ip', '-o', 'link', 'show']).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!).sort(),
    removeAll() {
      const empty = mkdtempSync(join(tmpdir(), `corral-${label}-empty-`));
      try {
        return sb.run('reconcile', '--once', '--allow-empty', '--dir', empty).code;
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    },
    async cleanup() {
      await sb.cleanup();
      net.cleanup();
      rmSync(rootfs, { recursive: true, force: true });
    },
  };
}
