// ManifestSource over the real filesystem: a directory walked recursively with the shared filter,
// or an explicit list of files (taken as given, whatever their extension, like `kubectl -f`).

import { readFileSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { resolve, sep } from 'node:path';
import { diagnostic, type Diagnostic } from '../errors.js';
import { classifyManifestPath, skipDirectory } from '../manifest/files.js';
import type { ManifestSource, SourceFile, SourceListing } from '../manifest/manifest-set.js';
import { flat } from '../flat-string.js';

export const MAX_FILES = 10_000;

export function directorySource(dir: string, onIgnored?: (path: string, reason: string) => void): ManifestSource {
  const root = resolve(dir);
  return {
    async list(): Promise<SourceListing> {
      const files: SourceFile[] = [];
      const diagnostics: Diagnostic[] = [];
      try {
        if (!statSync(root).isDirectory()) {
          return { files: [], missing: true, diagnostics: [diagnostic('error', 'MANIFEST_DIR_MISSING', `\`${root}\` is not a directory`)] };
        }
      } catch {
        return { files: [], missing: true, diagnostics: [diagnostic('error', 'MANIFEST_DIR_MISSING', `manifest directory \`${root}\` does not exist`, { hint: 'pass --dir, set CORRAL_MANIFESTS, or create ./manifests' })] };
      }
      // Symlinked directories are followed once each; the set of real paths stops loops.
      const visited = new Set<string>();
      // Synchronous fs calls: a directory of small files is read in a few ms this way, several
      // times faster than one promise round-trip per stat and read.
      // `rel`: the directory's path below the root, `/`-separated ('' for the root itself).
      const walk = (dirPath: string, relDir: string): void => {
        let real = dirPath;
        try {
          // .native: one realpath(3) call; the JS one lstats every component of the path.
          real = realpathSync.native(dirPath);
        } catch {
          // A dangling path reads as itself; readdir below reports the real problem.
        }
        if (visited.has(real)) return;
        visited.add(real);
        const entries: Dirent[] = readdirSync(dirPath, { withFileTypes: true });
        entries.sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const entry of entries) {
          const full = `${dirPath}${sep}${entry.name}`;
          const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
          let isDir = entry.isDirectory();
          let isFile = entry.isFile();
          if (entry.isSymbolicLink()) {
            let target: ReturnType<typeof statSync> | undefined;
            try {
              target = statSync(full);
            } catch {
              target = undefined;
            }
            isDir = target?.isDirectory() ?? false;
            isFile = target?.isFile() ?? false;
          }
          if (isDir) {
            if (skipDirectory(entry.name)) onIgnored?.(rel, 'dot directory');
            else walk(full, rel);
            continue;
          }
          if (!isFile) continue;
          const verdict = classifyManifestPath(rel);
          if (!verdict.counts) {
            onIgnored?.(rel, verdict.reason);
            continue;
          }
          if (files.length >= MAX_FILES) {
            diagnostics.push(diagnostic('error', 'MANIFEST_TOO_MANY_FILES', `more than ${MAX_FILES} manifest files under \`${root}\``));
            return;
          }
          const info = statSync(full);
          files.push({ path: full, size: info.size, stamp: flat(`${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`) });
        }
      };
      try {
        walk(root, '');
      } catch (err) {
        diagnostics.push(diagnostic('error', 'MANIFEST_READ_FAILED', `cannot read manifest directory \`${root}\`: ${(err as Error).message}`));
      }
      return { files, missing: false, diagnostics };
    },
    read: async (path) => readFileSync(path),
  };
}

export function fileListSource(paths: readonly string[]): ManifestSource {
  return {
    async list(): Promise<SourceListing> {
      const files: SourceFile[] = [];
      const diagnostics: Diagnostic[] = [];
      for (const p of paths) {
        const full = resolve(p);
        let info: ReturnType<typeof statSync> | undefined;
        try {
          info = statSync(full);
        } catch {
          info = undefined;
        }
        if (!info?.isFile()) {
          diagnostics.push(diagnostic('error', 'MANIFEST_NOT_FOUND', info ? `\`${p}\` is not a regular file` : `\`${p}\` does not exist`, { source: { file: full, line: 1, column: 1 } }));
          continue;
        }
        files.push({ path: full, size: info.size });
      }
      return { files, missing: false, diagnostics };
    },
    read: async (path) => readFileSync(path),
  };
}

/** Directories are walked, files taken as given; several directories and files may be mixed. */
export async function sourceFor(paths: readonly string[], onIgnored?: (path: string, reason: string) => void): Promise<ManifestSource> {
  const isDir = (p: string): boolean => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const kinds = paths.map((p) => ({ p, dir: isDir(p) }));
  const dirs = kinds.filter((k) => k.dir).map((k) => directorySource(k.p, onIgnored));
  const files = kinds.filter((k) => !k.dir).map((k) => k.p);
  const sources = [...dirs, ...(files.length ? [fileListSource(files)] : [])];
  if (sources.length === 1) return sources[0]!;
  return {
    async list() {
      const listings = await Promise.all(sources.map((s) => s.list()));
      return {
        files: listings.flatMap((l) => l.files),
        missing: listings.some((l) => l.missing),
        diagnostics: listings.flatMap((l) => l.diagnostics),
      };
    },
    read: async (path) => readFileSync(path),
  };
}
