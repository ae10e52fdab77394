// `NAME[:TAG]`, with the same rules as the manifest schema (schemas/manifest.schema.json,
// rootfs.image), so a name that imports is a name a manifest can use. Pure.

import { CorralError } from '../../../errors.js';
import { isRegistryReference, parseReference, storeNameOf } from '../../../manifest/image-reference.js';

export interface ImageRef {
  readonly name: string;
  readonly tag: string;
}

export const DEFAULT_TAG = 'latest';
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export function parseImageRef(text: string): ImageRef {
  // A registry reference names what a pull stored: `127.0.0.1:5000/team/app:1`.
  if (isRegistryReference(text)) return storeNameOf(parseReference(text));
  const colon = text.indexOf(':');
  const name = colon === -1 ? text : text.slice(0, colon);
  const tag = colon === -1 ? DEFAULT_TAG : text.slice(colon + 1);
  if (!NAME.test(name) || !TAG.test(tag)) {
    throw new CorralError('MANIFEST_INVALID_FORMAT', `image name \`${text}\` is not NAME[:TAG]`, {
      detail: 'NAME: lower-case letters, digits, `.`, `_`, `-` (starting with a letter or digit); TAG: letters, digits, `.`, `_`, `-`',
    });
  }
  return { name, tag };
}

export function formatImageRef(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}`;
}
