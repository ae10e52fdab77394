// Posix path helpers for the pure core (no node:path here). Paths in manifests are container or
// host paths and are always `/`-separated.

/** True when the path is absolute and has no `.`/`..` segments, no `//` and no trailing `/`. */
export function isCanonicalAbsolute(path: string): boolean {
  if (!path.startsWith('/') || path.includes('\u0000')) return false;
  if (path === '/') return true;
  if (path.endsWith('/')) return false;
  return path.slice(1).split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Lexical normalization: resolves `.` and `..`, collapses `//`. `..` never climbs above `/`. */
export function normalizeAbsolute(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (path.startsWith('/') ? '/' : '.') : path.slice(0, i);
}

/** True when `child` is `parent` or lies below it. Both canonical absolute paths. */
export function isWithin(child: string, parent: string): boolean {
  return parent === '/' || child === parent || child.startsWith(`${parent}/`);
}

/** Resolves `relative` against the absolute directory `base`; reports whether it stayed inside. */
export function resolveInside(base: string, relative: string): { path: string; escapes: boolean } {
  const path = normalizeAbsolute(`${base}/${relative}`);
  return { path, escapes: !isWithin(path, normalizeAbsolute(base)) };
}

export function depth(path: string): number {
  return path === '/' ? 0 : path.split('/').length - 1;
}
