// A layer unpacked while it downloads: the bytes the client writes to the staging blob also go
// through the unpack (inflate, diff_id, archive checks) at once, so the network and the inflate
// overlap and the blob is never read back. When that cannot be (the registry ignored a `Range`
// and the bytes start again), the layer is unpacked from the finished blob file instead.

import { mkdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { removeTree } from '../../fs-util.js';
import { unpackBlob, unpackStream, type BlobExpectations, type UnpackedBlob } from '../blob.js';
import type { BlobSink } from './client.js';

/** Bytes buffered ahead of the unpack before the download waits for it. */
const AHEAD = 1 << 20;

export class LayerFeed implements Pick<BlobSink, 'data' | 'restart'> {
  private feed: PassThrough | null = null;
  private unpacking: Promise<UnpackedBlob> | null = null;
  /** Settles (never rejects) when the unpack ends either way: a waiting write must not hang on it. */
  private ended: Promise<void> = Promise.resolve();
  private streaming = true;

  constructor(
    private readonly dest: string,
    private readonly what: string,
    private readonly expect: BlobExpectations,
  ) {}

  async data(bytes: Buffer): Promise<void> {
    if (!this.streaming) return;
    if (this.feed === null) {
      const feed = new PassThrough({ highWaterMark: AHEAD });
      this.feed = feed;
      this.unpacking = unpackStream(feed, this.dest, this.what, this.expect, { devices: 'refuse' });
      this.ended = this.unpacking.then(() => undefined, () => undefined);
    }
    if (!this.feed.write(bytes)) {
      const feed = this.feed;
      await Promise.race([new Promise<void>((resolve) => feed.once('drain', resolve)), this.ended]);
    }
  }

  restart(): void {
    this.stopStreaming();
  }

  /** After the download verified: the unpacked layer (from the stream, or from `file`). */
  async finish(file: string): Promise<UnpackedBlob> {
    if (this.streaming && this.feed !== null && this.unpacking !== null) {
      this.feed.end();
      return this.unpacking;
    }
    // A stream stopped by a restart may still be writing: it ends before the tree starts over.
    this.stopStreaming();
    await this.ended;
    removeTree(this.dest);
    mkdirSync(this.dest, { recursive: true, mode: 0o755 });
    return unpackBlob(file, this.dest, this.what, this.expect, { devices: 'refuse' });
  }

  /** The download failed: the unpack stops, its tree goes. */
  async abandon(): Promise<void> {
    this.stopStreaming();
    await this.ended;
    removeTree(this.dest);
  }

  private stopStreaming(): void {
    this.streaming = false;
    this.feed?.destroy(new Error('layer download restarted'));
    this.feed = null;
  }
}
