// Signal names and numbers for Linux (x86-64 and arm64 share these numbers). Pure.

import type { ParseResult } from './quantity.js';

export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
  SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
};

const SIGRTMIN = 34;
const SIGRTMAX = 64;

export interface Signal {
  readonly name: string;
  readonly number: number;
}

const EXPECTED = 'a signal name such as `SIGTERM` or `TERM`, or a number from 1 to 64';

/** Accepts `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`; returns the canonical name and number. */
export function parseSignal(input: string | number): ParseResult<Signal> {
  if (typeof input === 'number' || /^[0-9]+$/.test(input)) return signalFromNumber(Number(input));
  const upper = input.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const known = SIGNALS[name];
  if (known !== undefined) return { ok: true, value: { name, number: known } };
  const rt = /^SIGRT(MIN|MAX)([+-][0-9]+)?$/.exec(name);
  if (rt) return signalFromNumber((rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0));
  return { ok: false, expected: EXPECTED };
}

function signalFromNumber(n: number): ParseResult<Signal> {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX || n === 32 || n === 33) {
    return { ok: false, expected: `${EXPECTED} (32 and 33 are reserved by libc)` };
  }
  const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === n) ?? `SIGRTMIN+${n - SIGRTMIN}`;
  return { ok: true, value: { name, number: n } };
}

export function signalName(n: number): string {
  const r = signalFromNumber(n);
  return r.ok ? r.value.name : `signal ${n}`;
}
