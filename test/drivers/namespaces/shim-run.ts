// Runs the shim's check-spec mode on raw bytes: what it printed, its exit status and stderr.

import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface CheckResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly status: string;
}

export function checkSpec(shim: string, bytes: Buffer): Promise<CheckResult> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.endsWith('SAN_OPTIONS')));
    const child = spawn(shim, ['check-spec'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let status = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    (child.stdio[4] as Readable).on('data', (d: Buffer) => { status += d.toString(); });
    const w = child.stdio[3] as Writable;
    w.on('error', () => undefined);
    w.end(bytes);
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, status }));
  });
}
