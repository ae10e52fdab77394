// Network namespaces for network tests, never the machine's own interfaces: a "host" namespace in
// which corral runs (`nsenter --net=`, which keeps /sys/fs/cgroup in view, unlike `ip netns exec`)
// and an "outside" one routed to it over a veth pair (192.0.2.1 on the host side, 192.0.2.2 out
// there; TEST-NET-1, so nothing real is ever reached). The outside has no route back to the
// containers' subnets: its answers reach a container only through corral's masquerade.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HOST_ADDRESS = '192.0.2.1';
export const OUTSIDE_ADDRESS = '192.0.2.2';
/** The same link over IPv6 (documentation prefix 2001:db8::/32). */
export const HOST_ADDRESS6 = '2001:db8:1::1';
export const OUTSIDE_ADDRESS6 = '2001:db8:1::2';

export interface TestNetwork {
  /** corral's namespace (a file to pass to `nsenter --net=`). */
  readonly host: string;
  readonly outside: string;
  /** Runs a command in a namespace and returns its stdout. */
  exec(netns: string, command: readonly string[], input?: string, timeoutMs?: number): string;
  /** A long-running process in a namespace, killed by cleanup(). */
  serve(netns: string, command: readonly string[]): ChildProcess;
  cleanup(): void;
}

function newNamespace(file: string): void {
  writeFileSync(file, '');
  execFileSync('unshare', [`--net=${file}`, 'true']);
  execFileSync('nsenter', [`--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
}

/** Unmounts what is mounted below `dir` (network namespace files a failed test left). */
export function unmountUnder(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${dir}/`));
  for (const point of points.reverse()) spawnSync('umount', ['-l', point]);
}

export function makeTestNetwork(label: string): TestNetwork {
  const dir = mkdtempSync(join(tmpdir(), `corral-net-${label}-`));
  const host = join(dir, 'host');
  const outside = join(dir, 'outside');
  const children: ChildProcess[] = [];
  newNamespace(host);
  newNamespace(outside);
  const ip = (netns: string, ...args: string[]): void => {
    execFileSync('nsenter', [`--net=${netns}`, 'ip', ...args]);
  };
  ip(host, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'uplink', 'netns', outside);
  ip(host, 'addr', 'add', `${HOST_ADDRESS}/24`, 'dev', 'uplink');
  ip(host, 'addr', 'add', `${HOST_ADDRESS6}/64`, 'dev', 'uplink', 'nodad');
  ip(host, 'link', 'set', 'uplink', 'up');
  ip(outside, 'addr', 'add', `${OUTSIDE_ADDRESS}/24`, 'dev', 'uplink');
  ip(outside, 'addr', 'add', `${OUTSIDE_ADDRESS6}/64`, 'dev', 'uplink', 'nodad');
  ip(outside, 'link', 'set', 'uplink', 'up');
  // The outside reaches the host's published ports on its address; nothing beyond.
  return {
    host,
    outside,
    exec: (netns, command, input = '', timeoutMs = 20_000) => execFileSync('nsenter', [`--net=${netns}`, ...command], { encoding: 'utf8', input, timeout: timeoutMs }),
    serve(netns, command) {
      const child = spawn('nsenter', [`--net=${netns}`, ...command], { stdio: 'ignore' });
      children.push(child);
      return child;
    },
    cleanup() {
      for (const child of children) child.kill('SIGKILL');
      for (const file of [host, outside]) {
        try {
          execFileSync('umount', ['-l', file]);
        } catch {
          // Not mounted (a failed setup).
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
