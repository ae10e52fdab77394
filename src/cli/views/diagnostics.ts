// Renders diagnostics for humans: `file:line:col: error CODE summary`, the source line with a
// caret, then what was expected and the fix. Paths are shown relative to the working directory.

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Diagnostic } from '../../errors.js';
import type { Styler } from '../style.js';

export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') ? rel : file;
}

export function renderDiagnostic(d: Diagnostic, style: Styler, lines: (file: string) => string[] | undefined = sourceLines): string {
  const where = d.source ? `${displayPath(d.source.file)}:${d.source.line}:${d.source.column}: ` : '';
  const label = d.severity === 'error' ? style('red', 'error') : style('yellow', 'warning');
  const out = [`${style('bold', where)}${label} ${style('dim', d.code)} ${d.summary}`];
  const text = d.source ? lines(d.source.file)?.[d.source.line - 1] : undefined;
  if (d.source && text !== undefined && text.length < 300) {
    const gutter = String(d.source.line).padStart(5);
    out.push(style('dim', `${gutter} | `) + text);
    out.push(style('dim', `${' '.repeat(5)} | `) + ' '.repeat(Math.max(0, d.source.column - 1)) + style(d.severity === 'error' ? 'red' : 'yellow', '^'));
  }
  if (d.field && !d.summary.includes(d.field)) out.push(`      field: ${d.field}`);
  if (d.detail) out.push(`      ${d.detail}`);
  if (d.hint) out.push(`      ${style('cyan', 'hint:')} ${d.hint}`);
  return out.join('\n');
}

const cache = new Map<string, string[] | undefined>();

function sourceLines(file: string): string[] | undefined {
  if (!cache.has(file)) {
    try {
      const text = readFileSync(file);
      cache.set(file, text.length <= 1024 * 1024 ? text.toString('utf8').split('\n') : undefined);
    } catch {
      cache.set(file, undefined);
    }
  }
  return cache.get(file);
}

export function countBySeverity(diagnostics: readonly Diagnostic[]): { errors: number; warnings: number } {
  return {
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
  };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
