// corral df: what the state root holds on disk, Docker's `system df` for corral: images (and how
// much their shared layers save), image layers, each container's writable layer and logs, named
// volumes, and what `corral image prune` and `corral gc` could give back. Reads only.

import { basename, join } from 'node:path';
import { Command } from 'commander';
import { listImages, listVolumes, preparedImageUsers } from '../../drivers/overlay/index.js';
import { diskUsage, listDir } from '../../drivers/overlay/fs-util.js';
import { readRootfsRecord } from '../../drivers/overlay/rootfs-record.js';
import { layout } from '../../state/layout.js';
import { contextFrom, outputFormat } from '../context.js';
import { humanBytes, table } from '../views/table.js';

export const DF_FORMAT_VERSION = 1;

interface Item { readonly name: string; readonly bytes: number }

export interface DfReport {
  readonly formatVersion: number;
  /** Each image with the bytes of its layers (shared ones counted in every image that has them) and its users. */
  readonly images: ReadonlyArray<Item & { readonly layers: number; readonly usedBy: readonly string[] }>;
  /** Every layer directory once: what images really take. */
  readonly layers: { readonly count: number; readonly bytes: number; readonly sharedSavings: number };
  readonly writableLayers: readonly Item[];
  readonly logs: readonly Item[];
  readonly volumes: readonly Item[];
  /** Layers only unused images need: `corral image prune` frees them. */
  readonly reclaimableByPrune: number;
  readonly totalBytes: number;
}

const sum = (xs: readonly Item[]): number => xs.reduce((s, x) => s + x.bytes, 0);

export function buildDf(root: string): DfReport {
  const l = layout(root);
  const users = preparedImageUsers(root);
  const images = listImages(root).map((i) => ({ name: `${i.name}:${i.tag}`, bytes: i.layers.reduce((s, x) => s + x.bytes, 0), layers: i.layers.length, usedBy: users(i), record: i }));
  const layerDirs = listDir(l.layersDir).filter((e) => /^sha(256|512)-[a-f0-9]+$/.test(e));
  const layerBytes = new Map(layerDirs.map((e) => [e, diskUsage(join(l.layersDir, e))]));
  const total = [...layerBytes.values()].reduce((s, b) => s + b, 0);
  const containers = listDir(l.containersDir);
  // What prune keeps: the layers of images in use, and whatever a container's root stacks.
  const used = new Set([
    ...images.filter((i) => i.usedBy.length > 0).flatMap((i) => i.record.layers.map((x) => basename(l.layer(x.digest)))),
    ...containers.flatMap((name) => (readRootfsRecord(root, name)?.lower ?? []).map((dir) => basename(dir))),
  ]);
  const writableLayers = containers.map((name) => ({ name, bytes: diskUsage(l.container(name).upper) }));
  const logs = containers.map((name) => ({ name, bytes: diskUsage(l.container(name).logs) }));
  const volumes = listVolumes(root, { usage: true }).map((v) => ({ name: v.name, bytes: v.bytes ?? 0 }));
  const reclaimableByPrune = [...layerBytes].filter(([e]) => !used.has(e)).reduce((s, [, b]) => s + b, 0);
  return {
    formatVersion: DF_FORMAT_VERSION,
    images: images.map(({ record: _record, ...rest }) => rest),
    layers: { count: layerDirs.length, bytes: total, sharedSavings: Math.max(0, sum(images) - total) },
    writableLayers,
    logs,
    volumes,
    reclaimableByPrune,
    totalBytes: total + sum(writableLayers) + sum(logs) + sum(volumes),
  };
}

function render(r: DfReport, verbose: boolean): string {
  const unused = r.images.filter((i) => i.usedBy.length === 0).length;
  const rows = [
    ['TYPE', 'COUNT', 'SIZE', 'NOTE'],
    ['images', String(r.images.length), humanBytes(r.layers.bytes), `${unused} unused; ${humanBytes(r.reclaimableByPrune)} reclaimable (corral image prune); ${humanBytes(r.layers.sharedSavings)} saved by shared layers`],
    ['layers', String(r.layers.count), humanBytes(r.layers.bytes), ''],
    ['writable layers', String(r.writableLayers.length), humanBytes(sum(r.writableLayers)), ''],
    ['logs', String(r.logs.length), humanBytes(sum(r.logs)), ''],
    ['volumes', String(r.volumes.length), humanBytes(sum(r.volumes)), ''],
    ['total', '', humanBytes(r.totalBytes), ''],
  ];
  const out = table(rows).split('\n').map((line) => line.trimEnd());
  if (verbose) {
    const list = (title: string, items: readonly Item[], extra: (i: Item) => string = () => ''): void => {
      if (items.length === 0) return;
      out.push('', title);
      for (const i of items) out.push(`  ${i.name.padEnd(30)} ${humanBytes(i.bytes).padStart(10)}${extra(i)}`);
    };
    list('images', r.images, (i) => {
      const image = r.images.find((x) => x.name === i.name)!;
      return `  ${image.layers} layers, used by ${image.usedBy.join(',') || '-'}`;
    });
    list('writable layers', r.writableLayers);
    list('logs', r.logs);
    list('volumes', r.volumes);
  }
  return out.join('\n');
}

export function dfCommand(): Command {
  return new Command('df')
    .description('show what the state root holds on disk: images and layers, writable layers, logs, volumes, and what prune could free; changes nothing')
    .option('-v, --verbose', 'list every image, writable layer, log and volume')
    .option('-o, --output <format>', 'text or json', 'text')
    .action((opts: { verbose?: boolean; output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const report = buildDf(ctx.root);
      ctx.out(outputFormat(opts.output) === 'json' ? JSON.stringify(report, null, 2) : render(report, opts.verbose ?? false));
    });
}
