// Terminals (TIOCSTI): `corral exec` run from an operator's shell must never hand the container
// that shell's terminal. The exploit pushes a command line into every terminal it can reach; the
// operator's shell then reads its next line: it must not be the injected one.

import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { BIN } from '../support/cli.js';
import { requireRoot } from '../support/root.js';
import { sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';
import { exploitDir } from './build.js';
import { expectContained, parseResults, tally, type Result } from './results.js';

/** Runs `corral exec ARGS` on a pseudo-terminal, as an operator's interactive shell would, then
 * lets that shell read one line from its terminal for 2 s and print it. */
function execFromShell(sb: Sandbox, args: string): { out: string; injected: string } {
  const script = `${process.execPath} ${BIN} exec ${args}; read -t 2 line; echo "OPERATOR-READ:[$line]"`;
  const r = spawnSync('script', ['-qec', `bash -c '${script.replace(/'/g, `'\\''`)}'`, '/dev/null'], {
    env: { ...process.env, ...sb.env }, encoding: 'utf8', timeout: 120_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  const read = /OPERATOR-READ:\[(.*)\]/.exec(out)?.[1] ?? '';
  return { out, injected: read };
}

const root = requireRoot();
(root ? describe : describe.skip)('attack: the operator\'s terminal through exec', () => {
  let sb: Sandbox;
  const all: Result[] = [];
  beforeAll(() => {
    sb = sandbox('sec-tty');
    sb.write('svc.yaml', sleeper('svc', `mounts: [{type: bind, source: ${exploitDir()}, target: /x, readOnly: true}]`));
    const r = sb.run('reconcile', '--once');
    if (r.code !== 0) throw new Error(`reconcile failed: ${r.stderr}`);
  }, 180_000);
  afterAll(async () => {
    tally('terminal', all);
    await sb?.cleanup();
  });

  test('without -t: pipes and a session of its own; TIOCSTI reaches nothing of the caller', () => {
    const { out, injected } = execFromShell(sb, 'svc -- /x/exploit terminal "echo INJECTED-BY-CONTAINER"');
    const results = parseResults(out);
    all.push(...results);
    // No terminal at all: the caller's stays with the helper.
    expect(out.match(/fd\d isatty=0/g)).toHaveLength(3);
    expect(injected).not.toMatch(/INJECTED/);
    expectContained(results, ['tiocsti-fd0', 'tiocsti-fd1', 'tiocsti-fd2', 'tiocsti-devtty']);
    // Its own session: not the operator's.
    expect(out).toMatch(/sid=(\d+) pgid=\1 pid=\1/);
  }, 180_000);

  test('with -t: a pty of the container\'s own; what it pushes stays there', () => {
    const { out, injected } = execFromShell(sb, '-t svc -- /x/exploit terminal "echo INJECTED-BY-CONTAINER"');
    expect(out).toMatch(/fd0 isatty=1/);
    expect(injected).not.toMatch(/INJECTED/);
    // Pushing into its own terminal is allowed and harmless; the caller's is out of reach.
    all.push(...parseResults(out).filter((r) => r.verdict !== 'PUSHED'));
    expect(out).toMatch(/sid=(\d+) pgid=\1 pid=\1/);
  }, 180_000);

  test('^C typed on the operator\'s terminal reaches the command once', async () => {
    const script = `trap 'n=$((n+1)); echo got-INT' INT; n=0; echo ready; i=0; while [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done; echo "ints=$n"`;
    const child = spawn('script', ['-qec', `${process.execPath} ${BIN} exec svc -- /bin/sh -c '${script.replace(/'/g, `'\\''`)}'`, '/dev/null'], {
      env: { ...process.env, ...sb.env }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    }));
    // What a terminal's ^C is: the line discipline signals the foreground process group.
    child.stdin.write('\x03');
    await ended;
    expect(out).toMatch(/got-INT/);
    expect(out).toMatch(/ints=1/);
  }, 180_000);

  test('signals given to corral exec reach the command; the terminal is restored', () => {
    // The signal goes to `corral exec` once the command inside says it is ready (no fixed sleep:
    // the cgroup2 VM is slow).
    const cmd = [
      'out=$(mktemp)',
      `${process.execPath} ${BIN} exec svc -- /bin/sh -c 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' > "$out" &`,
      'pid=$!; n=0; until grep -q ready "$out" || [ $n -ge 600 ]; do sleep 0.1; n=$((n+1)); done',
      'kill -TERM $pid; wait $pid; code=$?; cat "$out"; rm -f "$out"; echo "exit=$code"',
    ].join('\n');
    const r = spawnSync('sh', ['-c', cmd], { env: { ...process.env, ...sb.env }, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout).toMatch(/ready\ngot-TERM\n/);
    expect(r.stdout).toMatch(/exit=7/);
    const tty = spawnSync('script', ['-qec', `sh -c 'stty -g > /tmp/corral-stty-before.$$; ${process.execPath} ${BIN} exec -t svc -- /bin/sh -c "exit 3"; echo code=$?; stty -g | cmp -s - /tmp/corral-stty-before.$$ && echo restored; rm -f /tmp/corral-stty-before.$$'`, '/dev/null'], {
      env: { ...process.env, ...sb.env }, encoding: 'utf8', timeout: 120_000,
    });
    expect(tty.stdout).toMatch(/code=3/);
    expect(tty.stdout).toMatch(/restored/);
  }, 300_000);
});
