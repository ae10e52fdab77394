// A module that reads the host as it loads, the way no module of the CLI may
// (snapshot-modules.test.ts): snapshot-load-probe.mjs must see all three reads.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export const facts = { cpus: cpus().length, home: process.env['HOME'], status: readFileSync('/proc/self/status', 'utf8').length };
