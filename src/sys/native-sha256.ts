// Node's own sha256 for the change hash and record checksums (src/manifest/hash.ts keeps a pure
// one so that the core imports nothing from Node): same digests, native speed.

import { createHash } from 'node:crypto';
import { useSha256 } from '../manifest/hash.js';

export function installNativeSha256(): void {
  useSha256((text) => createHash('sha256').update(text, 'utf8').digest('hex'));
}
