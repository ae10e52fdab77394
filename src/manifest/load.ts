// load: bytes of one manifest file → YAML documents with positions, plus every problem found.
//
// It never stops at the first problem and never throws for bad input: a user fixing a manifest
// wants all of them in one run. Limits (size, documents, aliases, depth) are enforced here so that
// no later stage sees a hostile document. Pure: the bytes come from a ManifestSource.

import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document, Node as YamlNode, YAMLError } from 'yaml';
import { diagnostic, type Diagnostic, type SourceLocation } from '../errors.js';
import { formatPath, type FieldPath } from './field-path.js';

export interface LoadLimits {
  /** Largest file accepted, in bytes. */
  readonly maxFileBytes: number;
  /** Most YAML documents in one file. */
  readonly maxDocuments: number;
  /** Most alias nodes (`*name`) in one document; expansion is bounded separately. */
  readonly maxAliases: number;
  /** Deepest nesting of mappings and sequences. */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: LoadLimits = {
  maxFileBytes: 1024 * 1024,
  maxDocuments: 100,
  maxAliases: 100,
  maxDepth: 32,
};

/** One YAML document of a file, parsed, with a way back from a field path to its position. */
export interface LoadedDocument {
  readonly file: string;
  /** Position of the document in its file, from 0. */
  readonly index: number;
  /** The document as plain JSON data (a mapping; anything else is reported, not returned). */
  readonly value: Record<string, unknown>;
  /** Where a field is written; with `key`, where its key is (for unknown-field errors). */
  locate(path: FieldPath, key?: boolean): SourceLocation;
  /** `metadata.name` when it is a string, for error messages and ownership before validation. */
  readonly name: string | undefined;
}

export interface LoadResult {
  readonly docs: LoadedDocument[];
  readonly diagnostics: Diagnostic[];
}

// Tags that only restate what YAML 1.2 would infer. Anything else (`!!binary`, `!!set`, custom
// `!tags`) builds values the schema does not describe, so it is refused.
const ALLOWED_TAGS = new Set(['tag:yaml.org,2002:str', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float',
  'tag:yaml.org,2002:bool', 'tag:yaml.org,2002:null', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq']);

// Alias expansion guard handed to yaml's toJS (it counts nodes produced through aliases).
const MAX_ALIAS_EXPANSION = 1000;

export function loadManifestText(file: string, bytes: Uint8Array, limits: LoadLimits = DEFAULT_LIMITS): LoadResult {
  const at = (line = 1, column = 1): SourceLocation => ({ file, line, column });
  if (bytes.length > limits.maxFileBytes) {
    return fail(diagnostic('error', 'MANIFEST_TOO_LARGE', `file is ${bytes.length} bytes, over the limit of ${limits.maxFileBytes}`, {
      source: at(), hint: 'split it into several files (the limit is 1 MiB per file)',
    }));
  }
  const text = decodeUtf8(bytes);
  if (typeof text !== 'string') {
    return fail(diagnostic('error', 'MANIFEST_NOT_UTF8', text.summary, { source: at(text.line, text.column), hint: 'save the file as UTF-8' }));
  }

  const lineCounter = new LineCounter();
  const position = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return at(line, col);
  };
  let parsed: Document.Parsed[];
  try {
    parsed = parseYaml(text, lineCounter);
  } catch (err) {
    // The parser is iterative, but a pathological input may still exhaust the stack.
    return fail(diagnostic('error', 'MANIFEST_DEPTH_LIMIT', `the YAML parser gave up: ${String((err as Error)?.message ?? err)}`, { source: at() }));
  }

  const diagnostics: Diagnostic[] = [];
  const docs: LoadedDocument[] = [];
  const nonEmpty = parsed.filter((d) => !isEmptyDocument(d));
  if (nonEmpty.length > limits.maxDocuments) {
    const extra = nonEmpty[limits.maxDocuments]!;
    return fail(diagnostic('error', 'MANIFEST_TOO_MANY_DOCUMENTS', `file holds ${nonEmpty.length} documents, over the limit of ${limits.maxDocuments}`, {
      source: position(extra.range[0]), hint: 'split it into several files',
    }));
  }

  parsed.forEach((doc, index) => {
    if (isEmptyDocument(doc) && doc.errors.length === 0) return;
    const problems = [
      ...doc.errors.map((e) => yamlProblem(e, text, position)),
      ...doc.warnings.map((e) => yamlProblem(e, text, position, 'MANIFEST_YAML_FEATURE')),
    ];
    if (problems.length === 0) problems.push(...structureProblems(doc, limits, position));
    if (problems.length > 0) {
      diagnostics.push(...problems);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
    } catch (err) {
      const message = String((err as Error)?.message ?? err);
      diagnostics.push(/unresolved alias/i.test(message)
        ? diagnostic('error', 'MANIFEST_YAML_SYNTAX', lowerFirst(message), { source: position(doc.range[0]), hint: 'define the anchor (`&name`) before using the alias (`*name`)' })
        : diagnostic('error', 'MANIFEST_ALIAS_LIMIT', `aliases expand to more than ${MAX_ALIAS_EXPANSION} nodes (alias bomb guard)`, {
          source: position(doc.range[0]), hint: 'write the repeated parts out, or use fewer nested aliases',
        }));
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      diagnostics.push(diagnostic('error', 'MANIFEST_NOT_A_MAPPING', `document ${index + 1} is ${Array.isArray(value) ? 'a sequence' : 'a scalar'}, not a mapping`, {
        source: position(doc.contents?.range?.[0] ?? doc.range[0]),
        detail: 'expected a mapping with apiVersion, kind, metadata and spec',
      }));
      return;
    }
    const record = value as Record<string, unknown>;
    const metadata = record['metadata'];
    const name = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['name'] : undefined;
    docs.push({
      file,
      index,
      value: record,
      name: typeof name === 'string' ? name : undefined,
      locate: documentLocator(file, text, index),
    });
  });
  return { docs, diagnostics };
}

function parseYaml(text: string, lineCounter: LineCounter): Document.Parsed[] {
  return parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true, version: '1.2' }) as Document.Parsed[];
}

/**
 * Where a field of document INDEX of TEXT is written. The YAML tree is not kept once the value is
 * read: a loaded document lives as long as its file is unchanged (the agent's manifest cache), and
 * 500 such trees held 4.1 MiB of an idle agent's 28.2 MiB heap. A diagnostic that needs a position re-parses
 * the text, once; the text gives the same tree again.
 */
function documentLocator(file: string, text: string, index: number): LoadedDocument['locate'] {
  let parsed: { doc: Document.Parsed; lines: LineCounter } | null = null;
  return (path, key = false) => {
    if (parsed === null) {
      const lines = new LineCounter();
      parsed = { doc: parseYaml(text, lines)[index]!, lines };
    }
    const { line, col } = parsed.lines.linePos(locateOffset(parsed.doc, path, key));
    return { file, line, column: col };
  };
}

function fail(d: Diagnostic): LoadResult {
  return { docs: [], diagnostics: [d] };
}

type Decoded = string | { summary: string; line: number; column: number };

/** Strict UTF-8: a BOM is dropped, UTF-16 and invalid sequences are refused with their position. */
function decodeUtf8(bytes: Uint8Array): Decoded {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { summary: 'file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8', line: 1, column: 1 };
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    const nul = text.indexOf('\u0000');
    if (nul >= 0) return { summary: 'file contains a NUL byte; it looks binary, not YAML text', ...lineCol(text, nul) };
    return text;
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const prefix = new TextDecoder('utf-8').decode(bytes.subarray(0, offset));
    return { summary: `byte 0x${bytes[offset]!.toString(16).padStart(2, '0')} at offset ${offset} is not valid UTF-8`, ...lineCol(prefix, prefix.length) };
  }
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return 0;
}

function isEmptyDocument(doc: Document.Parsed): boolean {
  const c = doc.contents;
  return c === null || (isScalar(c) && c.value === null && !c.tag && !c.anchor && c.range[0] === c.range[1]);
}

function yamlProblem(e: YAMLError, text: string, position: (offset: number) => SourceLocation, code?: Diagnostic['code']): Diagnostic {
  const message = lowerFirst(e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  // For an unclosed bracket or quote the parser notices at the end; the user needs the opening.
  const unclosed = /end with a [\]}]|missing closing|unexpected end of/i.test(message) ? findUnclosedOpener(text, e.pos[0]) : undefined;
  const offset = unclosed ?? e.pos[0];
  // yaml turns a stack overflow on absurd nesting into a plain error; it is our depth limit.
  const tooDeep = /maximum call stack/i.test(message);
  const resolved = code ?? (e.code === 'DUPLICATE_KEY' ? 'MANIFEST_DUPLICATE_KEY' : tooDeep ? 'MANIFEST_DEPTH_LIMIT' : 'MANIFEST_YAML_SYNTAX');
  const hint = tooDeep ? 'manifests need far less nesting; flatten this structure'
    : /tab/i.test(message) ? 'indent with spaces; YAML does not allow tabs for indentation'
    : resolved === 'MANIFEST_DUPLICATE_KEY' ? 'remove one of the two entries'
    : unclosed !== undefined ? 'close the bracket or quote that opens here'
    : /implicit keys|nested mappings|indent/i.test(message) ? 'check the indentation of this line and the next: keys of one mapping line up exactly'
    : /tag/i.test(message) ? 'remove the tag; manifests hold plain strings, numbers, booleans, lists and mappings'
    : undefined;
  return diagnostic('error', resolved, tooDeep ? 'nesting is too deep for the YAML parser' : message, { source: position(offset), ...(hint ? { hint } : {}) });
}

/**
 * The offset of the innermost `[`, `{` or quote still open at `end`, ignoring comments and quoted
 * text. Good enough for pointing at the cause of "unclosed" errors; it does not parse YAML.
 */
export function findUnclosedOpener(text: string, end: number): number | undefined {
  const stack: number[] = [];
  let quote: { char: string; at: number } | undefined;
  for (let i = 0; i < Math.min(end, text.length); i++) {
    const c = text[i]!;
    if (quote) {
      if (quote.char === "'" && c === "'" && text[i + 1] === "'") i++;
      else if (quote.char === '"' && c === '\\') i++;
      else if (c === quote.char) quote = undefined;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < end && text[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]!))) {
      quote = { char: c, at: i };
    } else if (c === '[' || c === '{') {
      stack.push(i);
    } else if (c === ']' || c === '}') {
      stack.pop();
    }
  }
  return quote?.at ?? stack[stack.length - 1];
}

function lowerFirst(s: string): string {
  return s.length > 1 && /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}

/** Depth, alias count, tags and key types: checked on the node tree before anything is built from it. */
function structureProblems(doc: Document.Parsed, limits: LoadLimits, position: (offset: number) => SourceLocation): Diagnostic[] {
  const problems: Diagnostic[] = [];
  let aliases = 0;
  // An explicit stack rather than recursion: the nesting is what is being limited.
  const stack: Array<{ node: unknown; depth: number; path: FieldPath }> = [{ node: doc.contents, depth: 0, path: [] }];
  while (stack.length > 0 && problems.length < 20) {
    const { node, depth, path } = stack.pop()!;
    if (isAlias(node)) {
      if (node.resolve(doc) === undefined) {
        problems.push(diagnostic('error', 'MANIFEST_YAML_SYNTAX', `alias \`*${node.source}\` has no anchor before it`, {
          source: position(node.range?.[0] ?? 0), field: formatPath(path), hint: `define \`&${node.source}\` before using \`*${node.source}\``,
        }));
      }
      aliases++;
      if (aliases === limits.maxAliases + 1) {
        problems.push(diagnostic('error', 'MANIFEST_ALIAS_LIMIT', `document uses more than ${limits.maxAliases} aliases`, {
          source: position(node.range?.[0] ?? 0), field: formatPath(path), hint: 'write the repeated parts out',
        }));
      }
      continue;
    }
    if (!isScalar(node) && !isCollection(node)) continue;
    const tag = (node as YamlNode).tag;
    if (tag && !ALLOWED_TAGS.has(tag)) {
      problems.push(diagnostic('error', 'MANIFEST_YAML_FEATURE', `tag \`${tag}\` is not supported`, {
        source: position((node as YamlNode).range?.[0] ?? 0), field: formatPath(path), hint: 'remove the tag; manifests hold plain strings, numbers, booleans, lists and mappings',
      }));
    }
    if (!isCollection(node)) continue;
    if (depth >= limits.maxDepth) {
      problems.push(diagnostic('error', 'MANIFEST_DEPTH_LIMIT', `nesting is deeper than ${limits.maxDepth} levels`, {
        source: position(startOf(node)), field: formatPath(path), hint: 'manifests need far less nesting; flatten this structure',
      }));
      continue;
    }
    // Children are pushed last-first so the walk, and the first problem reported, follow the text.
    if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], depth: depth + 1, path: [...path, i] });
      continue;
    }
    for (const pair of [...(node as { items: unknown[] }).items].reverse()) {
      if (!isPair(pair)) continue;
      const key = pair.key;
      if (isScalar(key) && (typeof key.value === 'string' || typeof key.value === 'number' || typeof key.value === 'boolean')) {
        stack.push({ node: pair.value, depth: depth + 1, path: [...path, String(key.value)] });
        continue;
      }
      // A merge key (`<<: *defaults`) is a Symbol-valued scalar in yaml's node tree.
      if (isScalar(key) && typeof key.value === 'symbol' && key.source === '<<') {
        stack.push({ node: pair.value, depth: depth + 1, path });
        continue;
      }
      problems.push(diagnostic('error', 'MANIFEST_YAML_FEATURE', 'mapping keys must be plain strings', {
        source: position((key as YamlNode | null)?.range?.[0] ?? node.range?.[0] ?? 0), field: formatPath(path),
        hint: 'complex keys (`? [a, b]`), alias keys and null keys are not part of the manifest format',
      }));
    }
  }
  return problems;
}

/** Where a node's text begins; a block mapping's own range may start after its first key. */
function startOf(node: unknown): number {
  if (isMap(node) && node.items.length > 0) {
    const first = node.items[0]!.key as YamlNode | null;
    if (first?.range) return first.range[0];
  }
  return (node as YamlNode | null)?.range?.[0] ?? 0;
}

/** Offset of the node at `path` (or of its key), else of the deepest ancestor that exists. */
function locateOffset(doc: Document.Parsed, path: FieldPath, key: boolean): number {
  let node: unknown = doc.contents;
  let offset = (node as YamlNode | null)?.range?.[0] ?? doc.range[0];
  for (let i = 0; i < path.length; i++) {
    const segment = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return offset;
      const keyOffset = (pair.key as YamlNode).range?.[0] ?? offset;
      if (last && key) return keyOffset;
      node = pair.value;
      offset = (node as YamlNode | null)?.range?.[0] ?? keyOffset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (node === undefined) return offset;
      offset = (node as YamlNode | null)?.range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}
