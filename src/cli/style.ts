// Terminal colour, only when the stream is a TTY and NO_COLOR is unset (https://no-color.org).

import { styleText } from 'node:util';

export type Color = 'red' | 'green' | 'yellow' | 'cyan' | 'bold' | 'dim' | 'magenta';

export interface Styler {
  (color: Color, text: string): string;
  readonly enabled: boolean;
}

export function styler(stream: NodeJS.WriteStream = process.stdout): Styler {
  const enabled = stream.isTTY === true && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';
  const fn = ((color: Color, text: string) => (enabled ? styleText(color, text) : text)) as Styler;
  Object.defineProperty(fn, 'enabled', { value: enabled });
  return fn;
}
