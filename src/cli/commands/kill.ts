// corral kill NAME [-s SIGNAL]: sends a signal to the container's PID 1 (`nginx` reloads on HUP),
// through a pidfd checked against the process's start time, so a recycled pid is never hit. It
// changes no record: what the signal causes (an exit) is what the next reconcile sees. The act is
// an event (`corral events`).

import { Command } from 'commander';
import { EventLog, eventLogPath } from '../../agent/events.js';
import { CorralError } from '../../errors.js';
import { parseSignal } from '../../manifest/signal.js';
import { contextFrom } from '../context.js';
import { openHost } from '../open-host.js';
import { checkName } from '../names.js';

export function killCommand(): Command {
  return new Command('kill')
    .description("send a signal to a running container's PID 1 (default SIGTERM)")
    .argument('<name>', 'container name')
    .option('-s, --signal <signal>', 'signal name or number: `HUP`, `SIGUSR1`, `9`', 'SIGTERM')
    .addHelpText('after', [
      '',
      'A PID 1 receives only the signals it has a handler for (the kernel drops the others for the',
      'init of a pid namespace), except SIGKILL; with `spec.init: true` PID 1 is corral\'s init, which',
      'passes every signal on to the command. The record is not changed: a container that exits is',
      'restarted by the next reconcile or the agent as its restartPolicy says.',
      '',
      'Exit status: 0 when the signal was sent, 1 otherwise (not running, unknown container or signal).',
    ].join('\n'))
    .action(async (rawName: string, opts: { signal: string }, command: Command) => {
      const name = checkName(rawName);
      const parsed = parseSignal(opts.signal);
      if (!parsed.ok) throw new CorralError('CLI_USAGE', `--signal \`${opts.signal}\` is not ${parsed.expected}`);
      const ctx = contextFrom(command);
      const host = await openHost(ctx);
      const record = await host.store.get(name);
      if (!record) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`' });
      const sent = await host.ports.runtime.signal(name, record.runtime, parsed.value.number);
      if (!sent) throw new CorralError('CONTAINER_NOT_RUNNING', `container \`${name}\` is not running`, { container: name, hint: `start it with \`corral start ${name}\`` });
      await new EventLog(eventLogPath(host.layout)).append([{
        time: new Date().toISOString(), kind: 'signaled', container: name, message: `corral kill: ${parsed.value.name} sent to PID 1`,
      }]);
      ctx.out(`${name}: ${parsed.value.name} sent`);
    });
}
