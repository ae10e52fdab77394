// Shared setup of the kernel tests: a busybox rootfs, a throw-away cgroup, ContainerSpecs from
// manifest text, and helpers to run a container to completion and read what it printed.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerSpec } from '../../../src/manifest/spec.js';
import { logPaths } from '../../../src/drivers/namespaces/records.js';
import { start, waitForExit, type RuntimeRecord, type RuntimeStatus } from '../../../src/drivers/namespaces/runtime.js';
import { execShim } from '../../../src/drivers/namespaces/shim.js';
import { buildExecSpec, buildSpawnSpec, type ExecRequest, type SpawnInputs } from '../../../src/drivers/namespaces/spec.js';
import type { ChildProcess } from 'node:child_process';
import type { RunSpawnSpec } from '../../../src/drivers/namespaces/spawn-spec.js';
import { loadOne } from '../../support/schema.js';
import { makeTestRootfs, type TestRootfs } from '../../support/busybox.js';
import { makeTestCgroup, type TestCgroup } from './cgroup-fixture.js';

/** A ContainerSpec through the real load/validate/normalize path; `extra` is YAML under `spec:`. */
export async function specOf(name: string, extra = 'command: [/bin/true]'): Promise<ContainerSpec> {
  const body = extra.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n');
  const text = `apiVersion: corral/v1\nkind: Container\nmetadata:\n  name: ${name}\nspec:\n  rootfs: {host: {}}\n${body}\n`;
  const { spec, errors } = await loadOne(text);
  if (!spec) throw new Error(`test manifest invalid: ${errors.map((e) => e.summary).join('; ')}`);
  return spec;
}

export interface Harness {
  readonly fs: TestRootfs;
  readonly cg: TestCgroup;
  spawnSpec(spec: ContainerSpec, extra?: Partial<SpawnInputs>): RunSpawnSpec;
  /** Starts, waits for the end, returns the status and the container's output. */
  run(spec: ContainerSpec, extra?: Partial<SpawnInputs>): Promise<{ status: RuntimeStatus; stdout: string; stderr: string; record: RuntimeRecord }>;
  cleanup(): Promise<void>;
}

export function makeHarness(tag: string): Harness {
  const fs = makeTestRootfs();
  const cg = makeTestCgroup(tag);
  const h: Harness = {
    fs,
    cg,
    spawnSpec(spec, extra = {}) {
      const layout = fs.layout(spec.name);
      return buildSpawnSpec({
        spec, rootfs: layout, image: null, cgroupProcs: cg.procs, oomEventsFile: cg.oomEvents, shimDir: layout.shim, logDir: layout.logs,
        volumes: {}, arch: process.arch, ...extra,
      });
    },
    async run(spec, extra) {
      const s = h.spawnSpec(spec, extra);
      const record = await start(s);
      const status = await waitForExit(record, { timeoutMs: 30_000 });
      if (!status) throw new Error(`container ${spec.name} did not exit within 30 s`);
      const out = readLogs(s.logDir);
      return { status, record, ...out };
    },
    async cleanup() {
      await cg.remove();
      fs.cleanup();
    },
  };
  return h;
}

/** `corral exec` at the driver level: `req` run inside a running container, its output collected. */
export async function execIn(h: Harness, spec: ContainerSpec, record: RuntimeRecord, req: ExecRequest): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const r = await execShim(buildExecSpec(spec, null, h.cg.procs, req, process.arch), record.init, {
    stdio: ['ignore', 'pipe', 'pipe'],
    onSpawn: (c: ChildProcess) => {
      c.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
      c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    },
  });
  return { code: r.exitCode, stdout, stderr };
}

/** The text of a CRI-format log, split by stream (rotations included, oldest first). */
export function readLogs(logDir: string, maxFiles = 10): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (const p of logPaths(logDir, maxFiles).reverse()) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\S+ (stdout|stderr) ([FP]) (.*)$/.exec(line);
      if (m) out[m[1] as 'stdout' | 'stderr'] += m[2] === 'F' ? `${m[3]}\n` : m[3];
    }
  }
  return out;
}

/**
 * Mounts left on the host under the harness's state root. Only its own: test files run side by
 * side (jest workers, the VM suite), and another file's live mounts are not this one's leak.
 */
export function mountsLeaked(h: Harness | undefined | null): string[] {
  if (!h) return [];
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(h.fs.root));
}

export { join };
