// corral's nftables table on the host: applied from ruleset.ts's rendering, listed back, and
// compared at every pass with the listing taken after corral last applied it (drift).
// `<root>/network/table.nft` is what was applied, `table.listed` what the kernel gave back.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '../../../errors.js';
import { readText, replaceFile } from './files.js';
import { renderDeletion } from './ruleset.js';
import { nft } from './tools.js';

async function listTable(table: string, signal: AbortSignal): Promise<string | null> {
  try {
    return await nft(`list table inet ${table}\n`, signal, `read the nftables table \`inet ${table}\``);
  } catch (err) {
    if (err instanceof CorralError && /No such file or directory/.test(err.message)) return null;
    throw err;
  }
}

export class Table {
  private readonly applied: string;
  private readonly listed: string;

  constructor(private readonly dir: string, private readonly name: string) {
    this.applied = join(dir, 'table.nft');
    this.listed = join(dir, 'table.listed');
  }

  /** Whether corral has applied a table here (and not deleted it since). */
  exists(): boolean {
    return readText(this.applied) !== null;
  }

  /**
   * Makes the kernel's table `text`: applied when it differs from what was applied last, or when
   * the kernel's listing differs from the one taken then. Returns what it repaired.
   */
  async sync(text: string, signal: AbortSignal): Promise<string[]> {
    const changed = readText(this.applied) !== text;
    const live = await listTable(this.name, signal);
    const baseline = readText(this.listed);
    if (!changed && live !== null && live === baseline) return [];
    // Replaced whole in one transaction, then listed: the listing is what the next pass compares.
    rmSync(this.listed, { force: true });
    await nft(text, signal, `apply the nftables table \`inet ${this.name}\``);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    replaceFile(this.applied, text);
    replaceFile(this.listed, (await listTable(this.name, signal)) ?? '');
    // The pass's own changes are no repair; a table gone or altered behind corral's back is.
    if (changed || baseline === null) return [];
    return [live === null
      ? `the nftables table \`inet ${this.name}\` was missing (a firewall reload or \`nft flush ruleset\`?): restored`
      : `the nftables table \`inet ${this.name}\` was changed outside corral: restored`];
  }

  /** Deletes the table (and nothing else). Idempotent. */
  async remove(signal: AbortSignal): Promise<void> {
    if ((await listTable(this.name, signal)) !== null) await nft(renderDeletion(this.name), signal, `delete the nftables table \`inet ${this.name}\``);
    rmSync(this.applied, { force: true });
    rmSync(this.listed, { force: true });
  }
}
