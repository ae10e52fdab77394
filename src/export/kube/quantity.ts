// Kubernetes resource quantities from corral's resolved units. Pure.

const BINARY = [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const;

/** Bytes as the largest binary suffix that divides them exactly (`64Mi`), else plain bytes. */
export function bytesQuantity(bytes: number): string {
  for (const [suffix, size] of BINARY) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

/** Millicores as whole cores when exact (`2`), else millicores (`250m`). */
export function cpuQuantity(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Milliseconds as whole seconds for probe and grace-period fields: rounded up, at least `min`. */
export function seconds(ms: number, min = 1): number {
  return Math.max(min, Math.ceil(ms / 1000));
}
