// `corral exec` of a command the container lacks: one clear EXEC_FAILED naming it, exit 1, and
// nothing else on the terminal (no log line of the helper's).

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { requireRoot } from '../support/root.js';
import { sandbox, sleeper, type Sandbox } from '../support/host-sandbox.js';

let sb: Sandbox;
beforeAll(() => {
  if (!requireRoot()) return;
  sb = sandbox('exec');
  sb.write('box.yaml', sleeper('box', 'workingDir: /tmp'));
  const r = sb.run('reconcile', '--once');
  if (r.code !== 0) throw new Error(`reconcile failed: ${r.stderr}`);
});
afterAll(async () => {
  await sb?.cleanup();
});

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^error /.test(l));

describe('corral exec of a missing command', () => {
  test('a missing path: EXEC_FAILED naming it, and no other output', () => {
    if (!sb) return;
    const r = sb.run('exec', 'box', '--', '/nope/bin', 'arg');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)).toEqual(['error EXEC_FAILED container `box` has no `/nope/bin`']);
    expect(r.stderr).not.toContain('{');
  });

  test('a name not on the PATH: EXEC_FAILED naming it and the PATH searched', () => {
    if (!sb) return;
    const r = sb.run('exec', 'box', '--', 'nopebin');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)).toEqual(['error EXEC_FAILED container `box` has no `nopebin` in its PATH']);
    expect(r.stderr).toContain('searched /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(r.stderr).not.toContain('{');
    // -e PATH changes where it is looked for, as it changes where the command is run from.
    expect(sb.run('exec', 'box', '-e', 'PATH=/nowhere', '--', 'sh', '-c', 'true').stderr).toContain('searched /nowhere');
  });

  test('what exists still runs: by PATH, by path, and relative to the working directory', () => {
    if (!sb) return;
    expect(sb.run('exec', 'box', '--', 'sh', '-c', 'echo ok')).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
    expect(sb.run('exec', 'box', '--', '/bin/sh', '-c', 'cp /bin/true ./mytrue')).toMatchObject({ code: 0 });
    expect(sb.run('exec', 'box', '--', './mytrue')).toMatchObject({ code: 0, stderr: '' });
    expect(sb.run('exec', 'box', '--', '../tmp/mytrue')).toMatchObject({ code: 0, stderr: '' });
  });
});
