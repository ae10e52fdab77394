// The shim once under AddressSanitizer and UBSan (`make asan`): the decoder on good, malformed and
// fuzzed specs, then (as root) a full start, log, exec and stop. Any sanitizer report fails.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { encodeSpawnSpec } from '../../../src/drivers/namespaces/protocol.js';
import { SHIM_EXIT, SHIM_FILES } from '../../../src/drivers/namespaces/protocol-fields.js';
import { start, stop, waitForExit } from '../../../src/drivers/namespaces/runtime.js';
import { execShim, shimPath } from '../../../src/drivers/namespaces/shim.js';
import { buildExecSpec } from '../../../src/drivers/namespaces/spec.js';
import { requireRoot } from '../../support/root.js';
import { makeHarness, mountsLeaked, readLogs, specOf, type Harness } from './harness.js';
import { EXEC_SAMPLE, fuzzedSpecs, malformedSpecs, SAMPLE } from './samples.js';
import { checkSpec } from './shim-run.js';

const REPORT = /AddressSanitizer|LeakSanitizer|runtime error|UndefinedBehaviorSanitizer/;
const SHIM_DIR = dirname(dirname(shimPath()));
const ASAN = join(SHIM_DIR, 'build', 'corral-shim-asan');

describe('the shim under ASan and UBSan', () => {
  beforeAll(() => {
    execFileSync('make', ['-s', '-C', SHIM_DIR, 'asan'], { stdio: ['ignore', 'ignore', 'inherit'] });
    process.env['ASAN_OPTIONS'] = 'detect_leaks=1:halt_on_error=1';
    process.env['UBSAN_OPTIONS'] = 'print_stacktrace=1:halt_on_error=1';
  });
  afterAll(() => {
    delete process.env['ASAN_OPTIONS'];
    delete process.env['UBSAN_OPTIONS'];
  });

  test('decoding good, malformed and fuzzed specs is clean', async () => {
    for (const s of [SAMPLE, EXEC_SAMPLE]) {
      const r = await checkSpec(ASAN, encodeSpawnSpec(s));
      expect(r.stderr).not.toMatch(REPORT);
      expect(r.code).toBe(0);
    }
    for (const c of malformedSpecs()) {
      const r = await checkSpec(ASAN, c.bytes);
      expect({ name: c.name, report: REPORT.test(r.stderr) ? r.stderr : '', code: r.code }).toEqual({ name: c.name, report: '', code: SHIM_EXIT.protocol });
    }
    for (const bytes of fuzzedSpecs(60)) {
      const r = await checkSpec(ASAN, bytes);
      expect(r.stderr).not.toMatch(REPORT);
      expect([0, SHIM_EXIT.protocol]).toContain(r.code);
    }
  });

  const root = requireRoot();
  (root ? describe : describe.skip)('a container run by the instrumented shim', () => {
    let h: Harness;
    beforeAll(() => { h = makeHarness('asan'); });
    afterAll(async () => {
      await h?.cleanup();
      expect(mountsLeaked(h)).toEqual([]);
    });

    test('start, logs, exec, stop: no sanitizer report', async () => {
      // LeakSanitizer's exit-time scan clones a tracer that must ptrace its parent: after
      // setns(CLONE_NEWPID) that tracer lands in the container's pid namespace, where the parent
      // has no pid, and the scan spins forever. Leak checking stays on for the decoder above.
      process.env['ASAN_OPTIONS'] = 'detect_leaks=0:halt_on_error=1';
      const stderrLines: string[] = [];
      const logger = { log: (_level: string, message: string) => stderrLines.push(message) };
      const spec = await specOf('asan', 'command: [/bin/sh, -c, "echo started; exec sleep 1000"]');
      const s = h.spawnSpec(spec);
      const record = await start(s, { shim: ASAN, logger });
      const out: string[] = [];
      const r = await execShim(buildExecSpec(spec, null, h.cg.procs, { argv: ['/bin/sh', '-c', 'echo from-exec; exit 3'] }, process.arch), record.init, {
        shim: ASAN, stdio: ['ignore', 'pipe', 'pipe'], onSpawn: (c) => {
          c.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
          c.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
        },
      });
      expect(r.exitCode).toBe(3);
      expect(out.join('')).toBe('from-exec\n');
      const stopped = await stop(record, { timeoutMs: 200, killAll: h.cg.killAll });
      expect(stopped.exit?.signal).toBe(9);
      await waitForExit(record, { timeoutMs: 10_000 });
      expect(readLogs(s.logDir).stdout).toBe('started\n');
      let monitorLog = '';
      try { monitorLog = readFileSync(join(s.shimDir, SHIM_FILES.monitorLog), 'utf8'); } catch { /* nothing logged */ }
      expect(monitorLog).not.toMatch(REPORT);
      expect(stderrLines.join('\n')).not.toMatch(REPORT);
    });

    test('with `init: true`: the init forwards, reaps and reports under the sanitizers too', async () => {
      process.env['ASAN_OPTIONS'] = 'detect_leaks=0:halt_on_error=1';
      const stderrLines: string[] = [];
      const logger = { log: (_level: string, message: string) => stderrLines.push(message) };
      const spec = await specOf('asan-init', 'init: true\ncommand: [/bin/sh, -c, "(sleep 0.1 &); echo started; exec sleep 1000"]');
      const s = h.spawnSpec(spec);
      const record = await start(s, { shim: ASAN, logger });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const stopped = await stop(record, { timeoutMs: 20_000, killAll: h.cg.killAll });
      expect(stopped).toMatchObject({ forced: false, exit: { signal: 15, init: true } });
      // The init's own stderr is the container's.
      const logs = readLogs(s.logDir);
      expect(logs.stdout).toBe('started\n');
      expect(logs.stderr).not.toMatch(REPORT);
      let monitorLog = '';
      try { monitorLog = readFileSync(join(s.shimDir, SHIM_FILES.monitorLog), 'utf8'); } catch { /* nothing logged */ }
      expect(monitorLog).not.toMatch(REPORT);
      expect(stderrLines.join('\n')).not.toMatch(REPORT);
    });
  });
});
