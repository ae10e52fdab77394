// libnftables (Debian `libnftables1`, what the `nft` command is built on) through koffi: the same
// parser, the same netlink transaction, the same listing text, without a process per command
// (about 4 ms each here). One context per process, its output and errors buffered; loaded on
// first use, and null when the library is missing (the caller runs `nft` instead).

import type { LibraryHandle } from 'koffi';
import { koffi } from './libc.js';

type KoffiFunction = ReturnType<LibraryHandle['func']>;

interface Bound {
  readonly ctx: unknown;
  readonly run: KoffiFunction;
  readonly output: KoffiFunction;
  readonly error: KoffiFunction;
}

let bound: Bound | null | undefined;

function bind(): Bound | null {
  if (bound !== undefined) return bound;
  try {
    const lib = koffi().load('libnftables.so.1');
    const ctxNew = lib.func('void *nft_ctx_new(uint32_t flags)');
    const ctx: unknown = ctxNew(0);
    if (ctx === null) throw new Error('nft_ctx_new failed');
    lib.func('int nft_ctx_buffer_output(void *ctx)')(ctx);
    lib.func('int nft_ctx_buffer_error(void *ctx)')(ctx);
    bound = {
      ctx,
      run: lib.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
      output: lib.func('const char *nft_ctx_get_output_buffer(void *ctx)'),
      error: lib.func('const char *nft_ctx_get_error_buffer(void *ctx)'),
    };
  } catch {
    bound = null;
  }
  return bound;
}

export type NftResult = { readonly ok: true; readonly output: string } | { readonly ok: false; readonly error: string };

/** Runs nft commands (the text of an `nft -f` file, or one command); null when libnftables is missing. */
export function nftRun(commands: string): NftResult | null {
  const b = bind();
  if (b === null) return null;
  const status = Number(b.run(b.ctx, commands));
  // Both buffers are read after every run: reading rewinds them for the next one.
  const output = String(b.output(b.ctx) ?? '');
  const error = String(b.error(b.ctx) ?? '');
  return status === 0 ? { ok: true, output } : { ok: false, error: error.trim() || `nft exited with status ${status}` };
}
