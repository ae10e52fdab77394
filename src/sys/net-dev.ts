// /proc/self/net/dev: byte counters of the interfaces of this process's network namespace. Not
// /sys/class/net, which shows the namespace of whoever mounted sysfs (an agent started with
// `nsenter --net=` in a test namespace would read the host's).

import { readFileSync } from 'node:fs';

export interface InterfaceCounters {
  readonly receiveBytes: number;
  readonly transmitBytes: number;
}

/** `eth0: 1234 5 0 …` lines by interface name (receive bytes first, transmit bytes ninth). */
export function parseNetDev(text: string): Map<string, InterfaceCounters> {
  const out = new Map<string, InterfaceCounters>();
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 9 || !Number.isFinite(fields[0]) || !Number.isFinite(fields[8])) continue;
    out.set(line.slice(0, colon).trim(), { receiveBytes: fields[0]!, transmitBytes: fields[8]! });
  }
  return out;
}

export function readNetDev(): Map<string, InterfaceCounters> {
  return parseNetDev(readFileSync('/proc/self/net/dev', 'utf8'));
}
