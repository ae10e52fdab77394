// Entry point of the `corral` command: global options, subcommands, and the one place errors
// become messages and exit codes.

import { Command, CommanderError, Option } from 'commander';
import { isCorralError } from '../errors.js';
import { agentCommand } from './commands/agent.js';
import { eventsCommand } from './commands/events.js';
import { execCommand } from './commands/exec.js';
import { gcCommand } from './commands/gc.js';
import { imageCommand } from './commands/image.js';
import { infoCommand } from './commands/info.js';
import { inspectCommand } from './commands/inspect.js';
import { restartCommand, startCommand, stopCommand } from './commands/lifecycle.js';
import { killCommand } from './commands/kill.js';
import { logsCommand } from './commands/logs.js';
import { planCommand } from './commands/plan.js';
import { psCommand } from './commands/ps.js';
import { reconcileCommand } from './commands/reconcile.js';
import { stateCommand } from './commands/state.js';
import { statusCommand } from './commands/status.js';
import { validateCommand } from './commands/validate.js';
import { volumeCommand } from './commands/volume.js';
import { VERSION } from './version.js';
import { layout } from '../state/layout.js';
import { collect, DEFAULT_ROOT } from './context.js';
import { EXIT } from './exit-codes.js';
import { LOG_LEVELS } from './logging.js';
import { styler } from './style.js';
import { renderDiagnostic } from './views/diagnostics.js';
import { environmentError } from './environment.js';

export { VERSION };

export function buildProgram(): Command {
  const program = new Command('corral')
    .description('Declarative single-host containers: namespaces, cgroups and overlayfs, converged from YAML manifests.')
    .version(VERSION, '-V, --version', 'print the corral version')
    .option('--root <dir>', `state root (env CORRAL_ROOT, default ${DEFAULT_ROOT})`)
    .option('--dir <dir>', 'manifest directory (env CORRAL_MANIFESTS, default ./manifests)')
    .addOption(new Option('--log-level <level>', 'log detail on stderr (env CORRAL_LOG_LEVEL, default info)').choices(LOG_LEVELS))
    .option('--host-label <key=value>', 'a label of this host for `spec.hosts` selectors (repeatable; adds to /etc/corral/host-labels)', collect)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false);
  for (const command of [
    validateCommand(), planCommand(), reconcileCommand(), psCommand(), inspectCommand(), logsCommand(),
    startCommand(), stopCommand(), restartCommand(), killCommand(), agentCommand(), statusCommand(), eventsCommand(),
    infoCommand(), imageCommand(), volumeCommand(), gcCommand(), stateCommand(),
    // The drivers load only for commands that touch the host, so `validate` starts fast.
    execCommand({ findRunning: async (name, ctx) => (await import('./exec-target.js')).findRunning(name, ctx, layout(ctx.root)) }),
  ]) program.addCommand(command);
  for (const command of program.commands) command.showHelpAfterError('(run with --help for usage)');
  return program;
}

/** Every command and subcommand returns to main() instead of exiting on its own. */
function overrideExits(command: Command): void {
  command.exitOverride();
  for (const c of command.commands) overrideExits(c);
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  overrideExits(program);
  // `corral logs x | head`: a reader that went away ends the output quietly, as for cat.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.OK);
    throw err;
  });
  try {
    await program.parseAsync([...argv], { from: 'node' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.ERROR;
    }
    const style = styler(process.stderr);
    const environmental = environmentError(err, rootOf(argv));
    if (environmental) {
      process.stderr.write(`${renderDiagnostic(environmental.toDiagnostic(), style)}\n`);
      return EXIT.ERROR;
    }
    if (isCorralError(err)) {
      process.stderr.write(`${renderDiagnostic(err.toDiagnostic(), style)}\n`);
      for (const d of err.diagnostics) process.stderr.write(`${renderDiagnostic(d, style)}\n`);
      return EXIT.ERROR;
    }
    process.stderr.write(`corral: internal error (a bug; please report it): ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.ERROR;
  }
}

/** The state root the command line names (for errors that carry no path of their own). */
function rootOf(argv: readonly string[]): string {
  const i = argv.indexOf('--root');
  return (i >= 0 ? argv[i + 1] : undefined) ?? process.env['CORRAL_ROOT'] ?? DEFAULT_ROOT;
}
