// corral export kube [NAME...]: the manifests' containers as Kubernetes v1 Pods (with their
// Secrets and ConfigMaps), for `kubectl apply` or `podman kube play`. Reads the manifests only:
// no state root, no lock. The mapping is src/export/kube (docs/kube-export.md).

import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { supportChecks } from '../../compose.js';
import { readSource } from '../../drivers/overlay/file-tree.js';
import { CorralError, isCorralError } from '../../errors.js';
import { exportKube, formatWarning, secretObjectName, type ExportWarning, type FileContent } from '../../export/kube/index.js';
import { directorySource } from '../../inputs/manifest-source.js';
import { loadSchemaValidator } from '../../inputs/prebuilt-schema.js';
import { loadManifestSet } from '../../manifest/manifest-set.js';
import { filesOf, type ContainerSpec } from '../../manifest/spec.js';
import { contextFrom } from '../context.js';
import { EXIT } from '../exit-codes.js';

export const EXPORT_FORMAT_VERSION = 1;

interface KubeOptions {
  output?: string;
  file?: string;
  image?: string[];
  includeSecrets?: boolean;
}

/** `--image NAME=REF` or `--image REF` (every container). */
function imageOptions(values: readonly string[]): Record<string, string> {
  const images: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    // A reference never has `=`; a name is a DNS label.
    if (eq > 0) images[v.slice(0, eq)] = v.slice(eq + 1);
    else images['*'] = v;
  }
  return images;
}

function contentOf(buf: Buffer): FileContent {
  const text = buf.toString('utf8');
  return { base64: buf.toString('base64'), text: Buffer.from(text, 'utf8').equals(buf) && !text.includes('\0') ? text : null };
}

/**
 * The reader of file contents: config files always (they are not secret; one that cannot be read
 * is a placeholder and a warning), secrets only with --include-secrets (then a secret that cannot
 * be read is an error: an empty value where one was asked for would deploy a broken workload).
 */
function contentReader(specs: readonly ContainerSpec[], includeSecrets: boolean, notes: ExportWarning[]) {
  const byName = new Map(specs.map((s) => [s.name, s]));
  return (container: string, file: { kind: 'secret' | 'config'; name: string }): FileContent | null => {
    const f = filesOf(byName.get(container)!).find((x) => x.kind === file.kind && x.name === file.name)!;
    if (f.kind === 'secret' && !includeSecrets) return null;
    try {
      return contentOf(readSource(f));
    } catch (err) {
      if (f.kind === 'secret' || !isCorralError(err)) throw err;
      notes.push({ container, field: `spec.configFiles (name ${f.name})`, reason: `not read, its value is a placeholder: ${err.summary}` });
      return null;
    }
  };
}

function kubeCommand(): Command {
  return new Command('kube')
    .description('write the containers of the manifests as Kubernetes v1 Pods (YAML), with their Secrets and ConfigMaps')
    .argument('[names...]', 'containers to export (default: every container of the manifests)')
    .option('-o, --output <format>', 'yaml (documents for kubectl apply or podman kube play) or json ({objects, warnings})', 'yaml')
    .option('-f, --file <path>', 'write to this file instead of standard output')
    .option('--image <[name=]ref>', 'the image a Pod names, for a container (name=ref) or all (ref); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .option('--include-secrets', 'read secret values from their sources into the Secrets (default: empty placeholders)')
    .addHelpText('after', [
      '',
      'Fields without a Kubernetes equivalent are named on stderr: `warning: NAME: spec.x has no Kubernetes equivalent (why)`.',
      'Secret values are never written unless --include-secrets is given; config files are read from their sources.',
      'The mapping, field by field: docs/kube-export.md. Exit status: 0 exported (warnings allowed), 1 error.',
    ].join('\n'))
    .action(async (names: string[], opts: KubeOptions, command: Command) => {
      const ctx = contextFrom(command);
      const format = opts.output ?? 'yaml';
      if (format !== 'yaml' && format !== 'json') throw new CorralError('CLI_USAGE', `--output \`${format}\` is not one of yaml, json`);
      const source = directorySource(ctx.manifestDir, (path, reason) => ctx.logger.debug('ignored file', { path, reason }));
      const set = await loadManifestSet(source, { validator: await loadSchemaValidator(), supports: supportChecks() });
      const errors = set.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0) {
        throw new CorralError(errors[0]!.code, `the manifests in ${ctx.manifestDir} have ${errors.length} error(s): nothing exported`, { diagnostics: errors, hint: 'run `corral validate`' });
      }
      // Every valid container, whichever host it is meant for: the export is of the desired state.
      const all = [...set.containers, ...set.elsewhere].map((e) => e.spec).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const unknown = names.filter((n) => !all.some((s) => s.name === n));
      if (unknown.length > 0) throw new CorralError('CONTAINER_NOT_FOUND', `no container named ${unknown.map((n) => `\`${n}\``).join(', ')} in ${ctx.manifestDir}`);
      const specs = names.length > 0 ? all.filter((s) => names.includes(s.name)) : all;
      const notes: ExportWarning[] = [];
      const { objects, warnings } = exportKube(specs, { images: imageOptions(opts.image ?? []), content: contentReader(specs, opts.includeSecrets ?? false, notes) });
      const secretNotes = opts.includeSecrets ? [] : specs
        .filter((s) => filesOf(s).some((f) => f.kind === 'secret'))
        .map((s): ExportWarning => ({ container: s.name, field: 'spec.secrets', reason: `values not exported: Secret ${secretObjectName(s.name)} holds empty placeholders (--include-secrets reads them from their sources)` }));
      const text = format === 'json'
        ? `${JSON.stringify({ formatVersion: EXPORT_FORMAT_VERSION, objects, warnings: [...warnings, ...notes, ...secretNotes] }, null, 2)}\n`
        : `# corral export kube: ${specs.length} container(s) from ${ctx.manifestDir}\n${objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n')}`;
      for (const w of warnings) process.stderr.write(`${formatWarning(w)}\n`);
      for (const n of [...notes, ...secretNotes]) process.stderr.write(`warning: ${n.container}: ${n.field}: ${n.reason}\n`);
      if (opts.file !== undefined) writeFileSync(opts.file, text, { mode: opts.includeSecrets ? 0o600 : 0o644 });
      else process.stdout.write(text);
      process.exitCode = EXIT.OK;
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write the manifests in another tool\'s format (kube: Kubernetes Pods); changes nothing')
    .addCommand(kubeCommand());
}
