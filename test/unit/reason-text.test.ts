// A plan reason's `text` is for people: only views read it. Everything that decides something
// from a reason (events, metrics, summaries, exit codes) reads its `code`. This scans src/ with the
// TypeScript checker and fails naming every other place that reads the `text` of a Reason,
// whether as `r.text`, `r['text']` or `{ text } = r`.

import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');
const REASONS = join(SRC, 'reconciler/plan/reasons.ts');

/** Where the words may be read: they print and decide nothing. A path ending in `/` is a directory. */
const MAY_READ = ['src/cli/views/', 'src/agent/event-text.ts'];

/** Written into the program (never to disk) to prove the scan finds each way of reading. */
const PROBE = join(SRC, '__reason_text_probe__.ts');
const PROBE_TEXT = `import type { Reason } from './reconciler/plan/reasons.js';
export const byMember = (r: Reason) => r.text.startsWith('exited');
export const byIndex = (r: Reason) => r['text'];
export const byPattern = ({ text }: Reason) => text;
export const inCallback = (rs: readonly Reason[]) => rs.some((x) => /^was OOM/.test(x.text));
export const byCode = (r: Reason, other: { text: string }) => r.code === 'exited' && other.text;
`;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

function compilerOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(file, ts.sys.readFile);
  return { ...ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, file).options, noEmit: true };
}

/** Whether `decl` is the `text` member of `interface Reason` in reasons.ts. */
function isReasonText(decl: ts.Declaration): boolean {
  return ts.isPropertySignature(decl) && ts.isInterfaceDeclaration(decl.parent) && decl.parent.name.text === 'Reason'
    && decl.getSourceFile().fileName === REASONS;
}

function hasReasonText(type: ts.Type): boolean {
  const types = type.isUnion() ? type.types : [type];
  return types.some((t) => t.getProperty('text')?.declarations?.some(isReasonText) ?? false);
}

interface Reader {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

/** Every place in `files` that reads the `text` of a Reason. */
function readersOfReasonText(files: readonly string[], virtual: Readonly<Record<string, string>>): Reader[] {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name in virtual ? ts.createSourceFile(name, virtual[name]!, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name in virtual || fileExists(name);
  host.readFile = (name) => virtual[name] ?? readFile(name);
  const program = ts.createProgram([...files, ...Object.keys(virtual)], options, host);
  const checker = program.getTypeChecker();
  const out: Reader[] = [];
  const report = (node: ts.Node) => {
    const source = node.getSourceFile();
    const { line } = source.getLineAndCharacterOfPosition(node.getStart());
    out.push({ file: relative(ROOT, source.fileName), line: line + 1, code: node.getText().slice(0, 80) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && node.name.text === 'text') {
      const symbol = checker.getSymbolAtLocation(node.name);
      if (symbol?.declarations?.some(isReasonText) || hasReasonText(checker.getTypeAtLocation(node.expression))) report(node);
    } else if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression) && node.argumentExpression.text === 'text') {
      if (hasReasonText(checker.getTypeAtLocation(node.expression))) report(node);
    } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
      const key = node.propertyName ?? node.name;
      if ((ts.isIdentifier(key) || ts.isStringLiteralLike(key)) && key.text === 'text' && hasReasonText(checker.getTypeAtLocation(node.parent))) report(node);
    }
    ts.forEachChild(node, visit);
  };
  for (const name of [...files, ...Object.keys(virtual)]) visit(program.getSourceFile(name)!);
  return out;
}

const mayRead = (file: string) => MAY_READ.some((allowed) => (allowed.endsWith('/') ? file.startsWith(allowed) : file === allowed));

let readers: Reader[];
beforeAll(() => {
  readers = readersOfReasonText(sourceFiles(SRC), { [PROBE]: PROBE_TEXT });
}, 60_000);

describe('the text of a plan reason', () => {
  test('the scan finds every way of reading it, and nothing else', () => {
    const probe = relative(ROOT, PROBE);
    expect(readers.filter((r) => r.file === probe).map((r) => r.line)).toEqual([2, 3, 4, 5]);
  });

  test('is read by the views (the scan sees real code)', () => {
    const files = new Set(readers.map((r) => r.file));
    expect(files).toContain('src/cli/views/plan-human.ts');
    expect(files).toContain('src/agent/event-text.ts');
  });

  test('is read nowhere outside the views: decisions switch on `code`', () => {
    const probe = relative(ROOT, PROBE);
    const offenders = readers.filter((r) => r.file !== probe && !mayRead(r.file)).map((r) => `${r.file}:${r.line}: ${r.code}`);
    expect(offenders).toEqual([]);
  });
});
