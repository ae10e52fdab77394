// Reading a driver handle back from a state record: the record is JSON written by some corral
// version, so each driver validates its handle field by field here instead of casting it. A
// handle that does not have the expected shape is a damaged record (STATE_CORRUPT), reported
// with the field that is wrong.

import { CorralError } from '../errors.js';
import type { Json } from './record.js';

export type JsonObject = { readonly [key: string]: Json };

export class HandleReader {
  constructor(private readonly what: string) {}

  private bad(field: string, expected: string): never {
    throw new CorralError('STATE_CORRUPT', `${this.what}: field \`${field}\` is not ${expected}`, {
      hint: 'see `corral state check`',
    });
  }

  object(value: Json | undefined, field = '(handle)'): JsonObject {
    if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) return this.bad(field, 'an object');
    return value;
  }

  string(o: JsonObject, field: string): string {
    const v = o[field];
    return typeof v === 'string' ? v : this.bad(field, 'a string');
  }

  stringOrNull(o: JsonObject, field: string): string | null {
    const v = o[field];
    if (v === null || v === undefined) return null;
    return typeof v === 'string' ? v : this.bad(field, 'a string or null');
  }

  number(o: JsonObject, field: string): number {
    const v = o[field];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.bad(field, 'a number');
  }

  oneOf<T extends string>(o: JsonObject, field: string, allowed: readonly T[]): T {
    const v = o[field];
    const found = allowed.find((a) => a === v);
    return found ?? this.bad(field, `one of ${allowed.join(', ')}`);
  }

  numbers(o: JsonObject, field: string): number[] {
    const v = o[field];
    if (!Array.isArray(v) || !v.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) return this.bad(field, 'a list of numbers');
    return v;
  }

  strings(o: JsonObject, field: string): string[] {
    const v = o[field];
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) return this.bad(field, 'a list of strings');
    return v;
  }

  stringMap(o: JsonObject, field: string): Record<string, string> {
    const m = this.object(o[field], field);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) out[k] = typeof v === 'string' ? v : this.bad(`${field}.${k}`, 'a string');
    return out;
  }

  /** The handle's format version: `formatVersion` (absent in handles from before versions: 1). */
  version(o: JsonObject, supported: readonly number[]): number {
    const v = o['formatVersion'] ?? 1;
    if (typeof v !== 'number' || !supported.includes(v)) {
      throw new CorralError('STATE_CORRUPT', `${this.what}: format version ${String(v)} is not one this corral reads (${supported.join(', ')})`, {
        hint: 'a newer corral wrote it: upgrade, or see `corral state repair`',
      });
    }
    return v;
  }
}
