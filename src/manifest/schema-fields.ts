// Walks the JSON Schema to list every field of the format with its description. Used for
// "did you mean" hints that point to the right level, and to keep the README's reference complete.
// Pure.

export interface SchemaNode {
  readonly $ref?: string;
  readonly description?: string;
  readonly type?: string | string[];
  readonly properties?: Record<string, SchemaNode>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
  readonly oneOf?: SchemaNode[];
  readonly anyOf?: SchemaNode[];
  readonly enum?: unknown[];
  readonly const?: unknown;
  readonly $defs?: Record<string, SchemaNode>;
  readonly [key: string]: unknown;
}

export interface SchemaField {
  /** `spec.mounts[].target`: `[]` marks "every item of the list". */
  readonly path: string;
  readonly name: string;
  readonly description: string;
}

export function resolveRef(root: SchemaNode, node: SchemaNode): SchemaNode {
  let current = node;
  for (let hops = 0; current.$ref && hops < 32; hops++) {
    const name = current.$ref.replace(/^#\/\$defs\//, '');
    const target = root.$defs?.[name];
    if (!target) throw new Error(`schema: unresolved $ref ${current.$ref}`);
    // A property's own description wins over the one of the definition it points to.
    current = { ...target, description: current.description ?? target.description };
  }
  return current;
}

/**
 * Every named field of the format, depth first, in schema order; a field that several branches of
 * a `oneOf` have is listed once, with each different description. With `collapse`, a mapping whose
 * properties all share one definition (ulimits) is listed once as `parent.<name>`.
 */
export function listSchemaFields(root: SchemaNode, collapse = false): SchemaField[] {
  const out: SchemaField[] = [];
  /** Path → its index in `out`. */
  const seen = new Map<string, number>();
  const walk = (node: SchemaNode, prefix: string, depth: number): void => {
    if (depth > 12) return;
    const resolved = resolveRef(root, node);
    for (const branch of [...(resolved.oneOf ?? []), ...(resolved.anyOf ?? [])]) walk(branch, prefix, depth + 1);
    const props = Object.values(resolved.properties ?? {});
    if (collapse && props.length > 3 && props.every((p) => p.$ref !== undefined && p.$ref === props[0]!.$ref)) {
      const path = `${prefix}.<name>`;
      out.push({ path, name: '<name>', description: resolveRef(root, props[0]!).description ?? '' });
      walk(props[0]!, path, depth + 1);
      return;
    }
    for (const [name, child] of Object.entries(resolved.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      const childResolved = resolveRef(root, child);
      const description = childResolved.description ?? '';
      const at = seen.get(path);
      if (at === undefined) {
        seen.set(path, out.length);
        out.push({ path, name, description });
      } else if (description && !out[at]!.description.includes(description)) {
        // One field of several branches (a mount's `mode` on a tmpfs and on a volume): each says its own.
        out[at] = { ...out[at]!, description: out[at]!.description ? `${out[at]!.description} ${description}` : description };
      }
      walk(child, path, depth + 1);
    }
    if (resolved.items) walk(resolved.items, `${prefix}[]`, depth + 1);
  };
  walk(root, '', 0);
  return out;
}

const SPEC_DEFINITION: Readonly<Record<string, string>> = { Container: 'spec', Network: 'networkSpec' };

/**
 * The schema as one kind sees it: `spec` resolved to that kind's definition, the `if`/`then`/`else`
 * that chooses it left out. For field lists (hints, the README reference) of one kind at a time.
 */
export function schemaOfKind(root: SchemaNode, kind: string): SchemaNode {
  const { if: _if, then: _then, else: _else, ...rest } = root;
  const properties = { ...(root.properties ?? {}), spec: { $ref: `#/$defs/${SPEC_DEFINITION[kind] ?? 'spec'}` } };
  return { ...rest, properties };
}

/** Names of the properties a schema node allows (after resolving refs and branches). */
export function allowedProperties(root: SchemaNode, node: SchemaNode): string[] {
  const resolved = resolveRef(root, node);
  const names = Object.keys(resolved.properties ?? {});
  for (const branch of [...(resolved.oneOf ?? []), ...(resolved.anyOf ?? [])]) names.push(...allowedProperties(root, branch));
  return [...new Set(names)];
}
