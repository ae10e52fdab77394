// An in-memory ManifestSource for pure tests: file name → text (or bytes).

import type { ManifestSource } from '../../src/manifest/manifest-set.js';

export function memorySource(files: Record<string, string | Uint8Array>, missing = false): ManifestSource {
  const bytes = (v: string | Uint8Array) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);
  return {
    async list() {
      return {
        files: Object.entries(files).map(([path, v]) => ({ path, size: bytes(v).length })),
        missing,
        diagnostics: [],
      };
    },
    async read(path) {
      const v = files[path];
      if (v === undefined) throw new Error(`ENOENT: ${path}`);
      return bytes(v);
    },
  };
}

/** A minimal valid manifest; `extra` is YAML appended under `spec:` (indented by 2). */
export function manifest(name: string, extraSpec = '', extraTop = ''): string {
  return `apiVersion: corral/v1
kind: Container
metadata:
  name: ${name}
spec:
  rootfs: {host: {}}
  command: [/bin/true]
${extraSpec.split('\n').filter(Boolean).map((l) => `  ${l}`).join('\n')}
${extraTop}`;
}
