// A raw tar writer for tests: it writes exactly what it is told, including what a careful archiver
// refuses to write (`../` names, absolute paths, links out of the tree, device nodes), so the image
// store can be tested against hostile archives. PAX headers carry long names and xattrs.

import { gzipSync } from 'node:zlib';

export type TarSpec =
  | { type: 'file'; path: string; content?: string | Buffer; mode?: number; uid?: number; gid?: number; xattrs?: Record<string, string | Buffer> }
  | { type: 'dir'; path: string; mode?: number; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'hardlink'; path: string; target: string }
  | { type: 'char' | 'block'; path: string; major: number; minor: number }
  | { type: 'fifo'; path: string; mode?: number };

const FLAGS = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
}

function paxBody(records: Array<[string, Buffer]>): Buffer {
  const parts = records.map(([key, value]) => {
    const tail = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    let len = tail.length + 1;
    while (String(len).length + tail.length !== len) len = String(len).length + tail.length;
    return Buffer.concat([Buffer.from(String(len)), tail]);
  });
  return Buffer.concat(parts);
}

function header(name: string, flag: string, size: number, opts: { mode?: number; uid?: number; gid?: number; linkname?: string; major?: number; minor?: number; mtime?: number }): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 100, 'utf8');
  octal(h, 100, 8, opts.mode ?? 0o644);
  octal(h, 108, 8, opts.uid ?? 0);
  octal(h, 116, 8, opts.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, opts.mtime ?? 1_700_000_000);
  h.write(flag, 156, 1, 'latin1');
  h.write((opts.linkname ?? '').slice(0, 100), 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  octal(h, 329, 8, opts.major ?? 0);
  octal(h, 337, 8, opts.minor ?? 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

export function tarBytes(entries: readonly TarSpec[], options: { end?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const pax: Array<[string, Buffer]> = [];
    if (Buffer.byteLength(e.path) > 100) pax.push(['path', Buffer.from(e.path)]);
    const link = e.type === 'symlink' || e.type === 'hardlink' ? e.target : undefined;
    if (link !== undefined && Buffer.byteLength(link) > 100) pax.push(['linkpath', Buffer.from(link)]);
    if (e.type === 'file') for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, Buffer.from(v)]);
    if (pax.length) {
      const body = paxBody(pax);
      out.push(header('PaxHeader', 'x', body.length, {}), pad(body));
    }
    const content = e.type === 'file' ? Buffer.from(e.content ?? '') : Buffer.alloc(0);
    out.push(header(e.path, FLAGS[e.type], content.length, {
      mode: 'mode' in e && e.mode !== undefined ? e.mode : e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644,
      uid: 'uid' in e ? e.uid : 0,
      gid: 'gid' in e ? e.gid : 0,
      ...(link !== undefined ? { linkname: link } : {}),
      ...(e.type === 'char' || e.type === 'block' ? { major: e.major, minor: e.minor } : {}),
    }));
    if (content.length) out.push(pad(content));
  }
  if (options.end !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

export function tarGz(entries: readonly TarSpec[]): Buffer {
  return gzipSync(tarBytes(entries));
}
