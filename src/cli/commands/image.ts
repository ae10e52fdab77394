// corral image pull|import|ls|rm: the image store (src/drivers/overlay/images). Which containers use an
// image is the reconciler's knowledge: main.ts can inject it; by default the containers whose
// prepared rootfs (containers/<name>/rootfs.json) names the image count as users.

import { Command } from 'commander';
import {
  familiarName, formatImageRef, getImage, importImage, listImages, parseImageRef, parseReference, preparedImageUsers, pruneImages, pullImage,
  removeImage, type ImageRecord, type ImageUsers,
} from '../../drivers/overlay/index.js';
import { storeNameOf } from '../../manifest/image-reference.js';
import { CorralError } from '../../errors.js';
import { contextFrom, outputFormat } from '../context.js';
import { plural } from '../views/diagnostics.js';
import { humanBytes, table } from '../views/table.js';
import { pullProgress } from '../views/pull-progress.js';

export const IMAGE_FORMAT_VERSION = 1;

// Where every command gets it (gc, volume, df and tests import it from here).
export { humanBytes };

export interface ImageCommandDeps {
  /** Who uses an image, by the state store's account. Default: prepared rootfs records. */
  readonly imageUsers?: (root: string) => ImageUsers;
}


const shortDigest = (d: string): string => d.replace(/^sha256:/, '').slice(0, 12);
const imageBytes = (i: ImageRecord): number => i.layers.reduce((sum, l) => sum + l.bytes, 0);


function importSubcommand(): Command {
  return new Command('import')
    .description('import a rootfs tarball (.tar, .tar.gz, .tar.zst), a root filesystem directory, or an OCI image layout directory')
    .argument('<source>', 'tarball file, root filesystem directory (debootstrap…), or OCI layout directory (skopeo copy … oci:DIR, podman save --format oci-dir)')
    .requiredOption('-n, --name <name[:tag]>', 'name to import as (tag defaults to latest)')
    .option('--ref <ref>', 'which image of a multi-image OCI layout (its org.opencontainers.image.ref.name)')
    .option('--skip-devices', 'leave device nodes out of the image instead of refusing it')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (source: string, opts: { name: string; ref?: string; skipDevices?: boolean; output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const ref = parseImageRef(opts.name);
      const result = await importImage(ctx.root, source, ref, { ...(opts.ref ? { ref: opts.ref } : {}), devices: opts.skipDevices ? 'skip' : 'refuse' });
      if (format === 'json') {
        ctx.out(JSON.stringify({ formatVersion: IMAGE_FORMAT_VERSION, changed: result.replaced?.digest !== result.image.digest, ...result }, null, 2));
        return;
      }
      for (const w of result.warnings) ctx.out(`${ctx.style('yellow', 'warning:')} ${w}`);
      if (result.skippedDevices.length) ctx.out(`${ctx.style('yellow', 'warning:')} left out ${plural(result.skippedDevices.length, 'device node')}: ${result.skippedDevices.join(', ')}`);
      const i = result.image;
      ctx.out(`imported ${ctx.style('bold', formatImageRef(i))} ${i.digest} (${plural(i.layers.length, 'layer')}, ${result.newLayers.length} new, ${humanBytes(imageBytes(i))})`);
    });
}

function pullSubcommand(): Command {
  return new Command('pull')
    .description('pull an image from an OCI registry (Docker Hub, a local registry...) into the store')
    .argument('<reference>', 'registry/repository[:tag][@digest]; `nginx` is docker.io/library/nginx:latest')
    .option('-n, --name <name[:tag]>', 'name to store it as (default: the reference itself, registry and repository, as a manifest names it: `127.0.0.1:5000/team/app:1`)')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText('after', [
      '',
      'Credentials come from $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, /etc/containers/auth.json',
      'and ~/.docker/config.json (or only $CORRAL_AUTH_FILE). Plain HTTP is used for loopback registries and',
      'those listed in $CORRAL_INSECURE_REGISTRIES (comma-separated); every other registry is HTTPS.',
      'An interrupted pull resumes where it stopped when run again.',
    ].join('\n'))
    .action(async (text: string, opts: { name?: string; output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const ref = parseReference(text);
      const as = opts.name === undefined ? storeNameOf(ref) : parseImageRef(opts.name);
      const progress = format === 'json' ? undefined : pullProgress(process.stderr, ctx.style);
      const result = await pullImage(ctx.root, ref, as, { ...(progress ? { progress } : {}) });
      progress?.finish();
      if (format === 'json') {
        ctx.out(JSON.stringify({ formatVersion: IMAGE_FORMAT_VERSION, changed: result.replaced?.digest !== result.image.digest, ...result }, null, 2));
        return;
      }
      for (const w of result.warnings) ctx.out(`${ctx.style('yellow', 'warning:')} ${w}`);
      const i = result.image;
      ctx.out(`pulled ${familiarName(ref)} as ${ctx.style('bold', formatImageRef(i))} ${i.digest} (${plural(i.layers.length, 'layer')}, ${result.downloaded.length} downloaded, ${humanBytes(imageBytes(i))})`);
    });
}

function lsSubcommand(deps: ImageCommandDeps): Command {
  return new Command('ls')
    .description('list the images in the store, with the containers that use each')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const images = listImages(ctx.root);
      const users = (deps.imageUsers ?? preparedImageUsers)(ctx.root);
      if (outputFormat(opts.output) === 'json') {
        ctx.out(JSON.stringify({ formatVersion: IMAGE_FORMAT_VERSION, images: images.map((i) => ({ ...i, bytes: imageBytes(i), usedBy: users(i) })) }, null, 2));
        return;
      }
      if (images.length === 0) {
        ctx.out('no images (pull one with `corral image pull REF`, or import one with `corral image import FILE|DIR --name NAME[:TAG]`)');
        return;
      }
      ctx.out(table([
        ['NAME', 'TAG', 'DIGEST', 'LAYERS', 'SIZE', 'SOURCE', 'USED BY'],
        ...images.map((i) => [i.name, i.tag, shortDigest(i.digest), String(i.layers.length), humanBytes(imageBytes(i)), i.source.kind === 'registry' ? i.source.path : i.source.kind, users(i).join(',') || '-']),
      ]));
    });
}

function inspectSubcommand(deps: ImageCommandDeps): Command {
  return new Command('inspect')
    .description('show one image as JSON: digest, layers with their sizes, config defaults, source, the containers that use it')
    .argument('<image>', 'NAME[:TAG] (tag defaults to latest)')
    .action((name: string, _opts: unknown, command: Command) => {
      const ctx = contextFrom(command);
      const image = getImage(ctx.root, parseImageRef(name));
      ctx.out(JSON.stringify({ ...image, formatVersion: IMAGE_FORMAT_VERSION, recordFormatVersion: image.formatVersion, bytes: imageBytes(image), usedBy: (deps.imageUsers ?? preparedImageUsers)(ctx.root)(image) }, null, 2));
    });
}

function rmSubcommand(deps: ImageCommandDeps): Command {
  return new Command('rm')
    .description('remove images (refused while a container uses one); layers no other image needs are deleted')
    .argument('<images...>', 'NAME[:TAG] (tag defaults to latest)')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (names: string[], opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const users = (deps.imageUsers ?? preparedImageUsers)(ctx.root);
      const refs = names.map(parseImageRef);
      const removed = [];
      for (const ref of refs) removed.push(await removeImage(ctx.root, ref, users));
      if (format === 'json') {
        ctx.out(JSON.stringify({ formatVersion: IMAGE_FORMAT_VERSION, changed: removed.length > 0, removed }, null, 2));
        return;
      }
      for (const r of removed) ctx.out(`removed ${formatImageRef(r.removed)} (${plural(r.freedLayers.length, 'layer')} freed)`);
    });
}

function pruneSubcommand(deps: ImageCommandDeps): Command {
  return new Command('prune')
    .description('remove every image no container uses, and the layers nothing needs any more')
    .option('--dry-run', 'report what would be removed, remove nothing')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { dryRun?: boolean; output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const result = await pruneImages(ctx.root, (deps.imageUsers ?? preparedImageUsers)(ctx.root), opts.dryRun ?? false);
      if (outputFormat(opts.output) === 'json') {
        ctx.out(JSON.stringify({ formatVersion: IMAGE_FORMAT_VERSION, changed: !opts.dryRun && result.removed.length > 0, dryRun: opts.dryRun ?? false, ...result }, null, 2));
        return;
      }
      const verb = opts.dryRun ? 'would remove' : 'removed';
      ctx.out(`${verb} ${plural(result.removed.length, 'image')}${result.removed.length ? ` (${result.removed.map(formatImageRef).join(', ')})` : ''}, ${plural(result.freedLayers.length, 'layer')}; ${humanBytes(result.bytes)}`);
    });
}

export function imageCommand(deps: ImageCommandDeps = {}): Command {
  const command = new Command('image').description('pull, import, list, inspect, remove and prune images (registries, rootfs tarballs and directories, OCI layouts)');
  command.addCommand(pullSubcommand());
  command.addCommand(importSubcommand());
  command.addCommand(lsSubcommand(deps));
  command.addCommand(inspectSubcommand(deps));
  command.addCommand(rmSubcommand(deps));
  command.addCommand(pruneSubcommand(deps));
  command.action(() => {
    throw new CorralError('CLI_USAGE', 'missing subcommand: corral image pull|import|ls|inspect|rm|prune');
  });
  return command;
}
