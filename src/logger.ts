// The logger every layer below the CLI receives from its caller: a narrow interface, so the agent
// and the drivers never import the CLI. src/cli/logging.ts makes the real one (winston).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): unknown;
  error(message: string, fields?: LogFields): unknown;
  warn(message: string, fields?: LogFields): unknown;
  info(message: string, fields?: LogFields): unknown;
  debug(message: string, fields?: LogFields): unknown;
}

/** For callers that want no output (tests, one-shot probes). */
export const silentLogger: Logger = {
  log: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
