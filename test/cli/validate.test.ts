import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { COMMAND_NAMES } from '../../src/cli/main.js';
import { corral, REPO } from '../support/cli.js';

const INVALID = join(REPO, 'test/fixtures/invalid');

describe('corral CLI basics', () => {
  test('--version prints the package version', () => {
    const r = corral(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
  });

  test.each([[], ...COMMAND_NAMES.map((name) => [name])])('`corral %s --help` works', (...names) => {
    const r = corral([...names, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: corral/);
  });

  test('`ps` over a state root never used lists nothing and creates nothing', () => {
    const base = mkdtempSync(join(tmpdir(), 'corral-ps-fresh-'));
    const root = join(base, 'root');
    try {
      expect(corral(['ps'], { env: { CORRAL_ROOT: root } })).toEqual({ code: 0, stdout: 'no containers\n', stderr: '' });
      expect(corral(['ps', '-o', 'json'], { env: { CORRAL_ROOT: root } })).toEqual({ code: 0, stdout: '[]\n', stderr: '' });
      expect(existsSync(root)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('`ps` over a state root in use changes nothing in its state directory', () => {
    const base = mkdtempSync(join(tmpdir(), 'corral-ps-used-'));
    const state = join(base, 'root', 'state');
    // What a writer killed mid-write leaves: a temp file of a dead process (pid_max is below 2^22).
    const stale = '.web.json.tmp-4194305-0a0b0c0d';
    try {
      mkdirSync(state, { recursive: true, mode: 0o700 });
      writeFileSync(join(state, stale), '{');
      for (let i = 0; i < 2; i++) expect(corral(['ps'], { env: { CORRAL_ROOT: join(base, 'root') } })).toEqual({ code: 0, stdout: 'no containers\n', stderr: '' });
      // Neither the temp file removed nor the disk reserve written: the next writer tends both.
      expect(readdirSync(state)).toEqual([stale]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  test('an unknown command or option is a usage error', () => {
    expect(corral(['frobnicate']).code).toBe(1);
    const r = corral(['validate', '--output', 'yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CLI_USAGE');
  });
});

describe('corral validate', () => {
  test('the bundled manifests are valid (exit 0)', () => {
    const r = corral(['validate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^valid: 3 files, 3 valid containers in manifests/m);
  });

  test('what the format allows but corral has not built (a port published on IPv6) is refused with NOT_SUPPORTED, located', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-validate-v6-'));
    writeFileSync(join(dir, 'web.yaml'), 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: web}\nspec:\n  rootfs: {host: {}}\n  command: [/bin/true]\n  network:\n    mode: bridge\n    ports:\n      - {host: 8080, container: 80}\n      - {host: 8081, container: 80, hostIP: "::1"}\n');
    const r = corral(['validate', '--output', 'json', dir]);
    rmSync(dir, { recursive: true });
    expect(r.code).toBe(1);
    const errors = (JSON.parse(r.stdout).diagnostics as Array<{ severity: string; code: string; field: string; source?: { line: number } }>).filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.code, d.field, d.source?.line])).toEqual([["NOT_SUPPORTED", "spec.network.ports[1].hostIP", 11]]);
  });

  test('the kitchen sink (bridge, ports, dns, aliases, a fixed address) validates', () => {
    const r = corral(['validate', '--output', 'json', join(REPO, 'test/fixtures/valid/kitchen-sink.yaml')]);
    expect(JSON.parse(r.stdout).diagnostics.filter((d: { severity: string }) => d.severity === 'error')).toEqual([]);
    expect(r.code).toBe(0);
  });

  test('the manifest directory comes from --dir, then CORRAL_MANIFESTS', () => {
    expect(corral(['validate'], { env: { CORRAL_MANIFESTS: '/nonexistent' } }).code).toBe(1);
    expect(corral(['--dir', 'manifests', 'validate'], { env: { CORRAL_MANIFESTS: '/nonexistent' } }).code).toBe(0);
  });

  test('a missing directory is an error that says so', () => {
    const r = corral(['validate', '--output', 'json'], { env: { CORRAL_MANIFESTS: '/nonexistent/manifests' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).diagnostics[0].code).toBe('MANIFEST_DIR_MISSING');
  });

  const fixtures = readdirSync(INVALID).filter((f) => f.endsWith('.yaml')).sort();

  test('every invalid fixture: exit 1, and text output gives file:line:column, the field and the fix', () => {
    const r = corral(['validate', INVALID]);
    expect(r.code).toBe(1);
    const blocks = r.stdout.split(/\n(?=\S)/);
    for (const name of fixtures) {
      const head = readFileSync(join(INVALID, name)).toString('latin1').split(String.fromCharCode(0)).join('');
      const [, code, line] = /# expect: (\w+) line (\d+)/.exec(head)!;
      const prefix = `${relative(REPO, join(INVALID, name))}:${line}:`;
      const block = blocks.find((b) => b.startsWith(prefix) && b.includes(code!));
      expect({ name, found: Boolean(block) }).toEqual({ name, found: true });
      // The source line with a caret, then what was expected or how to fix it.
      if (!/NOT_UTF8|TOO_MANY_DOCUMENTS|ALIAS_LIMIT|DEPTH_LIMIT/.test(code!)) expect(block).toMatch(/\n\s+\d+ \| .*\n\s+\| +\^/);
      expect(block!.split('\n').length).toBeGreaterThan(1);
    }
  });

  test('every invalid fixture: the JSON report carries code, field, position and advice', () => {
    const r = corral(['validate', INVALID, '--output', 'json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.valid).toBe(false);
    expect(report.formatVersion).toBe(1);
    for (const d of report.diagnostics.filter((x: { severity: string }) => x.severity === 'error')) {
      expect(d).toMatchObject({ code: expect.any(String), summary: expect.any(String), source: { file: expect.any(String), line: expect.any(Number), column: expect.any(Number) } });
    }
    const withField = report.diagnostics.filter((d: { field?: string }) => d.field);
    expect(withField.length).toBeGreaterThan(fixtures.length * 0.7);
  });

  test('files unchanged since `plan` come from the cache it keeps in the state root, read only; edited ones are parsed, a heavy cache left unread', () => {
    const base = mkdtempSync(join(tmpdir(), 'corral-validate-cache-'));
    const root = join(base, 'root');
    const dir = join(base, 'm');
    const cacheFile = join(root, 'cache', 'manifests.json');
    const env = { CORRAL_ROOT: root, CORRAL_MANIFESTS: dir, CORRAL_CGROUP_PARENT: `corral-test-validate-${process.pid}` };
    try {
      mkdirSync(dir);
      // A warning (a privileged container) that must come out the same from the cache.
      const text = 'apiVersion: corral/v1\nkind: Container\nmetadata: {name: web}\nspec:\n  rootfs: {host: {}}\n  command: [/bin/true]\n  security: {privileged: true}\n';
      writeFileSync(join(dir, 'web.yaml'), text);
      const fresh = corral(['validate', '--output', 'json'], { env });
      expect(fresh.code).toBe(0);
      expect(existsSync(root)).toBe(false); // validate writes nothing, not even the state root
      expect(corral(['plan'], { env }).code).toBe(0);
      const kept = readFileSync(cacheFile, 'utf8');
      expect(kept).toContain('web.yaml');
      // The entry is what validate reads: mark its warning, and validate reports the mark.
      const marked = kept.replace(/("summary":")([^"]*privileged)/, '$1(from the cache) $2');
      expect(marked).not.toBe(kept);
      writeFileSync(cacheFile, marked);
      const cached = corral(['validate', '--output', 'json'], { env });
      expect(cached.code).toBe(0);
      const summaries = (r: { stdout: string }): string[] => (JSON.parse(r.stdout).diagnostics as Array<{ summary: string }>).map((d) => d.summary);
      expect(summaries(cached).some((s) => s.startsWith('(from the cache) '))).toBe(true);
      expect(summaries(cached).map((s) => s.replace('(from the cache) ', ''))).toEqual(summaries(fresh));
      expect(readFileSync(cacheFile, 'utf8')).toBe(marked); // validate did not write it
      // A cache far heavier than the files asked about (other directories planned) costs more to
      // read than it saves: left unread, and the file parsed.
      const heavy = JSON.parse(marked) as { entries: unknown[] };
      heavy.entries.unshift(['other', { diagnostics: [], docs: [], padding: 'x'.repeat(300_000) }]);
      writeFileSync(cacheFile, JSON.stringify(heavy));
      const skipped = corral(['validate', '--output', 'json'], { env });
      expect(summaries(skipped)).toEqual(summaries(fresh));
      // An edited file misses the cache: parsed again, and its error reported with its position.
      writeFileSync(join(dir, 'web.yaml'), text.replace('/bin/true', '42: 42'));
      const edited = corral(['validate', '--output', 'json'], { env });
      expect(edited.code).toBe(1);
      expect(summaries(edited).some((s) => s.startsWith('(from the cache)'))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
