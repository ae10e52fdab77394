// corral inspect NAME: everything corral knows about one container, as JSON.

import { Command } from 'commander';
import { CorralError } from '../../errors.js';
import { inspect as inspectHost } from '../../reconciler/inspect.js';
import { contextFrom } from '../context.js';
import { openHost } from '../open-host.js';
import { checkName } from '../names.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('print the state record of a container with what the host says about it, as JSON')
    .argument('<name>', 'container name')
    .action(async (rawName: string, _opts: unknown, command: Command) => {
      const name = checkName(rawName);
      const ctx = contextFrom(command);
      const host = await openHost(ctx, { observeOnly: true });
      const record = await host.store.get(name);
      if (!record) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\` in \`${host.layout.stateDir}\``, { hint: 'see `corral ps`' });
      const actual = await inspectHost([record], 0, host.ports);
      const live = actual.containers[0]!.live;
      const stats = (live.process === 'running' || live.process === 'unmonitored') && record.cgroup !== null ? await host.ports.cgroups.stats(record.cgroup).catch(() => null) : null;
      ctx.out(JSON.stringify({ ...record, live: { ...live, stats }, paths: host.layout.container(name) }, null, 2));
    });
}
