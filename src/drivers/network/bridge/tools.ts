// The host tools the bridge driver runs for what is rare (making a bridge, re-wiring a veth into a
// running container's namespace): iproute2 (`ip -batch`) and util-linux (`nsenter`), about 4 ms a
// process here; and nft commands, through libnftables in this process when it loads (the hot path
// goes over netlink, rtnl.ts). docs/network.md ("Cost") says which path does what.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { CorralError } from '../../../errors.js';
import { nftRun } from '../../../sys/nftables.js';

export const TOOLS = { ip: 'iproute2', nft: 'nftables', nsenter: 'util-linux' } as const;

/** Tools missing from PATH, with the Debian package that has each. */
export function missingTools(path = process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin'): string[] {
  const dirs = path.split(':').filter(Boolean);
  return Object.entries(TOOLS).filter(([tool]) => !dirs.some((d) => {
    try {
      accessSync(`${d}/${tool}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  })).map(([tool, pkg]) => `\`${tool}\` (Debian package ${pkg})`);
}

/** Runs a tool with `input` on stdin; NETWORK_SETUP_FAILED with its stderr when it fails. */
export function run(file: string, args: readonly string[], input: string, signal: AbortSignal, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { signal, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ABORT_ERR') return reject(new CorralError('ABORTED', `${what}: stopped`, { cause: err }));
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new CorralError(missing ? 'NETWORK_TOOL_MISSING' : 'NETWORK_SETUP_FAILED', missing
        ? `${what}: \`${file}\` is not installed (Debian package ${TOOLS[file as keyof typeof TOOLS] ?? file})`
        : `${what}: \`${[file, ...args].join(' ')}\` failed: ${stderr.trim().split('\n').slice(0, 6).join('; ') || err.message}`, { cause: err }));
    });
    // A tool that exits without reading its input (an error) must not crash corral with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/**
 * nft commands (a command, or the text of an `nft -f` file) through libnftables in this process,
 * or the `nft` command when the library cannot be loaded. The same errors either way.
 */
export async function nft(commands: string, signal: AbortSignal, what: string): Promise<string> {
  if (signal.aborted) throw new CorralError('ABORTED', `${what}: stopped`);
  const result = nftRun(commands);
  if (result === null) return run('nft', ['-f', '-'], commands, signal, what);
  if (result.ok) return result.output;
  throw new CorralError('NETWORK_SETUP_FAILED', `${what}: nft failed: ${result.error.split('\n').slice(0, 6).join('; ')}`);
}

/** `ip -batch -` in corral's own network namespace, or in the one `netns` names. */
export function ipBatch(lines: readonly string[], signal: AbortSignal, what: string, netns?: string): Promise<string> {
  const input = `${lines.join('\n')}\n`;
  return netns === undefined
    ? run('ip', ['-batch', '-'], input, signal, what)
    : run('nsenter', [`--net=${netns}`, 'ip', '-batch', '-'], input, signal, what);
}
