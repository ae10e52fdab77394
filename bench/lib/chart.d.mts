// Types of bench/lib/chart.mjs for TypeScript callers (the tests).

import type { BenchResult } from './result.mjs';

export declare function renderChart(result: Pick<BenchResult, 'bench' | 'rows'> & { unit?: string }, subtitle?: string): string;
