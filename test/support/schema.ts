import { schemaValidator } from '../../src/inputs/schema.js';
import { loadManifestSet, type ManifestSet } from '../../src/manifest/manifest-set.js';
import type { HostFacts } from '../../src/manifest/host-selector.js';
import { memorySource } from './memory-source.js';

export const validator = schemaValidator();

export function loadSet(files: Record<string, string | Uint8Array>, host?: HostFacts): Promise<ManifestSet> {
  return loadManifestSet(memorySource(files), { validator, ...(host ? { host } : {}) });
}

export async function loadOne(text: string) {
  const set = await loadSet({ '/m/one.yaml': text });
  return { set, spec: set.containers[0]?.spec, errors: set.diagnostics.filter((d) => d.severity === 'error') };
}
