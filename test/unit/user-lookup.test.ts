import { describe, expect, test } from '@jest/globals';
import { parseImageUser, resolveUser, USER_DB_MAX_BYTES, type UserRequest } from '../../src/drivers/overlay/user-lookup.js';
import { isCorralError, type CorralError } from '../../src/errors.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1000:App,,,:/home/app:/bin/bash',
  'nohome:x:1001:100:::/bin/sh',
  'app:x:2000:2000:second app, ignored:/elsewhere:/bin/sh',
  'twin:x:1000:3000:same uid as app, ignored by uid:/twin:/bin/sh',
].join('\n');

const GROUP = [
  'root:x:0:',
  'daemon:x:1:app',
  'users:x:100:',
  'wheel:x:10:root,app',
  'app:x:1000:',
  'audio:x:29:nohome,app,',
  'video:x:44:APP,ap,apps',
  'staff:x:50:',
  'wheel:x:11:',
].join('\n');

const FILES = { passwd: PASSWD, group: GROUP };

const req = (user: string | number, group: string | number | null = null, groups: readonly (string | number)[] = []): UserRequest => ({ user, group, groups });

/** The CorralError `fn` throws (fails the test when it returns or throws something else). */
function thrown(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (err) {
    if (isCorralError(err)) return err;
    throw err;
  }
  throw new Error('expected a CorralError');
}

describe('resolveUser', () => {
  test('a name takes uid, primary gid, home and memberships from the files', () => {
    expect(resolveUser(req('app'), FILES)).toEqual({ uid: 1000, gid: 1000, groups: [1, 10, 29], home: '/home/app' });
  });

  test('root is a member of what lists it, not of its own primary group', () => {
    expect(resolveUser(req('root'), FILES)).toEqual({ uid: 0, gid: 0, groups: [10], home: '/root' });
  });

  test('a uid with an entry uses the first entry with that uid, memberships by its name', () => {
    expect(resolveUser(req(1000), FILES)).toEqual({ uid: 1000, gid: 1000, groups: [1, 10, 29], home: '/home/app' });
    expect(resolveUser(req('1000'), FILES)).toEqual(resolveUser(req(1000), FILES));
  });

  test('a uid without an entry runs with gid 0, no groups and no home', () => {
    expect(resolveUser(req(4242), FILES)).toEqual({ uid: 4242, gid: 0, groups: [], home: null });
    expect(resolveUser(req('4242', 7), FILES)).toEqual({ uid: 4242, gid: 7, groups: [], home: null });
  });

  test('an empty home field is no home', () => {
    expect(resolveUser(req('nohome'), FILES)).toEqual({ uid: 1001, gid: 100, groups: [29], home: null });
  });

  test('the first entry of a name wins', () => {
    expect(resolveUser(req('app'), FILES).uid).toBe(1000);
  });

  test('names are compared exactly', () => {
    expect(thrown(() => resolveUser(req('App'), FILES)).code).toBe('USER_NOT_FOUND');
    // `APP`, `ap` and `apps` in video's members are not `app`.
    expect(resolveUser(req('app'), FILES).groups).not.toContain(44);
  });

  test('a group by name or number replaces the primary group; memberships stay', () => {
    expect(resolveUser(req('app', 'staff'), FILES)).toEqual({ uid: 1000, gid: 50, groups: [1, 10, 29], home: '/home/app' });
    expect(resolveUser(req('app', 77), FILES).gid).toBe(77);
    expect(resolveUser(req('app', '77'), FILES).gid).toBe(77);
    expect(resolveUser(req(4242, 'users'), FILES).gid).toBe(100);
  });

  test('a numeric group needs no /etc/group entry, nor the file', () => {
    expect(resolveUser(req(5, 6), { passwd: null, group: null })).toEqual({ uid: 5, gid: 6, groups: [], home: null });
  });

  test('the first group entry of a name wins', () => {
    expect(resolveUser(req(4242, 'wheel'), FILES).gid).toBe(10);
  });

  test('extra groups by name and number join the memberships, unique and sorted', () => {
    expect(resolveUser(req('app', null, ['staff', 3000, '29', 10, 'users', 3000]), FILES).groups).toEqual([1, 10, 29, 50, 100, 3000]);
  });

  test('the primary gid is a supplementary group only when listed', () => {
    expect(resolveUser(req('app'), FILES).groups).not.toContain(1000);
    expect(resolveUser(req('app', null, ['app']), FILES).groups).toContain(1000);
  });

  test('an unknown user names /etc/passwd', () => {
    const err = thrown(() => resolveUser(req('ghost'), FILES, 'web'));
    expect(err).toMatchObject({
      code: 'USER_NOT_FOUND', container: 'web', detail: 'looked in /etc/passwd',
      summary: "user `ghost` is not in the container's /etc/passwd",
    });
    expect(err.hint).toMatch(/uid/);
  });

  test('an unknown group, primary or extra, names /etc/group', () => {
    for (const r of [req('app', 'ghosts'), req(0, null, ['ghosts'])]) {
      const err = thrown(() => resolveUser(r, FILES));
      expect(err).toMatchObject({ code: 'USER_NOT_FOUND', detail: 'looked in /etc/group', summary: "group `ghosts` is not in the container's /etc/group" });
    }
  });

  test('no container: the error carries none', () => {
    expect(thrown(() => resolveUser(req('ghost'), FILES)).toJSON()).not.toHaveProperty('container');
  });

  test('a missing /etc/passwd: names fail, uids work', () => {
    const err = thrown(() => resolveUser(req('app'), { passwd: null, group: GROUP }, 'web'));
    expect(err).toMatchObject({ code: 'USER_NOT_FOUND', detail: 'the container has no /etc/passwd' });
    expect(err.summary).toContain('/etc/passwd');
    expect(resolveUser(req(1000), { passwd: null, group: GROUP })).toEqual({ uid: 1000, gid: 0, groups: [], home: null });
  });

  test('a missing /etc/group: group names fail, the user has no memberships', () => {
    const err = thrown(() => resolveUser(req('app', 'staff'), { passwd: PASSWD, group: null }));
    expect(err).toMatchObject({ code: 'USER_NOT_FOUND', detail: 'the container has no /etc/group' });
    expect(err.summary).toContain('/etc/group');
    expect(resolveUser(req('app'), { passwd: PASSWD, group: null })).toEqual({ uid: 1000, gid: 1000, groups: [], home: '/home/app' });
  });

  test('empty files hold no one', () => {
    expect(thrown(() => resolveUser(req('root'), { passwd: '', group: '' })).detail).toBe('looked in /etc/passwd');
  });

  test('uids and gids outside 0..4294967294 are refused', () => {
    for (const r of [req(4294967295), req(-1), req(1.5), req('4294967295'), req(0, 4294967295), req(0, null, ['99999999999999999999'])]) {
      expect(thrown(() => resolveUser(r, FILES)).code).toBe('MANIFEST_OUT_OF_RANGE');
    }
    expect(resolveUser(req(4294967294, '4294967294'), FILES)).toMatchObject({ uid: 4294967294, gid: 4294967294 });
  });

  test('a long name is cut in the message', () => {
    const err = thrown(() => resolveUser(req('x'.repeat(10_000)), FILES));
    expect(err.summary.length).toBeLessThan(200);
  });
});

describe('hostile files', () => {
  const good = 'good:x:7:8::/home/good:/bin/sh';

  test.each([
    ['too few fields', 'bad:x:7:8:/home/bad:/bin/sh'],
    ['too many fields', 'bad:x:7:8::/home/bad:/bin/sh:extra'],
    ['a non-numeric uid', 'bad:x:seven:8::/home/bad:/bin/sh'],
    ['a signed uid', 'bad:x:+7:8::/home/bad:/bin/sh'],
    ['a hex gid', 'bad:x:7:0x8::/home/bad:/bin/sh'],
    ['an exponent', 'bad:x:7e0:8::/home/bad:/bin/sh'],
    ['spaces around an id', 'bad:x: 7:8::/home/bad:/bin/sh'],
    ['an empty uid', 'bad:x::8::/home/bad:/bin/sh'],
    ['uid 2^32 - 1', 'bad:x:4294967295:8::/home/bad:/bin/sh'],
    ['a huge uid', `bad:x:${'9'.repeat(400)}:8::/home/bad:/bin/sh`],
    ['a NIS + line', '+bad:x:7:8::/home/bad:/bin/sh'],
    ['a NIS - line', '-bad:x:7:8::/home/bad:/bin/sh'],
    ['a comment', '#bad:x:7:8::/home/bad:/bin/sh'],
    ['an empty name', ':x:7:8::/home/bad:/bin/sh'],
  ])('passwd: skips %s', (_what, line) => {
    const files = { passwd: `${line}\n${good}\n`, group: '' };
    expect(thrown(() => resolveUser(req('bad'), files)).code).toBe('USER_NOT_FOUND');
    // The good line after it still counts, and uid 7 is the good entry's.
    expect(resolveUser(req(7), files).home).toBe('/home/good');
    expect(resolveUser(req('good'), files)).toEqual({ uid: 7, gid: 8, groups: [], home: '/home/good' });
  });

  test.each([
    ['too few fields', 'bad:x:9'],
    ['too many fields', 'bad:x:9:good:'],
    ['a non-numeric gid', 'bad:x:nine:good'],
    ['a huge gid', 'bad:x:4294967296:good'],
    ['a NIS + line', '+bad:x:9:good'],
    ['a NIS - line', '-bad:x:9:good'],
    ['a comment', '# bad:x:9:good'],
  ])('group: skips %s', (_what, line) => {
    const files = { passwd: good, group: `${line}\nother:x:12:good` };
    expect(thrown(() => resolveUser(req(7, 'bad'), files)).code).toBe('USER_NOT_FOUND');
    expect(resolveUser(req('good'), files).groups).toEqual([12]);
  });

  test('blank lines and CRLF line ends', () => {
    const files = {
      passwd: `\r\n   \n\t\r\n${good}\r\nroot:x:0:0:root:/root:/bin/sh\r\n`,
      group: 'wheel:x:10:good\r\n\r\nstaff:x:50:root,good\r\n',
    };
    expect(resolveUser(req('good'), files)).toEqual({ uid: 7, gid: 8, groups: [10, 50], home: '/home/good' });
    expect(resolveUser(req('root', 'staff'), files)).toEqual({ uid: 0, gid: 50, groups: [50], home: '/root' });
  });

  test('empty members in a list are no one', () => {
    expect(resolveUser(req(7), { passwd: good, group: 'odd:x:3:,,good,' }).groups).toEqual([3]);
  });

  test('a file over 4 MiB is refused, naming the file', () => {
    const big = `${good}\n${'#'.repeat(USER_DB_MAX_BYTES)}`;
    const err = thrown(() => resolveUser(req(7), { passwd: big, group: '' }, 'web'));
    expect(err).toMatchObject({ code: 'USER_DB_INVALID', container: 'web', summary: "the container's /etc/passwd is larger than 4 MiB" });
    const errGroup = thrown(() => resolveUser(req(7), { passwd: good, group: big }));
    expect(errGroup).toMatchObject({ code: 'USER_DB_INVALID', summary: "the container's /etc/group is larger than 4 MiB" });
  });

  test('the limit counts UTF-8 bytes: 4 MiB exactly passes, one multi-byte character more does not', () => {
    const filler = (bytes: number) => `${good}\n#${'x'.repeat(bytes - good.length - 2)}`;
    expect(resolveUser(req('good'), { passwd: filler(USER_DB_MAX_BYTES), group: '' }).uid).toBe(7);
    // Fewer characters than the limit, more bytes: `é` is two bytes.
    const accented = `${filler(USER_DB_MAX_BYTES - 2)}é`;
    expect(accented.length).toBeLessThan(USER_DB_MAX_BYTES);
    expect(resolveUser(req('good'), { passwd: accented, group: '' }).uid).toBe(7);
    expect(thrown(() => resolveUser(req('good'), { passwd: `${accented}x`, group: '' })).code).toBe('USER_DB_INVALID');
  });

  test('a 1 MB line of colons, and one of commas, are skipped quickly', () => {
    const colons = ':'.repeat(1024 * 1024);
    const started = Date.now();
    const user = resolveUser(req('good', null, ['other']), {
      passwd: `${colons}\n${'a:'.repeat(500_000)}\n${good}`,
      group: `${colons}\nx:x:1:${','.repeat(1024 * 1024)}\n${colons}good\nother:x:12:good`,
    });
    // Generous: a backtracking or quadratic parser takes minutes on this, a linear one milliseconds.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(user).toEqual({ uid: 7, gid: 8, groups: [12], home: '/home/good' });
  });
});

describe('parseImageUser', () => {
  test.each([
    ['app', { user: 'app', group: null, groups: [] }],
    ['1000', { user: 1000, group: null, groups: [] }],
    ['0', { user: 0, group: null, groups: [] }],
    ['app:staff', { user: 'app', group: 'staff', groups: [] }],
    ['1000:1000', { user: 1000, group: 1000, groups: [] }],
    ['1000:staff', { user: 1000, group: 'staff', groups: [] }],
    ['app:50', { user: 'app', group: 50, groups: [] }],
    ['007', { user: 7, group: null, groups: [] }],
    ['4294967294:4294967294', { user: 4294967294, group: 4294967294, groups: [] }],
    ['1000a', { user: '1000a', group: null, groups: [] }],
    ['-1', { user: '-1', group: null, groups: [] }],
  ])('%s', (value, expected) => expect(parseImageUser(value)).toEqual(expected));

  test.each([
    ['', /empty user/],
    [':', /empty user/],
    [':staff', /empty user/],
    ['app:', /empty group/],
    ['a:b:c', /more than one colon/],
    ['1000::', /more than one colon/],
    ['4294967295', /uid 4294967295, outside/],
    ['app:4294967295', /gid 4294967295, outside/],
  ])('refuses %j', (value, message) => {
    const err = thrown(() => parseImageUser(value));
    expect(err.code).toBe('IMAGE_INVALID');
    expect(err.summary).toMatch(/config\.User/);
    expect(err.summary).toMatch(message);
  });

  test('a User of a million colons is refused quickly, with a short message', () => {
    const started = Date.now();
    const err = thrown(() => parseImageUser(':'.repeat(1024 * 1024)));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.code).toBe('IMAGE_INVALID');
    expect(err.summary.length).toBeLessThan(200);
  });

  test('what it parses resolves', () => {
    expect(resolveUser(parseImageUser('app:staff'), FILES)).toEqual({ uid: 1000, gid: 50, groups: [1, 10, 29], home: '/home/app' });
  });
});
