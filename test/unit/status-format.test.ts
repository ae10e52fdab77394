// `corral status --output json` is a stable format (docs/status-format.md): its output matches
// schemas/status-format-1.schema.json, which allows no field it does not name, and the page
// describes every field the schema names. A field added to the output fails here until it is in
// both; one renamed or removed needs a new format number.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import Ajv2020Module from 'ajv/dist/2020.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { AgentStatus } from '../../src/agent/status-file.js';
import { statusReport } from '../../src/cli/views/status-json.js';
import { corral, REPO } from '../support/cli.js';

const Ajv2020 = Ajv2020Module.default;

const schema = JSON.parse(readFileSync(join(REPO, 'schemas/status-format-1.schema.json'), 'utf8')) as Record<string, unknown>;
const ajv = new Ajv2020({ allErrors: true, strict: false, formats: { 'date-time': fullFormats['date-time'] } });
const validate = ajv.compile(schema);
const valid = (value: unknown): string => (validate(value) ? '' : ajv.errorsText(validate.errors));

const base = mkdtempSync(join(tmpdir(), 'corral-status-format-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const agent: AgentStatus = {
  pid: 4242, pidStartTime: null, version: '0.1.0', startedAt: '2026-12-03T09:00:00.000Z', manifestDir: '/etc/corral/manifests', reconciles: 7,
  lastReconcile: { at: '2026-12-03T10:00:00.000Z', durationMs: 12, result: 'error', changed: false, summary: 'no changes', reasons: [], failing: ['db'] },
  pendingErrors: [{ severity: 'error', code: 'MANIFEST_INVALID_FORMAT', summary: 'bad', field: 'spec.resources.memory', container: 'web', source: { file: '/m/web.yaml', line: 3, column: 5 } }],
  host: { name: 'web-1', labels: { role: 'web' } },
  repository: { commit: 'a'.repeat(40), ref: 'refs/heads/main', dirty: false, workTree: '/etc/corral/manifests', path: '.' },
  containers: { running: 1 },
};

/** Every field path the schema names, as the page writes them (`containers.items[].name`). */
function schemaPaths(node: Record<string, unknown>, prefix: string, defs: Record<string, Record<string, unknown>>): string[] {
  const ref = node['$ref'];
  if (typeof ref === 'string') return schemaPaths(defs[ref.replace('#/$defs/', '')]!, prefix, defs);
  const out: string[] = [];
  for (const alt of (node['oneOf'] as Array<Record<string, unknown>> | undefined) ?? []) out.push(...schemaPaths(alt, prefix, defs));
  if (node['items'] && typeof node['items'] === 'object') out.push(...schemaPaths(node['items'] as Record<string, unknown>, `${prefix}[]`, defs));
  for (const [name, sub] of Object.entries((node['properties'] as Record<string, Record<string, unknown>> | undefined) ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.push(path, ...schemaPaths(sub, path, defs));
  }
  return out;
}

describe('corral status --output json, format 1', () => {
  test('reports with and without an agent, a repository, errors and containers match the schema', () => {
    const host = { hostname: 'fallback', labels: {} };
    const now = new Date('2026-12-03T10:01:00.000Z');
    const full = statusReport({
      now, found: { status: agent, alive: true }, state: 'degraded', host,
      containers: [{ name: 'web', status: 'running', restarts: 0, health: 'healthy' }, { name: 'bad', status: 'unknown', restarts: null, health: null }],
      repository: agent.repository!,
    });
    expect(valid(full)).toBe('');
    expect(full).toMatchObject({
      format: 1, host: { name: 'web-1' }, agent: { uptimeSeconds: 3660 }, lastReconcile: { commit: 'a'.repeat(40), failing: ['db'] },
      containers: { total: 2, byStatus: { running: 1, unknown: 1, exited: 0 } },
    });
    // The status file of an older agent: no host, repository or failing.
    const { host: _h, repository: _r, containers: _c, ...older } = agent;
    const { failing: _f, ...olderLast } = agent.lastReconcile!;
    const old = statusReport({ now, found: { status: { ...older, lastReconcile: olderLast }, alive: false }, state: 'not-running', host, containers: [], repository: null });
    expect(valid(old)).toBe('');
    expect(old).toMatchObject({ host: { name: 'fallback' }, agent: { uptimeSeconds: null }, lastReconcile: { commit: null, failing: [] } });
    expect(valid(statusReport({ now, found: null, state: 'not-running', host, containers: [], repository: null }))).toBe('');
    // The schema refuses what it does not name.
    expect(valid({ ...full, extra: 1 })).not.toBe('');
  });

  test('the command\'s output, with an agent status file written by hand, matches the schema', () => {
    const root = join(base, 'root');
    mkdirSync(root, { recursive: true });
    // Our own pid, with no start time recorded: an agent that runs, as far as status can tell.
    writeFileSync(join(root, 'agent.json'), JSON.stringify({ ...agent, pid: process.pid, manifestDir: base }));
    const r = corral(['--host-name', 'cli-host', 'status', '-o', 'json'], { env: { CORRAL_ROOT: root, CORRAL_MANIFESTS: base } });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { host: { name: string }; running: boolean; repository: unknown };
    expect(valid(report)).toBe('');
    // The agent's view of the host wins over the command line's.
    expect(report).toMatchObject({ host: { name: 'web-1' }, running: true, repository: null });
  });

  test('docs/status-format.md describes every field of the schema', () => {
    const page = readFileSync(join(REPO, 'docs/status-format.md'), 'utf8');
    const documented = new Set([...page.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
    const paths = [...new Set(schemaPaths(schema, '', schema['$defs'] as Record<string, Record<string, unknown>>))];
    expect(paths.filter((p) => !documented.has(p))).toEqual([]);
    expect([...documented].filter((p) => !paths.includes(p))).toEqual([]);
  });
});
