// npm run docs: rewrites the manifest reference block of README.md from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReference, spliceReference } from '../dist/manifest/reference.js';

const schema = JSON.parse(readFileSync(new URL('../schemas/manifest.schema.json', import.meta.url), 'utf8'));
const readmeUrl = new URL('../README.md', import.meta.url);
const before = readFileSync(readmeUrl, 'utf8');
const after = spliceReference(before, renderReference(schema));
writeFileSync(readmeUrl, after);
process.stdout.write(before === after ? 'README.md reference already up to date\n' : 'README.md reference regenerated\n');
