// The runtime's own binary (CVE-2019-5736 class): a container process races 200 `exec` helpers,
// trying to read, ptrace and overwrite each before it runs the command. The helper is not
// dumpable from its first instruction and runs from a sealed memfd, so every attempt must fail.

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execShim } from '../../src/drivers/namespaces/shim.js';
import { buildExecSpec } from '../../src/drivers/namespaces/spec.js';
import { signalInit, start, stop, waitForExit, type RuntimeRecord } from '../../src/drivers/namespaces/runtime.js';
import { requireRoot } from '../support/root.js';
import { makeHarness, mountsLeaked, readLogs, specOf, type Harness } from '../drivers/namespaces/harness.js';
import { exploitDir } from './build.js';
import { expectContained, parseResults, tally, verdictOf } from './results.js';

const RACES = 200;

const root = requireRoot();
(root ? describe : describe.skip)('attack: hijacking the exec helper', () => {
  let h: Harness;
  let record: RuntimeRecord | null = null;
  beforeAll(() => {
    h = makeHarness('sec-hijack');
  });
  afterAll(async () => {
    if (record) await stop(record, { timeoutMs: 2000, killAll: () => h.cg.killAll() });
    await h?.cleanup();
    expect(mountsLeaked(h)).toEqual([]);
  });

  test(`a container process races ${RACES} exec helpers: none is readable, traceable or writable`, async () => {
    const bin = exploitDir();
    const spec = await specOf('hijack', `mounts: [{type: bind, source: ${bin}, target: /x, readOnly: true}]\ncommand: [/x/exploit, hijack]`);
    const s = h.spawnSpec(spec);
    record = await start(s);
    // A long PATH (an image's config sets it) makes the helper search before its execve: the
    // widest window an attacker can arrange, so a helper that is exposed at all gets caught.
    const path = [...Array.from({ length: 200 }, (_, i) => `/nonexistent/${i}`), '/bin'].join(':');
    const exec = buildExecSpec(spec, null, h.cg.procs, { argv: ['true'], env: [`PATH=${path}`] }, process.arch);
    for (let i = 0; i < RACES; i++) {
      const r = await execShim(exec, record.init, { stdio: ['ignore', 'ignore', 'ignore'] });
      expect(r.exitCode).toBe(0);
    }
    signalInit(record, 15);
    const ended = await waitForExit(record, { timeoutMs: 30_000 });
    expect(ended?.state).toBe('exited');
    record = null;
    const out = readLogs(s.logDir).stdout;
    const results = parseResults(out);
    tally('hijack', results);
    process.stderr.write(`hijack: ${out.split('\n').filter((l) => l.startsWith('RESULT')).join('; ')}\n`);
    expectContained(results, ['hijack-window', 'hijack-ptrace', 'hijack-exe-write']);
    // The race was really run: the watcher caught helpers inside their window.
    expect(Number(verdictOf(results, 'hijack-window')!.detail)).toBeGreaterThan(0);
  }, 300_000);

  test('a container sharing the host pid namespace cannot read, trace or write a monitor', async () => {
    const bin = exploitDir();
    const other = await specOf('target', `command: [/bin/sh, -c, 'trap "exit 0" TERM; sleep 100000 & wait']`);
    const target = await start(h.spawnSpec(other));
    try {
      const spec = await specOf('attacker', `namespaces: {pid: host}\nmounts: [{type: bind, source: ${bin}, target: /x, readOnly: true}]\ncommand: [/x/exploit, hijack, '${target.monitor.pid}']`);
      const out = await h.run(spec);
      const results = parseResults(out.stdout);
      tally('monitor', results);
      const p = `hijack-pid-${target.monitor.pid}`;
      expectContained(results, [`${p}-exe`, `${p}-ptrace`, `${p}-write`]);
    } finally {
      await stop(target, { timeoutMs: 5000, killAll: () => h.cg.killAll() });
    }
  });
});
