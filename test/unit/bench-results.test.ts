// The bench result protocol (bench/lib/result.mjs), its chart (bench/lib/chart.mjs) and the
// runner's comparison (bench/run.mjs --compare): the parts of `npm run bench` that hold no timing.
// Nothing here measures or asserts a time.

import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderChart } from '../../bench/lib/chart.mjs';
import { emitResult, RESULT_PREFIX, row, stats } from '../../bench/lib/result.mjs';

const dir = mkdtempSync(join(tmpdir(), 'corral-bench-results-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench results', () => {
  test('stats: nearest-rank median and p90, non-numbers left out', () => {
    expect(stats([10, 1, 9, 2, 8, 3, 7, 4, 6, 5])).toEqual({ median: 5, p90: 9, n: 10, min: 1, max: 10 });
    expect(stats([3, NaN, 1, 2])).toMatchObject({ median: 2, n: 3 });
    expect(stats([]).median).toBeNaN();
  });

  test('row: samples give median, p90 and n; one figure gives n 1; extras are kept', () => {
    expect(row('corral', 'start', [4, 1, 3, 2])).toEqual({ tool: 'corral', metric: 'start', median: 2, p90: 4, n: 4 });
    expect(row('crun', 'memory', 123.45678, { unit: 'kB' })).toEqual({ tool: 'crun', metric: 'memory', median: 123.457, p90: 123.457, n: 1, unit: 'kB' });
  });

  test('emitResult writes BENCH_RESULT_FILE when set, else one prefixed stdout line', () => {
    const file = join(dir, 'r.json');
    const old = process.env['BENCH_RESULT_FILE'];
    try {
      process.env['BENCH_RESULT_FILE'] = file;
      emitResult({ bench: 'x', unit: 'ms', rows: [row('corral', 'm', 1)] });
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ format: 1, bench: 'x', unit: 'ms', rows: [{ tool: 'corral', median: 1 }], params: {} });
      delete process.env['BENCH_RESULT_FILE'];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        emitResult({ bench: 'y', unit: 'ms', rows: [] });
        const line = String(write.mock.calls[0]?.[0]);
        expect(line.startsWith(RESULT_PREFIX)).toBe(true);
        expect(JSON.parse(line.slice(RESULT_PREFIX.length))).toMatchObject({ bench: 'y' });
      } finally {
        write.mockRestore();
      }
    } finally {
      if (old === undefined) delete process.env['BENCH_RESULT_FILE'];
      else process.env['BENCH_RESULT_FILE'] = old;
    }
  });

  test('the chart: a bar per row, a whisker only for sampled rows, names escaped, negative figures drawn', () => {
    const svg = renderChart({
      bench: 'density', unit: 'ms',
      rows: [row('corral', 'converge', [1, 2, 3, 10]), row('crun <peer>', 'converge', 2), row('corral', 'memory', -40, { unit: 'kB' })],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('crun &lt;peer&gt;');
    expect(svg).not.toContain('crun <peer>');
    expect(svg).toContain('memory (kB)');
    // The background plus one bar per row; one whisker (two lines) for the one sampled row.
    expect(svg.match(/<rect /g)).toHaveLength(4);
    expect(svg.match(/<line /g)).toHaveLength(2);
    expect(svg).not.toMatch(/NaN|undefined/);
  });

  test('--compare puts two result files side by side, metric by metric', () => {
    const file = (name: string, median: number): string => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({
        format: 1, run: name, bench: 'start', quick: false,
        machine: { kernel: '6.1', cores: 2, cgroups: { kind: 'v2' }, git: { commit: 'abc', dirty: false }, loadAtStart: [0.1, 0.2, 0.3] },
        result: { bench: 'start', unit: 'ms', rows: [{ tool: 'corral', metric: 'start to running', median, p90: median, n: 1 }] },
      }));
      return path;
    };
    const r = spawnSync(process.execPath, ['bench/run.mjs', '--compare', file('a.json', 10), file('b.json', 15)], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/corral\s+start to running \(ms\)\s+10\.0\s+15\.0\s+\+50 %/);
  });
});
