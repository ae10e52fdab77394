import { describe, expect, test } from '@jest/globals';
import { diagnostic } from '../../src/errors.js';
import { HostCheckMemo } from '../../src/reconciler/host-checks.js';

describe('host checks kept between agent passes', () => {
  const warning = diagnostic('warning', 'STORAGE_QUOTA_UNAVAILABLE', 'no project quotas here', { container: 'web' });
  const error = diagnostic('error', 'MOUNT_SOURCE_MISSING', 'bind source `/srv/data` does not exist', { container: 'web' });

  test('what the same manifest found stands, warnings included', () => {
    const memo = new HostCheckMemo();
    expect(memo.reusable('web', 'h1')).toBeNull();
    memo.remember('web', 'h1', [warning]);
    expect(memo.reusable('web', 'h1')).toEqual([warning]);
  });

  test('an edited manifest is checked again', () => {
    const memo = new HostCheckMemo();
    memo.remember('web', 'h1', []);
    expect(memo.reusable('web', 'h2')).toBeNull();
  });

  test('a failed check is repeated at every pass, so that a fixed host is seen at once', () => {
    const memo = new HostCheckMemo();
    memo.remember('web', 'h1', [warning, error]);
    expect(memo.reusable('web', 'h1')).toBeNull();
  });

  test('removed manifests are forgotten', () => {
    const memo = new HostCheckMemo();
    memo.remember('web', 'h1', []);
    memo.remember('db', 'h2', []);
    memo.keepOnly(new Set(['db']));
    expect(memo.reusable('web', 'h1')).toBeNull();
    expect(memo.reusable('db', 'h2')).toEqual([]);
  });
});
