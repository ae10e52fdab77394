// corral validate [PATH...]: checks manifests and reports every problem; changes nothing.

import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { supportChecks } from '../../compose.js';
import { buildId } from '../../inputs/build-id.js';
import { directorySource, sourceFor } from '../../inputs/manifest-source.js';
import { loadSchemaValidator } from '../../inputs/prebuilt-schema.js';
import { loadManifestSet, type ManifestSource } from '../../manifest/manifest-set.js';
import type { PersistedFiles } from '../../manifest/persisted-files.js';
import { layout } from '../../state/layout.js';
import { ManifestCacheFile } from '../../state/manifest-cache.js';
import { contextFrom, outputFormat } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { countBySeverity, displayPath, plural, renderDiagnostic } from '../views/diagnostics.js';

export const VALIDATE_FORMAT_VERSION = 1;

export function validateCommand(): Command {
  return new Command('validate')
    .description('check manifests against the format and the rules between them; changes nothing')
    .argument('[paths...]', 'manifest files or directories (default: the manifest directory)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', '\nExit status: 0 when every manifest is valid (warnings allowed), 1 otherwise.')
    .action(async (paths: string[], opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const targets = paths.length > 0 ? paths : [ctx.manifestDir];
      const onIgnored = (path: string, reason: string) => ctx.logger.debug('ignored file', { path, reason });
      const source = paths.length > 0 ? await sourceFor(targets, onIgnored) : directorySource(ctx.manifestDir, onIgnored);
      // Listed once, here: what the files weigh decides whether the cache is worth reading.
      const listing = await source.list();
      const listed: ManifestSource = { list: async () => listing, read: (path) => source.read(path) };
      const persisted = await readOnlyCache(ctx.root, listing.files.reduce((sum, f) => sum + f.size, 0));
      const set = await loadManifestSet(listed, { validator: await loadSchemaValidator(), supports: supportChecks(), ...(persisted ? { persisted } : {}) });
      const { errors, warnings } = countBySeverity(set.diagnostics);
      const valid = errors === 0;
      if (format === 'json') {
        ctx.out(JSON.stringify({
          formatVersion: VALIDATE_FORMAT_VERSION,
          valid,
          files: set.files,
          containers: [...set.containers, ...set.elsewhere].map((c) => ({ name: c.spec.name, file: c.origin.file, document: c.origin.index, hash: c.hash })),
          invalid: set.invalidNames,
          networks: set.networks.map((n) => ({ name: n.definition.name, file: n.origin.file, document: n.origin.index, hash: n.hash })),
          invalidNetworks: set.invalidNetworks,
          diagnostics: set.diagnostics,
        }, null, 2));
      } else {
        for (const d of set.diagnostics) ctx.out(`${renderDiagnostic(d, ctx.style)}\n`);
        const count = set.containers.length + set.elsewhere.length;
        const where = targets.length <= 2 ? targets.map((t) => displayPath(t)).join(', ') : `${targets.length} paths`;
        const networks = set.networks.length > 0 ? `, ${plural(set.networks.length, 'valid network')}` : '';
        const tally = `${plural(set.files.length, 'file')}, ${plural(count, 'valid container')}${networks}`;
        ctx.out(valid
          ? `${ctx.style('green', 'valid:')} ${tally} in ${where}${warnings ? ` (${plural(warnings, 'warning')})` : ''}`
          : `${ctx.style('red', 'invalid:')} ${plural(errors, 'error')}, ${plural(warnings, 'warning')}; ${tally} in ${where}`);
      }
      process.exitCode = valid ? EXIT.OK : EXIT.ERROR;
    });
}

/**
 * The per-file results `plan` and `reconcile` keep in the state root (src/manifest/persisted-files.ts),
 * for reading only: a file unchanged since then is not parsed and checked again (most of this
 * command's time past Node's start), and nothing is written, so `validate` still changes nothing.
 * Only clean files are kept there, so every problem still comes from the parser and the checks;
 * results depend on the file alone, never on the host. No cache (no build id, no state root, not
 * readable) is an empty one.
 *
 * The cache is one JSON file for every directory the root has planned, ~2.5 KB an entry (the
 * normalized spec with every default), so reading it costs what it weighs: ~8 ms a MB here,
 * where checking a file costs ~2.4 ms a KB of YAML. With 1,000 other manifests planned (2.5 MB),
 * `validate` of the three bundled files took 64 ms with it, 56 without. So it is read only when it
 * weighs at most CACHE_READ_RATIO times the files asked about, or less than CACHE_READ_FLOOR.
 */
async function readOnlyCache(root: string, listedBytes: number): Promise<PersistedFiles | undefined> {
  const path = layout(root).manifestCache;
  const size = await stat(path).then((s) => s.size, () => null);
  if (size === null || size > Math.max(CACHE_READ_FLOOR, CACHE_READ_RATIO * listedBytes)) return undefined;
  const version = buildId();
  // What this run parses is added in memory only: nothing here calls save().
  return version === null ? undefined : ManifestCacheFile.open(path, version);
}

const CACHE_READ_RATIO = 128;
const CACHE_READ_FLOOR = 256 * 1024;
