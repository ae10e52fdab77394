// Runs what the build of dist/corral.blob runs (src/cli/snapshot-warm-up.ts) with the host's
// readers trapped, and prints as JSON every read made from corral's code: the environment, the
// clock, os facts, the process's identity, files outside the checkout, child processes, koffi.
// What the build reads is frozen into the snapshot and served to every later run, on any host.
//   node test/cli/snapshot-load-probe.mjs   (from the checkout, after `npm run build`)

import childProcess from 'node:child_process';
import fs from 'node:fs';
import Module, { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const REPO = resolve(import.meta.dirname, '../..');
// CORRAL_PROBE_SELF_TEST: a module of the probe's own that reads the host at load counts as ours too.
const SELF_TEST = process.env['CORRAL_PROBE_SELF_TEST'] === '1';
const BAD = join(import.meta.dirname, 'snapshot-load-probe-bad.mjs');
const OURS = [`${join(REPO, 'dist')}/`, ...(SELF_TEST ? [BAD] : [])];
const reads = [];

/**
 * The frame that made the read, when it is corral's compiled code. Reads by Node itself or by a
 * library's function that corral calls (yaml reads LOG_STREAM at each parse) are not frozen.
 */
function ours() {
  const caller = new Error().stack.split('\n').slice(2).find((line) => !line.includes(import.meta.filename));
  return caller !== undefined && OURS.some((root) => caller.includes(root)) ? caller.trim() : null;
}

function note(what) {
  const where = ours();
  if (where !== null) reads.push({ what, where });
}

function trap(object, name, allowed = () => false) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = function trapped(...args) {
    if (!allowed(args)) note(`${name}(${typeof args[0] === 'string' ? JSON.stringify(args[0]) : ''})`);
    return original.apply(this, args);
  };
}

// Files: only the checkout's own (package.json, the schema, dist/) may be read.
const inCheckout = ([path]) => {
  const p = path instanceof URL ? path.pathname : typeof path === 'string' ? path : '';
  return p !== '' && resolve(p).startsWith(REPO + '/');
};
for (const name of Object.keys(fs)) if (/^[a-z]/.test(name) && typeof fs[name] === 'function' && !/Stream$|^watch/.test(name)) trap(fs, name, inCheckout);
for (const name of Object.keys(fs.promises)) trap(fs.promises, name, inCheckout);
for (const name of Object.keys(os)) if (typeof os[name] === 'function' && name !== 'EOL') trap(os, name);
for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync', 'fork']) trap(childProcess, name);
for (const name of ['cwd', 'getuid', 'geteuid', 'getgid', 'getegid', 'hrtime', 'cpuUsage', 'memoryUsage', 'uptime']) trap(process, name);
trap(Date, 'now');
trap(Math, 'random');
trap(performance, 'now');
const realEnv = process.env;
process.env = new Proxy(realEnv, {
  get(target, key) {
    if (typeof key === 'string') note(`process.env.${key}`);
    return Reflect.get(target, key);
  },
});
for (const name of ['pid', 'ppid', 'stdout', 'stderr', 'stdin']) {
  const descriptor = Object.getOwnPropertyDescriptor(process, name);
  if (descriptor === undefined) continue;
  const read = descriptor.get ?? (() => descriptor.value);
  Object.defineProperty(process, name, { configurable: true, enumerable: descriptor.enumerable, get() { note(`process.${name}`); return read.call(process); } });
}
const load = Module._load;
Module._load = function trappedLoad(request, ...rest) {
  if (request === 'koffi') note('koffi loaded');
  return load.call(this, request, ...rest);
};
trap(process, 'dlopen');
syncBuiltinESMExports();

if (SELF_TEST) await import(BAD);
const { warmUpForSnapshot } = await import(join(REPO, 'dist/cli/snapshot-warm-up.js'));
await warmUpForSnapshot(null);
process.env = realEnv;
process.stdout.write(`${JSON.stringify(reads)}\n`);
