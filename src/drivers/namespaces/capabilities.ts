// Capability names to the bit masks the shim applies. Pure.

import { ALL_CAPABILITIES } from '../../manifest/defaults.js';
import { CorralError } from '../../errors.js';

/** ALL_CAPABILITIES is in kernel order: its index is the capability number. */
export function capabilityNumber(name: string): number {
  const n = ALL_CAPABILITIES.indexOf(name);
  if (n < 0) throw new CorralError('CONTAINER_SETUP_FAILED', `unknown capability \`${name}\``);
  return n;
}

export function capabilityMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(capabilityNumber(name));
  return mask;
}

export function capabilityNames(mask: bigint): string[] {
  return ALL_CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}
