// Which files in a manifest directory count. The loader and the watcher share this one filter.
// Pure: paths are `/`-separated and relative to the manifest directory.

export type FileVerdict = { readonly counts: true } | { readonly counts: false; readonly reason: string };

const BACKUP_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [/~$/, 'editor backup (`*~`)'],
  [/^#.*#$/, 'editor autosave (`#*#`)'],
  [/\.(swp|swo|swx)$/, 'vim swap file'],
  [/\.(bak|tmp|orig|rej)$/, 'backup or temporary file'],
];

export function classifyManifestPath(relativePath: string): FileVerdict {
  const segments = relativePath.split('/').filter((s) => s !== '');
  const base = segments[segments.length - 1] ?? '';
  const hidden = segments.find((s) => s.startsWith('.'));
  if (hidden !== undefined) return { counts: false, reason: hidden === base ? 'dot file' : `inside dot directory \`${hidden}\`` };
  for (const [re, reason] of BACKUP_PATTERNS) if (re.test(base)) return { counts: false, reason };
  if (!/\.ya?ml$/.test(base)) return { counts: false, reason: 'not *.yaml or *.yml' };
  return { counts: true };
}

/** Directories the walk does not enter at all. */
export function skipDirectory(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}
