// `corral exec` tells a command the container lacks before starting its helper, looking it up the
// way the shim's execve would: the name itself when it holds a slash, else along the command's PATH.

import { describe, expect, test } from '@jest/globals';
import { executableCandidates, missingCommand } from '../../src/cli/commands/exec.js';

const plan = (argv: string[], env: string[] = ['PATH=/usr/bin:/bin'], cwd = '/srv') => ({ argv, env, cwd });

describe('executableCandidates', () => {
  test('a name is searched along PATH; an empty PATH entry is the working directory', () => {
    expect(executableCandidates(plan(['tool'], ['PATH=/usr/bin::/opt/x/bin']))).toEqual({
      file: 'tool', searchPath: '/usr/bin::/opt/x/bin', paths: ['/usr/bin/tool', '/srv/./tool', '/opt/x/bin/tool'],
    });
  });

  test('a path is taken as it is, a relative one from the working directory, `..` left to the lookup', () => {
    expect(executableCandidates(plan(['/bin/true'])).paths).toEqual(['/bin/true']);
    expect(executableCandidates(plan(['./run.sh'])).paths).toEqual(['/srv/./run.sh']);
    // `bin` may be a symlink: only a lookup in the container knows where its `..` leads.
    expect(executableCandidates(plan(['bin/../run'], [], '/')).paths).toEqual(['/bin/../run']);
  });
});

describe('missingCommand', () => {
  const present = new Set(['/bin/sh', '/usr/bin/env']);
  const exists = (p: string) => present.has(p);

  test('nothing found anywhere: EXEC_FAILED naming the command and what was searched', () => {
    expect(missingCommand('web', plan(['/nope/bin']), exists)).toMatchObject({ code: 'EXEC_FAILED', summary: 'container `web` has no `/nope/bin`' });
    expect(missingCommand('web', plan(['nopebin']), exists)).toMatchObject({
      code: 'EXEC_FAILED', summary: 'container `web` has no `nopebin` in its PATH', detail: 'searched /usr/bin:/bin', container: 'web',
    });
  });

  test('found, or not known either way: left to the start itself', () => {
    expect(missingCommand('web', plan(['sh']), exists)).toBeNull();
    expect(missingCommand('web', plan(['/usr/bin/env']), exists)).toBeNull();
    expect(missingCommand('web', plan(['tool']), (p) => (p === '/bin/tool' ? null : false))).toBeNull();
  });
});
