// Progress of `corral image pull`. On a terminal: one line per layer, rewritten in place at most
// every 100 ms (bytes, total, rate), the way podman and skopeo show it. Off a terminal: one plain
// line per layer when it is done (or found in the store), so logs stay short and greppable.

import type { PullProgress } from '../../drivers/overlay/images/registry/pull.js';
import type { Styler } from '../style.js';
import { humanBytes } from './table.js';

const short = (digest: string): string => digest.replace(/^sha\d+:/, '').slice(0, 12);


interface Row { readonly digest: string; readonly size: number; got: number; state: 'cached' | 'pulling' | 'done'; readonly started: number }

export function pullProgress(stream: NodeJS.WriteStream, style: Styler, now: () => number = Date.now): PullProgress & { finish(): void } {
  const rows: Row[] = [];
  const byDigest = new Map<string, Row>();
  const tty = stream.isTTY === true;
  let drawn = 0;
  let lastDraw = 0;
  const line = (r: Row): string => {
    if (r.state === 'cached') return `${short(r.digest)}  ${style('dim', 'already in the store')}`;
    const seconds = Math.max((now() - r.started) / 1000, 0.001);
    const rate = `${humanBytes(Math.round(r.got / seconds))}/s`;
    const mark = r.state === 'done' ? style('green', 'done') : `${Math.floor((100 * r.got) / Math.max(r.size, 1))}%`;
    return `${short(r.digest)}  ${humanBytes(r.got)} / ${humanBytes(r.size)}  ${rate}  ${mark}`;
  };
  const draw = (force: boolean): void => {
    if (!tty || (!force && now() - lastDraw < 100)) return;
    lastDraw = now();
    if (drawn > 0) stream.write(`\x1b[${drawn}A`);
    for (const r of rows) stream.write(`\x1b[2K${line(r)}\n`);
    drawn = rows.length;
  };
  return {
    layer(digest, size, cached) {
      if (byDigest.has(digest)) return;
      const row: Row = { digest, size, got: 0, state: cached ? 'cached' : 'pulling', started: now() };
      rows.push(row);
      byDigest.set(digest, row);
      if (!tty && cached) stream.write(`layer ${short(digest)} already in the store\n`);
      draw(true);
    },
    bytes(digest, n) {
      const row = byDigest.get(digest);
      if (!row) return;
      row.got += n;
      draw(false);
    },
    done(digest) {
      const row = byDigest.get(digest);
      if (!row) return;
      row.state = 'done';
      if (!tty) stream.write(`layer ${short(digest)} pulled (${humanBytes(row.size)})\n`);
      draw(true);
    },
    finish() {
      draw(true);
    },
  };
}
