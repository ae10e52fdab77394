// The runtime handle as the state record stores it: the monitor's and the init's pids with their
// start times, and where the shim keeps its files. Version 1 (handles written before versions
// carry none and read the same). Read back field by field.

import { HandleReader, type JsonObject } from '../../state/handle-reader.js';
import type { ProcessUser } from '../../reconciler/ports.js';
import type { Json } from '../../state/record.js';
import type { ProcessIdentity, RuntimeRecord } from './runtime.js';

const FORMAT_VERSION = 1;

export function encodeRuntimeHandle(r: RuntimeRecord): Json {
  return {
    formatVersion: FORMAT_VERSION,
    name: r.name,
    monitor: { pid: r.monitor.pid, startTime: r.monitor.startTime },
    init: { pid: r.init.pid, startTime: r.init.startTime },
    startedAtMs: r.startedAtMs,
    shimDir: r.shimDir,
    logDir: r.logDir,
    stopSignal: r.stopSignal,
    ...(r.user ? { user: { uid: r.user.uid, gid: r.user.gid, groups: [...r.user.groups], home: r.user.home } } : {}),
  };
}

function decodeUser(r: HandleReader, o: JsonObject): ProcessUser | undefined {
  if (o['user'] === undefined) return undefined;
  const u: JsonObject = r.object(o['user'], 'user');
  return { uid: r.number(u, 'uid'), gid: r.number(u, 'gid'), groups: r.numbers(u, 'groups'), home: r.stringOrNull(u, 'home') };
}

export function decodeRuntimeHandle(json: Json): RuntimeRecord {
  const r = new HandleReader('runtime handle');
  const o = r.object(json);
  r.version(o, [FORMAT_VERSION]);
  const identity = (field: string): ProcessIdentity => {
    const p: JsonObject = r.object(o[field], field);
    return { pid: r.number(p, 'pid'), startTime: r.number(p, 'startTime') };
  };
  const user = decodeUser(r, o);
  return {
    name: r.string(o, 'name'),
    monitor: identity('monitor'),
    init: identity('init'),
    startedAtMs: r.number(o, 'startedAtMs'),
    shimDir: r.string(o, 'shimDir'),
    logDir: r.string(o, 'logDir'),
    stopSignal: r.number(o, 'stopSignal'),
    ...(user ? { user } : {}),
  };
}
