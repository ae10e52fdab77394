// corral stop|start|restart NAME: imperative conveniences. They act on one container with its
// last applied spec, under the state lock, and the next reconcile respects them: a container
// stopped by hand stays stopped until its manifest changes or `corral start`.

import { Command } from 'commander';
import { EventLog, eventLogPath, eventsFromPass } from '../../agent/events.js';
import { CorralError } from '../../errors.js';
import { apply } from '../../reconciler/apply.js';
import { inspect } from '../../reconciler/inspect.js';
import { refresh } from '../../reconciler/plan/refresh.js';
import { PLAN_FORMAT_VERSION, type Action, type Change, type Plan } from '../../reconciler/plan/types.js';
import { reason } from '../../reconciler/plan/reasons.js';
import { plannedPulls } from '../../reconciler/plan/pulls.js';
import { transition, type ContainerRecord } from '../../state/record.js';
import { contextFrom } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { DEFAULT_STEP_TIMEOUT_MS, lock, lockTimeoutOption, openHost } from '../open-host.js';
import { checkName } from '../names.js';

type Verb = 'stop' | 'start' | 'restart';

function lifecycleCommand(verb: Verb, description: string): Command {
  return new Command(verb)
    .description(description)
    .argument('<name>', 'container name')
    .addOption(lockTimeoutOption())
    .action(async (rawName: string, opts: { lockTimeout?: string }, command: Command) => {
      const name = checkName(rawName);
      const ctx = contextFrom(command);
      const host = await openHost(ctx);
      const held = await lock(ctx, `corral ${verb} ${name}`, opts.lockTimeout);
      try {
        const loaded = await host.store.load();
        const damaged = loaded.unknown.find((u) => u.name === name);
        if (damaged) {
          throw new CorralError('STATE_CORRUPT', `state record \`${damaged.file}\` cannot be read: ${damaged.reason}`, {
            container: name, hint: `\`corral state repair ${name}\` rebuilds it from what the host shows`,
          });
        }
        const stored = loaded.records.find((r) => r.name === name);
        if (!stored) throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\``, { hint: 'see `corral ps`; containers are created by `corral reconcile --once`' });
        const actual = await inspect([stored], loaded.serial, host.ports);
        const record = refresh(actual.containers[0]!, new Date());
        const live = actual.containers[0]!.live.process;
        const running = live === 'running' || live === 'unmonitored';
        // A container whose monitor died is not running as it should: `start` restarts it under a new one.
        const action: Action = verb === 'stop' ? (running ? 'stop' : 'none')
          : verb === 'start' ? (live === 'running' ? 'none' : running ? 'restart' : 'start') : running ? 'restart' : 'start';
        if (record !== stored) await host.store.put(record);
        if (action === 'none') {
          if (verb === 'start' && record.desiredState === 'stopped') await host.store.put({ ...record, desiredState: 'running' });
          // Not running: an exited or failed container is now stopped by hand (no restart, no retry).
          if (verb === 'stop' && record.desiredState !== 'stopped') {
            const settled = ['exited', 'crashloop', 'failed'].includes(record.status);
            await host.store.put(settled ? transition(record, 'stopped', { desiredState: 'stopped' }) : { ...record, desiredState: 'stopped' });
          }
          ctx.out(`${name}: already ${verb === 'stop' ? 'stopped' : 'running'}`);
          return;
        }
        if (action === 'stop') {
          const dependents = runningDependents(loaded.records, name);
          if (dependents.length > 0) {
            ctx.logger.warn(`${dependents.map((d) => `\`${d}\``).join(', ')} ${dependents.length === 1 ? 'depends' : 'depend'} on \`${name}\` and ${dependents.length === 1 ? 'keeps' : 'keep'} running without it`, {
              container: name, dependents,
            });
          }
        }
        const change: Change = {
          name, action, reasons: [reason('requested', `corral ${verb}`)], diff: [], before: record.spec, after: record.spec, afterHash: record.hash,
          afterReferences: record.references, origin: record.origin, requiresReplace: [], notBefore: null, warnings: [],
        };
        const plan: Plan = {
          formatVersion: PLAN_FORMAT_VERSION, createdAt: new Date().toISOString(), stateSerial: host.store.currentSerial,
          changes: [change], networks: [], orphans: [], pulls: plannedPulls([change]), diagnostics: [], complete: true, errored: false,
        };
        const records = new Map([[name, (await host.store.get(name))!]]);
        const result = await apply(plan, records, host.ports, host.store, {}, { parallelism: 1, stepTimeoutMs: DEFAULT_STEP_TIMEOUT_MS, now: () => new Date() }, new AbortController().signal);
        const r = result.results[0];
        // What a person did by hand is a fact of the host's history too (`corral events`).
        await new EventLog(eventLogPath(host.layout)).append(eventsFromPass(plan, result.results, result.diagnostics, new Date()));
        if (!r?.ok) throw new CorralError('APPLY_FAILED', `${verb} \`${name}\`: ${r?.error?.summary ?? 'failed'}`, { container: name });
        ctx.out(`${name}: ${verb === 'stop' ? 'stopped' : verb === 'start' ? 'started' : 'restarted'}`);
        process.exitCode = EXIT.OK;
      } finally {
        held.dispose();
      }
    });
}

/**
 * Containers running on a last applied spec that needs `name`: they name it in `dependsOn` or
 * join its network namespace. A stop by hand does not reach them (only a start is ordered), so
 * the user is told.
 */
export function runningDependents(records: readonly ContainerRecord[], name: string): string[] {
  return records.filter((r) => r.name !== name && r.status === 'running' && (r.spec.dependsOn.includes(name)
    || (r.spec.namespaces.network.kind === 'container' && r.spec.namespaces.network.container === name))).map((r) => r.name).sort();
}

export const stopCommand = () => lifecycleCommand('stop', 'stop a container; it stays stopped until `corral start` or a change of its manifest');
export const startCommand = () => lifecycleCommand('start', 'start a stopped container with its last applied spec');
export const restartCommand = () => lifecycleCommand('restart', 'restart a container with its last applied spec');
