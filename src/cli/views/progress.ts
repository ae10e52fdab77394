// Progress of a long apply on a terminal: one line per container as it starts and finishes.
// Off a terminal the same facts go to the log (JSON lines) instead.

import type { ApplyHooks } from '../../reconciler/apply.js';
import type { Logger } from '../../logger.js';
import { styler } from '../style.js';

export function progressHooks(stream: NodeJS.WriteStream, logger: Logger): ApplyHooks {
  if (!stream.isTTY) {
    return {
      postApply: (change, result) => logger.log(result.ok ? 'info' : 'error', `${change.action} ${change.name}: ${result.ok ? 'done' : result.error?.summary}`, { container: change.name, durationMs: result.durationMs }),
    };
  }
  const style = styler(stream);
  let done = 0;
  let total = 0;
  return {
    preApply: (change) => {
      total++;
      stream.write(`${style('dim', `[${done}/${total}]`)} ${change.action} ${change.name}...\n`);
    },
    postApply: (change, result) => {
      done++;
      const mark = result.ok ? style('green', '✓') : style('red', '✗');
      stream.write(`${style('dim', `[${done}/${total}]`)} ${mark} ${change.action} ${change.name} ${style('dim', `${result.durationMs} ms`)}${result.ok ? '' : `: ${result.error?.summary}`}\n`);
    },
    orphan: (orphan, ok) => stream.write(`${ok ? style('green', '✓') : style('red', '✗')} cleaned up orphan ${orphan.kind} ${orphan.name}\n`),
  };
}
