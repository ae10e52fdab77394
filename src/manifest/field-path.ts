// Field paths: how corral names a place inside a manifest (`spec.mounts[2].target`). Pure.

export type FieldPath = ReadonlyArray<string | number>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** ajv's JSON Pointer (`/spec/mounts/2/target`) → path segments; numeric segments become indexes. */
export function fromJsonPointer(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** The inverse of formatPath for names and indexes: `spec.ports[1].hostIP` → ['spec', 'ports', 1, 'hostIP']. */
export function parsePath(text: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const m of text.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.[\]]+)/g)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(`"${m[2]}"`) as string);
    else out.push(m[3]!);
  }
  return out;
}
