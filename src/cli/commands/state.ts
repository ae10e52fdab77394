// corral state check | repair NAME: the state records against the host. `check` reports every
// record that is damaged or disagrees with what runs; `repair` rebuilds an unreadable record from
// what the host shows (the monitor's own state file, the container's cgroups and directories), so
// the next reconcile can act on that container again instead of leaving it alone.

import { rename, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command } from 'commander';
import { CorralError } from '../../errors.js';
import { normalize } from '../../manifest/normalize.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import { refresh } from '../../reconciler/plan/refresh.js';
import { desiredFrom } from '../../reconciler/reconcile.js';
import { RECORD_FORMAT, unknownExit, type ContainerRecord } from '../../state/record.js';
import { contextFrom, outputFormat } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { loadDesired, lock, lockTimeoutOption, observe, openHost } from '../open-host.js';
import { checkName } from '../names.js';

interface CheckRow {
  readonly name: string;
  readonly record: 'ok' | 'recovered' | 'unreadable';
  readonly process: string | null;
  readonly problems: readonly string[];
}

function checkCommand(): Command {
  return new Command('check')
    .description('verify every state record, and that the host runs what the records say')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const format = outputFormat(opts.output);
      const host = await openHost(ctx, { observeOnly: true });
      const { loaded, actual } = await observe(host);
      const recovered = new Set(loaded.diagnostics.filter((d) => d.severity === 'warning' && d.container).map((d) => d.container!));
      const now = new Date();
      const rows: CheckRow[] = actual.containers.map((a) => {
        // What the next pass would record anyway (a job that exited, an exit to note) is no problem.
        const { live } = a;
        const record = refresh(a, now);
        const problems: string[] = [];
        if (recovered.has(record.name)) problems.push('the record file is damaged: its previous version was used (the next write replaces it)');
        const wantsRunning = record.status === 'running' && record.desiredState === 'running';
        if (live.process === 'unmonitored') problems.push('its monitor is gone: its exit would not be recorded (the next reconcile restarts it)');
        if (wantsRunning && live.process !== 'running' && live.process !== 'unmonitored') problems.push(`recorded running, but the process is ${live.process}`);
        if ((live.process === 'running' || live.process === 'unmonitored') && !live.cgroupPresent) problems.push('running without its cgroup: limits are not enforced');
        if (!live.rootfsPresent && record.rootfs !== null) problems.push('its container directory is missing');
        if (live.drift.length > 0) problems.push(`drift: ${live.drift.map((d) => d.path).join(', ')}`);
        return { name: record.name, record: recovered.has(record.name) ? 'recovered' : 'ok', process: live.process, problems };
      });
      for (const u of loaded.unknown) {
        rows.push({ name: u.name, record: 'unreadable', process: null, problems: [`${u.reason}: run \`corral state repair ${u.name}\``] });
      }
      rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const orphans = actual.orphans.map((o) => `${o.kind} \`${o.name}\`: ${o.detail}`);
      const bad = rows.filter((r) => r.problems.length > 0).length + orphans.length;
      if (format === 'json') {
        ctx.out(JSON.stringify({ ok: bad === 0, containers: rows, orphans: actual.orphans }, null, 2));
      } else {
        for (const r of rows) ctx.out(`${r.problems.length ? ctx.style('yellow', 'problem') : 'ok     '} ${r.name}${r.problems.length ? `: ${r.problems.join('; ')}` : ''}`);
        for (const o of orphans) ctx.out(`${ctx.style('yellow', 'orphan ')} ${o} (the next reconcile removes it)`);
        ctx.out(bad === 0 ? `${rows.length} records, all consistent with the host` : `${bad} problem${bad === 1 ? '' : 's'} in ${rows.length} records`);
      }
      process.exitCode = bad === 0 ? EXIT.OK : EXIT.ERROR;
    });
}

/** A spec for a container no manifest defines any more: defaults, so it can be stopped and removed. */
function placeholderSpec(name: string): ContainerSpec {
  return normalize({ apiVersion: 'corral/v1', kind: 'Container', metadata: { name }, spec: { rootfs: { host: {} }, command: ['/bin/true'] } }, '/');
}

function repairCommand(): Command {
  return new Command('repair')
    .description('rebuild the unreadable state record of NAME from what the host shows; the next reconcile restarts it with its manifest')
    .argument('<name>', 'container name')
    .addOption(lockTimeoutOption())
    .action(async (rawName: string, opts: { lockTimeout?: string }, command: Command) => {
      const name = checkName(rawName);
      const ctx = contextFrom(command);
      const host = await openHost(ctx);
      const held = await lock(ctx, `corral state repair ${name}`, opts.lockTimeout);
      try {
        const loaded = await host.store.load();
        if (loaded.records.some((r) => r.name === name)) {
          ctx.out(`${name}: its record is readable; nothing to repair (see \`corral state check\`)`);
          return;
        }
        const damaged = loaded.unknown.find((u) => u.name === name);
        const paths = host.layout.container(name);
        const [status, cgroups] = await Promise.all([host.ports.runtime.status(name, null), host.ports.cgroups.list()]);
        if (!damaged && status.runtime === null && !cgroups.includes(name) && !existsSync(paths.dir)) {
          throw new CorralError('CONTAINER_NOT_FOUND', `no container \`${name}\`: no record, no monitor, no cgroup, no directory`, { hint: 'see `corral ps`' });
        }
        const desired = (await desiredFrom(await loadDesired(ctx), host.ports)).containers.find((d) => d.spec.name === name);
        const now = new Date().toISOString();
        const alive = status.process === 'running' || status.process === 'unmonitored';
        const record: ContainerRecord = {
          format: RECORD_FORMAT, name, status: alive ? 'running' : 'exited', desiredState: 'running',
          spec: desired?.spec ?? placeholderSpec(name), hash: 'sha256:unknown', references: desired?.references ?? {}, origin: desired?.origin ?? null,
          createdAt: now, startedAt: status.startedAt, cgroup: null, rootfs: null, network: null, runtime: status.runtime, userRange: null,
          restarts: 0, lastExit: status.exit ?? (alive ? null : unknownExit(now)), backoff: { delayMs: 0, nextStartAt: null }, health: null,
          error: `record rebuilt from the host by \`corral state repair\` at ${now}`, serial: 0, specUnknown: true,
        };
        // The damaged files are kept for a human to look at, never deleted.
        if (damaged) {
          const aside = join(host.layout.stateDir, 'corrupt');
          await mkdir(aside, { recursive: true });
          for (const file of [damaged.file, `${damaged.file}.prev`]) {
            if (existsSync(file)) await rename(file, join(aside, `${basename(file)}.${Date.now()}`));
          }
        }
        await host.store.put(record);
        ctx.out(`${name}: record rebuilt from the host (${alive ? `running, pid ${status.runtime ? JSON.stringify((status.runtime as { init?: { pid?: number } }).init?.pid) : '?'}` : 'not running'}); `
          + `${desired ? 'the next reconcile restarts it with its manifest' : 'no manifest defines it: the next reconcile removes it'}`);
      } finally {
        held.dispose();
      }
    });
}

export function stateCommand(): Command {
  return new Command('state')
    .description('check the state records against the host, and repair an unreadable one')
    .addCommand(checkCommand())
    .addCommand(repairCommand());
}
