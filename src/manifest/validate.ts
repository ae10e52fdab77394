// validate (schema half): a loaded document against schemas/manifest.schema.json, with ajv.
// The schema holds both kinds (`Container`, `Network`): its `if` on `kind` picks the spec's shape.
//
// ajv's errors speak JSON Pointer and schema keywords; users need file:line:column, the field,
// what was expected and a fix. This file is that translation. Cross-field rules live in checks/.
// Pure: the schema object is handed in by the caller.

import type { ErrorObject, ValidateFunction } from 'ajv';
import { diagnostic, type Diagnostic, type ErrorCode } from '../errors.js';
import { ownerOf, type ReportExtra } from './checks/report.js';
import { fromJsonPointer, formatPath, type FieldPath } from './field-path.js';
import { FORMATS } from './formats.js';
import type { LoadedDocument } from './load.js';
import { kindOf, MANIFEST_KINDS, type AnyManifestV1 } from './manifest-v1.js';
import { allowedProperties, listSchemaFields, schemaOfKind, type SchemaNode } from './schema-fields.js';
import { didYouMean } from './suggest.js';

/** A compiled check: ajv's at run time (schema-compile.ts), or the code it wrote at build time. */
export type SchemaCheck = ValidateFunction<AnyManifestV1>;

export type SchemaResult =
  /** The document conforms: its typed view (the schema is what makes the types of manifest-v1.ts hold). */
  | { readonly manifest: AnyManifestV1; readonly problems: readonly [] }
  | { readonly manifest: null; readonly problems: Diagnostic[] };

export interface SchemaValidator {
  /** Schema diagnostics for one document, or its typed view when it conforms. */
  validate(doc: LoadedDocument): SchemaResult;
  readonly schema: SchemaNode;
}

/** What a pattern-only field expects, keyed by the `$defs` entry that holds the pattern. */
const PATTERN_EXPECTATIONS: Readonly<Record<string, string>> = {
  dnsLabel: 'a DNS label: lower-case letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters',
  labelKey: 'a label key: `[prefix/]name`, the name made of letters, digits, `-`, `_` and `.`, at most 63 characters',
  labelMap: 'a label value: letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit, at most 63 characters',
  envName: 'an environment variable name: a letter or `_`, then letters, digits, `_`, `.` or `-`',
  absPath: 'an absolute path starting with `/`',
  capList: 'a capability name such as `NET_ADMIN`',
  image: 'an image name: lower-case `name` or `name:tag`',
};

const TYPE_ARTICLES: Readonly<Record<string, string>> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean (true or false)',
  object: 'a mapping', array: 'a list', null: 'null',
};

/** The validator around a check compiled from `schema` (schema-compile.ts makes one). */
export function createSchemaValidator(schema: SchemaNode, check: SchemaCheck): SchemaValidator {
  // Which paths hold a field of a given name: only an error needs it (to say where an unknown
  // field belongs), and building it walks the whole schema (~1 ms of every start), so on demand.
  const fieldIndexes = new Map<string, Map<string, string[]>>();
  const fieldIndexOf = (kind: string): Map<string, string[]> => {
    let index = fieldIndexes.get(kind);
    if (!index) fieldIndexes.set(kind, (index = indexFieldsByName(schemaOfKind(schema, kind))));
    return index;
  };

  return {
    schema,
    validate(doc) {
      const value: unknown = doc.value;
      if (check(value)) return { manifest: value, problems: [] };
      let errors = (check.errors ?? []).filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
      // An unknown kind has no shape to check the rest against: its kind is the one error to fix.
      const kind = (value as { kind?: unknown } | null)?.kind;
      const kindErrors = errors.filter((e) => e.instancePath === '/kind' || e.instancePath === '/apiVersion');
      if (kind !== undefined && !(MANIFEST_KINDS as readonly unknown[]).includes(kind) && kindErrors.length > 0) errors = kindErrors;
      const fieldIndex = fieldIndexOf(kindOf(value));
      const out = new Map<string, Diagnostic>();
      const formatPaths = new Set(errors.filter((e) => e.keyword === 'format').map((e) => e.instancePath));
      for (const error of errors) {
        // A string with both a pattern (for editors) and a format (for us) fails twice: keep the format's message.
        if (error.keyword === 'pattern' && formatPaths.has(error.instancePath)) continue;
        // A value whose type is wrong also fails every keyword of the type it should have had.
        if (error.keyword !== 'type' && hasTypeErrorAt(errors, error.instancePath)) continue;
        const d = translate(error, doc, schema, fieldIndex);
        const key = `${d.field}\u0000${d.code}`;
        if (!out.has(key)) out.set(key, d);
      }
      return { manifest: null, problems: [...out.values()].sort((a, b) => (a.source!.line - b.source!.line) || (a.source!.column - b.source!.column)) };
    },
  };
}

function hasTypeErrorAt(errors: ErrorObject[], path: string): boolean {
  return errors.some((e) => e.keyword === 'type' && e.instancePath === path);
}

function indexFieldsByName(schema: SchemaNode): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const field of listSchemaFields(schema)) {
    const list = index.get(field.name) ?? [];
    list.push(field.path);
    index.set(field.name, list);
  }
  return index;
}

function translate(error: ErrorObject, doc: LoadedDocument, schema: SchemaNode, fieldIndex: Map<string, string[]>): Diagnostic {
  const path = fromJsonPointer(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const make = (code: ErrorCode, summary: string, extra: ReportExtra & { at?: FieldPath } = {}): Diagnostic => {
    const at = extra.at ?? path;
    return diagnostic('error', code, summary, {
      field: formatPath(at) || '(document)',
      source: doc.locate(at, extra.key ?? false),
      ...ownerOf(doc),
      ...(extra.detail ? { detail: extra.detail } : {}),
      ...(extra.hint ? { hint: extra.hint } : {}),
    });
  };
  const here = formatPath(path);
  const data = error.data;

  switch (error.keyword) {
    case 'required': {
      const missing = String(params['missingProperty']);
      const full = formatPath([...path, missing]);
      return make('MANIFEST_REQUIRED_FIELD', `missing required field \`${full}\``, {
        at: path, key: path.length > 0,
        detail: describeField(schema, error.parentSchema as SchemaNode, missing),
      });
    }
    case 'additionalProperties': {
      const extra = String(params['additionalProperty']);
      const allowed = allowedProperties(schema, error.parentSchema as SchemaNode);
      let hint = didYouMean(extra, allowed);
      hint ??= misplacedFieldHint(extra, here, fieldIndex.get(extra) ?? []);
      return make('MANIFEST_UNKNOWN_FIELD', `unknown field \`${formatPath([...path, extra])}\``, {
        at: [...path, extra], key: true,
        detail: allowed.length ? `allowed here: ${allowed.join(', ')}` : 'no fields are allowed here',
        hint,
      });
    }
    case 'type': {
      const expected = String(params['type']).split(',').map((t) => TYPE_ARTICLES[t] ?? t).join(' or ');
      const hint = typeof data === 'number' || typeof data === 'boolean'
        ? (String(params['type']).includes('string') ? `quote it: "${String(data)}"` : undefined)
        : data === null ? 'the value is empty; write one or remove the field' : undefined;
      return make('MANIFEST_WRONG_TYPE', `\`${here}\` must be ${expected}, not ${describeValue(data)}`, { hint });
    }
    case 'const': {
      const code: ErrorCode = here === 'apiVersion' || here === 'kind' ? 'MANIFEST_BAD_API_VERSION' : 'MANIFEST_INVALID_VALUE';
      return make(code, `\`${here}\` must be \`${String(params['allowedValue'])}\`, not ${describeValue(data)}`);
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      return make(here === 'kind' ? 'MANIFEST_BAD_API_VERSION' : 'MANIFEST_INVALID_VALUE', `\`${here}\` must be one of ${allowed.map((v) => `\`${v}\``).join(', ')}, not ${describeValue(data)}`, {
        hint: typeof data === 'string' ? didYouMean(data, allowed) : undefined,
      });
    }
    case 'discriminator': {
      const tag = String(params['tag']);
      const values = ((error.parentSchema as SchemaNode).oneOf ?? []).map((b) => b.$ref?.split('/').pop()?.replace(/Mount$/, '')).filter(Boolean) as string[];
      const given = (data as Record<string, unknown> | null)?.[tag];
      return make('MANIFEST_INVALID_VALUE', `\`${formatPath([...path, tag])}\` must be one of ${values.map((v) => `\`${v}\``).join(', ')}, not ${describeValue(given)}`, {
        at: given === undefined ? path : [...path, tag],
        hint: typeof given === 'string' ? didYouMean(given, values) : undefined,
      });
    }
    case 'format': {
      const spec = FORMATS[String(params['format'])];
      const result = spec && typeof data === 'string' ? spec.check(data) : undefined;
      const expected = result && !result.ok ? result.expected : `a valid ${String(params['format'])}`;
      return make('MANIFEST_INVALID_FORMAT', `\`${here}\` is ${describeValue(data)}, expected ${expected}`, {
        hint: result && !result.ok ? result.hint : undefined,
      });
    }
    case 'pattern': {
      const def = error.schemaPath.match(/#\/\$defs\/([A-Za-z]+)\//)?.[1];
      const propertyName = params['propertyName'] as string | undefined;
      const expected = (def && PATTERN_EXPECTATIONS[def]) ?? (here.endsWith('image') ? PATTERN_EXPECTATIONS['image']! : `text matching ${String(params['pattern'])}`);
      const hint = typeof data === 'string' && def === 'dnsLabel' && /[A-Z_]/.test(data) ? `try \`${data.toLowerCase().replace(/_/g, '-')}\`` : undefined;
      if (propertyName !== undefined) return make('MANIFEST_INVALID_FORMAT', `key \`${propertyName}\` in \`${here}\` is not valid, expected ${expected}`, { at: [...path, propertyName], key: true });
      return make('MANIFEST_INVALID_FORMAT', `\`${here}\` is ${describeValue(data)}, expected ${expected}`, { hint });
    }
    case 'propertyNames': {
      const name = String(params['propertyName']);
      return make('MANIFEST_INVALID_FORMAT', `key \`${name}\` in \`${here}\` is not valid`, { at: [...path, name], key: true });
    }
    case 'minProperties':
    case 'maxProperties': {
      if (here.endsWith('rootfs')) {
        const keys = Object.keys((data as object) ?? {});
        return make('MANIFEST_INVALID_VALUE', `\`${here}\` must set exactly one of \`image\`, \`path\` or \`host\`${keys.length ? `, not ${keys.map((k) => `\`${k}\``).join(' and ')}` : ''}`, {
          hint: 'for the host system, write `rootfs: {host: {}}`',
        });
      }
      if (here.match(/limits\[\d+\]$/)) return make('MANIFEST_INVALID_VALUE', `\`${here}\` names a device but no limit`, { hint: 'add readBps, writeBps, readIops or writeIops' });
      return make('MANIFEST_INVALID_VALUE', `\`${here}\` ${error.message ?? 'has the wrong number of entries'}`);
    }
    case 'uniqueItems':
      return make('MANIFEST_DUPLICATE_ENTRY', `\`${here}\` lists the same value twice (items ${String(params['j'])} and ${String(params['i'])})`, {
        at: [...path, Number(params['i'])], hint: 'remove the repeated item',
      });
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
      return make('MANIFEST_INVALID_VALUE', `\`${here}\` ${error.message ?? 'is out of range'}${typeof data === 'number' ? `, got ${data}` : ''}`);
    default:
      return make('MANIFEST_INVALID_VALUE', `\`${here || '(document)'}\` ${error.message ?? 'is not valid'}`);
  }
}

/** Homes named in one hint; a name found in more places is counted instead. */
const HOMES_LISTED = 8;

/**
 * Where a field unknown at `here` does exist, from the schema paths of every field of that name
 * (`spec.mounts[].mode`). One home: named. A few: all listed, since picking one would send the user
 * to the wrong place (`mode` is both `spec.network.mode` and each mount's). Many: counted.
 */
export function misplacedFieldHint(field: string, here: string, paths: readonly string[]): string | undefined {
  const at = here.replace(/\[\d+\]/g, '[]');
  const homes = [...new Set(paths.map((p) => p.slice(0, Math.max(0, p.lastIndexOf('.')))))].filter((h) => h !== at);
  if (homes.length === 0) return undefined;
  const named = (h: string): string => (h === '' ? 'the top level' : `\`${h}\``);
  // Mappings first: a field written one level off is likelier than one lifted out of a list.
  const mappings = homes.filter((h) => !h.endsWith('[]')).map(named);
  const lists = homes.filter((h) => h.endsWith('[]')).map((h) => named(h.slice(0, -2)));
  if (homes.length === 1) {
    return mappings.length ? `\`${field}\` belongs ${homes[0] === '' ? 'at' : 'under'} ${mappings[0]!}` : `\`${field}\` belongs in each entry of ${lists[0]!}`;
  }
  if (homes.length > HOMES_LISTED) return `\`${field}\` is a field in ${homes.length} places, such as ${[...mappings, ...lists].slice(0, 2).join(' and ')}: see the manifest reference`;
  const where = [mappings.length ? andList(mappings) : '', lists.length ? `the entries of ${andList(lists)}` : ''].filter(Boolean).join(' and of ');
  return `\`${field}\` is a field of ${where}: move it under the one you meant`;
}

function andList(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]!}`;
}

function describeField(schema: SchemaNode, parent: SchemaNode, name: string): string | undefined {
  const props = (parent.properties ?? {}) as Record<string, SchemaNode>;
  const child = props[name];
  if (!child) return undefined;
  const description = child.description ?? (child.$ref ? schema.$defs?.[child.$ref.split('/').pop()!]?.description : undefined);
  return description;
}

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return value.length > 60 ? `\`${value.slice(0, 57)}...\`` : `\`${value}\``;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `\`${value}\``;
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

