// The schema compiled by ajv: into a check function at run time, or into the source of an ES
// module at build time (ajv standalone code, scripts/gen-validator.mjs), so that the CLI need not
// load ajv and compile the schema at every start (a third of a second here). Both use the same
// options and formats, so they judge every document alike. Pure.

import Ajv2020Module from 'ajv/dist/2020.js';
import { Name } from 'ajv/dist/compile/codegen/index.js';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import { FORMAT_DEFINITIONS } from './formats.js';
import type { AnyManifestV1 } from './manifest-v1.js';
import type { SchemaNode } from './schema-fields.js';
import type { SchemaCheck } from './validate.js';

// ajv is CommonJS with typings that declare an ES default export: under NodeNext the default
// import is `module.exports`, and the package also sets `exports.default`.
const Ajv2020 = Ajv2020Module.default;
const standaloneCode = standaloneCodeModule.default;

/**
 * The name under which compiled code finds FORMAT_DEFINITIONS: the module holding the code must
 * import it under this name (scripts/gen-validator.mjs does).
 */
export const STANDALONE_FORMATS_NAME = 'FORMAT_DEFINITIONS';

function newAjv(standalone: boolean): InstanceType<typeof Ajv2020> {
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    // The mount union requires `type` at the top and defines it in each branch, which this rule rejects.
    strictRequired: false,
    allowUnionTypes: true,
    discriminator: true,
    // The schema has an $id on a domain corral does not serve; nothing is ever fetched.
    loadSchema: undefined,
    ...(standalone ? { code: { source: true, esm: true, formats: new Name(STANDALONE_FORMATS_NAME) } } : {}),
  });
  for (const [name, format] of Object.entries(FORMAT_DEFINITIONS)) ajv.addFormat(name, format);
  return ajv;
}

export function compileSchema(schema: SchemaNode): SchemaCheck {
  return newAjv(false).compile<AnyManifestV1>(schema);
}

/** The source of an ES module whose `validate` is compileSchema(schema), minus the imports it needs. */
export function compileSchemaModule(schema: SchemaNode): string {
  const ajv = newAjv(true);
  return standaloneCode(ajv, ajv.compile(schema));
}
