// ShimError: what went wrong in the shim, in the shape of execa's error (stage, exit code,
// signal, short message, stderr, cause), carrying a stable corral code.

import { constants } from 'node:os';
import { CorralError, type ErrorCode } from '../../errors.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

export interface ShimErrorInit {
  /** The setup step that failed: `mount`, `pivot_root`, `setuid`, `spec`... */
  readonly stage: string;
  readonly errno?: number;
  readonly detail?: string;
  readonly exitCode?: number | null;
  readonly signal?: NodeJS.Signals | null;
  readonly stderr?: string;
  readonly container?: string;
  readonly isCanceled?: boolean;
  readonly cause?: unknown;
}

const brand: unique symbol = Symbol.for('corral.shim-error');

export class ShimError extends CorralError {
  readonly [brand] = true;
  readonly stage: string;
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** One line for logs: `mount /proc: EPERM`. */
  readonly shortMessage: string;
  readonly stderr: string;
  readonly isCanceled: boolean;

  constructor(code: ErrorCode, init: ShimErrorInit) {
    const name = init.errno ? errnoName(init.errno) : undefined;
    const what = [init.stage, init.detail].filter(Boolean).join(' ');
    const shortMessage = name ? `${what}: ${name}` : what;
    super(code, init.container ? `container \`${init.container}\`: ${shortMessage}` : shortMessage, {
      ...(init.container ? { container: init.container } : {}),
      ...(init.stderr ? { detail: init.stderr.trim().slice(-2000) } : {}),
      cause: init.cause,
    });
    this.name = 'ShimError';
    this.stage = init.stage;
    this.errno = init.errno;
    this.errnoName = name;
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.shortMessage = shortMessage;
    this.stderr = init.stderr ?? '';
    this.isCanceled = init.isCanceled ?? false;
  }
}

export function isShimError(value: unknown): value is ShimError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true;
}
