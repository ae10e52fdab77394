// A streaming tar reader for image layers: ustar, GNU long names and PAX headers, including the
// `SCHILY.xattr.*` records that carry file capabilities. node-tar's parser drops those records
// and normalizes paths on its own, so the store reads headers itself and decides every path and
// link policy in one place (unpack-layer.ts). Nothing here touches the filesystem.

import { CorralError } from '../../../errors.js';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** As written in the archive (PAX or GNU long name applied); policy is the caller's. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Seconds since the epoch, fractional when a PAX header gave one. */
  readonly mtime: number;
  readonly linkpath: string;
  readonly devmajor: number;
  readonly devminor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /** The entry's data. Read it to the end or not at all before the next entry is requested. */
  body(): AsyncGenerator<Buffer>;
}

const BLOCK = 512;
// PAX and GNU long-name records are metadata: far below this in any real archive.
const MAX_META_BYTES = 1 << 20;

function invalid(summary: string, detail?: string): CorralError {
  return new CorralError('IMAGE_INVALID', summary, detail === undefined ? {} : { detail });
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  /** Bytes handed out so far: the offset shown in error messages. */
  offset = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else if (next.value.length > 0) this.buf = this.buf.length ? Buffer.concat([this.buf, next.value]) : next.value;
    }
  }

  /** Exactly n bytes, or null at a clean end of stream. A partial block is an error. */
  async read(n: number): Promise<Buffer | null> {
    await this.fill(n);
    if (this.buf.length === 0) return null;
    if (this.buf.length < n) throw invalid(`archive ends in the middle of a block at byte ${this.offset + this.buf.length}`, 'the file is truncated');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  async *stream(n: number): AsyncGenerator<Buffer> {
    let remaining = n;
    while (remaining > 0) {
      if (this.buf.length === 0) await this.fill(1);
      if (this.buf.length === 0) throw invalid(`archive ends ${remaining} bytes before the end of an entry`, 'the file is truncated');
      const take = Math.min(remaining, this.buf.length);
      const chunk = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      remaining -= take;
      yield chunk;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) { /* discarded */ }
  }

  /** Reads to the end of the stream (digests cover trailing padding too). */
  async drain(): Promise<void> {
    this.offset += this.buf.length;
    this.buf = Buffer.alloc(0);
    while (!this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else this.offset += next.value.length;
    }
  }
}

function cString(block: Buffer, start: number, length: number): Buffer {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

function utf8(bytes: Buffer, what: string): string {
  const text = bytes.toString('utf8');
  // Linux names are bytes; a name that is not UTF-8 would be silently renamed by the round trip.
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw invalid(`${what} \`${text}\` is not valid UTF-8`);
  return text;
}

/** Octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
function numeric(block: Buffer, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] === 0xff) throw invalid(`header field ${what} is negative`);
    let value = BigInt(field[0]! & 0x7f);
    for (const b of field.subarray(1)) value = (value << 8n) | BigInt(b);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`header field ${what} is too large`);
    return Number(value);
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalid(`header field ${what} is not a number: \`${text.replace(/[^\x20-\x7e]/g, '?')}\``);
  return parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  let stored: number;
  try {
    stored = numeric(block, 148, 8, 'chksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  // Some historic tars summed signed chars; both are accepted, as GNU tar does.
  return stored === unsigned || stored === signed;
}

interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  xattrs: Map<string, Buffer>;
}

function parsePax(body: Buffer): PaxRecords {
  const out: PaxRecords = { xattrs: new Map() };
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break;
    const space = body.indexOf(0x20, pos);
    const len = space === -1 ? NaN : Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw invalid(`malformed PAX record at byte ${pos} of an extended header`);
    }
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw invalid(`PAX record without \`=\` at byte ${pos} of an extended header`);
    const key = record.toString('utf8', 0, eq);
    const value = record.subarray(eq + 1);
    const number = (): number => {
      const n = Number(value.toString('latin1'));
      if (!Number.isFinite(n) || n < 0) throw invalid(`PAX record \`${key}\` is not a number`);
      return n;
    };
    if (key === 'path') out.path = utf8(value, 'PAX path');
    else if (key === 'linkpath') out.linkpath = utf8(value, 'PAX linkpath');
    else if (key === 'size') out.size = number();
    else if (key === 'uid') out.uid = number();
    else if (key === 'gid') out.gid = number();
    else if (key === 'mtime') out.mtime = number();
    else if (key.startsWith('SCHILY.xattr.')) out.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      out.xattrs.set(decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(value.toString('latin1'), 'base64'));
    } else if (key.startsWith('GNU.sparse.')) throw invalid('sparse files (GNU.sparse PAX records) are not supported in image layers');
    pos += len;
  }
  return out;
}

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

/**
 * Yields the entries of a tar stream in order. The source is read to its very end, past the
 * end-of-archive blocks, so a digest computed over it covers every byte.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source);
  let pax: PaxRecords | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let sawHeader = false;

  for (;;) {
    const at = reader.offset;
    const block = await reader.read(BLOCK);
    if (block === null) {
      if (!sawHeader) throw invalid('not a tar archive: the stream is empty');
      break; // tolerated: archives that end without the two zero blocks
    }
    if (block.every((b) => b === 0)) break;
    if (!checksumOk(block)) {
      throw invalid(sawHeader ? `corrupt tar header at byte ${at} (checksum mismatch)` : 'not a tar archive (the first header has a bad checksum)');
    }
    sawHeader = true;
    const flag = String.fromCharCode(block[156]!);
    const size = numeric(block, 124, 12, 'size');

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META_BYTES) throw invalid(`metadata entry of ${size} bytes at byte ${at} exceeds the ${MAX_META_BYTES}-byte limit`);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      const body = padded === 0 ? Buffer.alloc(0) : await reader.read(padded);
      if (body === null) throw invalid(`archive ends inside a metadata entry at byte ${at}`);
      const data = body.subarray(0, size);
      if (flag === 'x') pax = parsePax(data);
      // Global PAX headers set defaults for later entries; layers do not use them, so they are read and ignored.
      else if (flag === 'L') longName = utf8(cString(data, 0, data.length), 'GNU long name');
      else if (flag === 'K') longLink = utf8(cString(data, 0, data.length), 'GNU long link name');
      continue;
    }

    let type = TYPES[flag];
    if (type === undefined) throw invalid(`unsupported tar entry type \`${flag.replace(/[^\x20-\x7e]/g, '?')}\` at byte ${at}`);

    const magic = block.toString('latin1', 257, 263);
    const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : Buffer.alloc(0);
    const name = cString(block, 0, 100);
    const rawName = prefix.length ? Buffer.concat([prefix, Buffer.from('/'), name]) : name;
    let path = pax?.path ?? longName ?? utf8(rawName, 'entry name');
    // Pre-POSIX archives mark directories only with a trailing slash.
    if (type === 'file' && flag !== '7' && path.endsWith('/')) type = 'dir';
    if (path.includes('\0')) throw invalid(`entry name at byte ${at} contains a NUL byte`);
    path = path.length > 1 ? path.replace(/\/+$/, '') : path;

    const entrySize = pax?.size ?? size;
    const dataSize = type === 'file' ? entrySize : 0;
    const entry: TarEntry = {
      path,
      type,
      mode: numeric(block, 100, 8, 'mode') & 0o7777,
      uid: pax?.uid ?? numeric(block, 108, 8, 'uid'),
      gid: pax?.gid ?? numeric(block, 116, 8, 'gid'),
      size: dataSize,
      mtime: pax?.mtime ?? numeric(block, 136, 12, 'mtime'),
      linkpath: pax?.linkpath ?? longLink ?? utf8(cString(block, 157, 100), 'link name'),
      devmajor: numeric(block, 329, 8, 'devmajor'),
      devminor: numeric(block, 337, 8, 'devminor'),
      xattrs: pax?.xattrs ?? new Map(),
      body: () => reader.stream(dataSize),
    };
    pax = undefined;
    longName = undefined;
    longLink = undefined;

    const before = reader.offset;
    yield entry;
    // Whatever the consumer left unread (or the whole body of a non-file entry) is skipped here.
    // Links, directories, devices and FIFOs are header-only whatever their size field says (as
    // Go's archive/tar reads them).
    const consumed = reader.offset - before;
    const bodyBytes = Math.ceil(dataSize / BLOCK) * BLOCK;
    if (consumed > bodyBytes) throw invalid('internal: read past the end of an entry');
    await reader.skip(bodyBytes - consumed);
  }
  await reader.drain();
}
