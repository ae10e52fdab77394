// The watcher's predicates (controller-runtime's predicate package): which file events can
// change the desired state. Shares the loader's rule for which files count, so the watcher never
// wakes up for what the loader would ignore anyway.

import { relative, sep } from 'node:path';
import { classifyManifestPath } from '../manifest/files.js';

/** True when an event at `path` (under `root`) may matter; directories always pass. */
export function eventMatters(root: string, path: string, isDirectory: boolean): boolean {
  const rel = relative(root, path).split(sep).join('/');
  if (rel === '' || rel.startsWith('..')) return true;
  const segments = rel.split('/');
  if (segments.some((s) => s.startsWith('.'))) return false;
  if (isDirectory) return segments[segments.length - 1] !== 'node_modules';
  return classifyManifestPath(rel).counts;
}
