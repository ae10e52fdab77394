// Types of bench/lib/result.mjs for the TypeScript benches (bench/*.ts, type-checked by tsconfig.json).

export interface ResultRow {
  tool: string;
  metric: string;
  median: number | null;
  p90: number | null;
  n: number;
  unit?: string;
  [extra: string]: unknown;
}

export interface BenchResult {
  format: number;
  bench: string;
  unit: string;
  rows: ResultRow[];
  params: Record<string, unknown>;
  notes: string[];
}

export declare const RESULT_FORMAT: number;
export declare const RESULT_PREFIX: string;
export declare function stats(xs: readonly number[]): { median: number; p90: number; n: number; min: number; max: number };
export declare function row(tool: string, metric: string, samples: readonly number[] | number, extra?: Record<string, unknown>): ResultRow;
export declare function emitResult(result: { bench: string; unit: string; rows: ResultRow[]; params?: Record<string, unknown>; notes?: string[] }): BenchResult;
