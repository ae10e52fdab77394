// Entry point of the `corral` command: global options, subcommands, and the one place errors
// become messages and exit codes.

import { Command, CommanderError, Option } from 'commander';
import { isCorralError } from '../errors.js';
import { VERSION } from './version.js';
import { layout } from '../state/layout.js';
import { collect, DEFAULT_ROOT } from './context.js';
import { EXIT } from './exit-codes.js';
import { LOG_LEVELS } from './logging.js';
import { styler } from './style.js';
import { renderDiagnostic } from './views/diagnostics.js';
import { environmentError } from './environment.js';
import { installNativeSha256 } from '../sys/native-sha256.js';

export { VERSION };

/**
 * Every subcommand, in the order `--help` lists them, each loaded only when asked for: run as
 * plain modules (no startup snapshot), `corral ps` should not pay for the others' modules. The
 * snapshot holds them all evaluated but `agent`'s (src/cli/snapshot-warm-up.ts).
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ['validate', async () => (await import('./commands/validate.js')).validateCommand()],
  ['export', async () => (await import('./commands/export.js')).exportCommand()],
  ['plan', async () => (await import('./commands/plan.js')).planCommand()],
  ['reconcile', async () => (await import('./commands/reconcile.js')).reconcileCommand()],
  ['ps', async () => (await import('./commands/ps.js')).psCommand()],
  ['inspect', async () => (await import('./commands/inspect.js')).inspectCommand()],
  ['logs', async () => (await import('./commands/logs.js')).logsCommand()],
  ['start', async () => (await import('./commands/lifecycle.js')).startCommand()],
  ['stop', async () => (await import('./commands/lifecycle.js')).stopCommand()],
  ['restart', async () => (await import('./commands/lifecycle.js')).restartCommand()],
  ['kill', async () => (await import('./commands/kill.js')).killCommand()],
  ['agent', async () => (await import('./commands/agent.js')).agentCommand()],
  ['status', async () => (await import('./commands/status.js')).statusCommand()],
  ['events', async () => (await import('./commands/events.js')).eventsCommand()],
  ['info', async () => (await import('./commands/info.js')).infoCommand()],
  ['image', async () => (await import('./commands/image.js')).imageCommand()],
  ['login', async () => (await import('./commands/login.js')).loginCommand()],
  ['logout', async () => (await import('./commands/login.js')).logoutCommand()],
  ['volume', async () => (await import('./commands/volume.js')).volumeCommand()],
  ['network', async () => (await import('./commands/network.js')).networkCommand()],
  ['gc', async () => (await import('./commands/gc.js')).gcCommand()],
  ['df', async () => (await import('./commands/df.js')).dfCommand()],
  ['state', async () => (await import('./commands/state.js')).stateCommand()],
  // The drivers load only for commands that touch the host, so `validate` starts fast.
  ['exec', async () => (await import('./commands/exec.js')).execCommand({
    findRunning: async (name, ctx) => (await import('./exec-target.js')).findRunning(name, ctx, layout(ctx.root)),
  })],
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([name]) => name);

/** Global options that take a value: the word after them is not the command's name. */
const VALUED_GLOBALS = new Set(['--root', '--dir', '--log-level', '--host-label', '--host-name']);

/**
 * The commands an argument vector needs: the one it names; none for a bare `--version`; all of
 * them otherwise (`--help`, `help`, an unknown or missing command: commander lists them or
 * suggests the nearest).
 */
export function commandsFor(args: readonly string[]): readonly string[] {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (VALUED_GLOBALS.has(arg)) {
      i++;
      continue;
    }
    if (arg === '--version' || arg === '-V') return [];
    if (arg.startsWith('-')) continue;
    return COMMAND_NAMES.includes(arg) ? [arg] : COMMAND_NAMES;
  }
  return COMMAND_NAMES;
}

/** The program with the given commands (all by default). */
export async function buildProgram(only: readonly string[] = COMMAND_NAMES): Promise<Command> {
  const program = new Command('corral')
    .description('Declarative single-host containers: namespaces, cgroups and overlayfs, converged from YAML manifests.')
    .version(VERSION, '-V, --version', 'print the corral version')
    .option('--root <dir>', `state root (env CORRAL_ROOT, default ${DEFAULT_ROOT})`)
    .option('--dir <dir>', 'manifest directory (env CORRAL_MANIFESTS, default ./manifests)')
    .addOption(new Option('--log-level <level>', 'log detail on stderr (env CORRAL_LOG_LEVEL, default info)').choices(LOG_LEVELS))
    .option('--host-label <key=value>', 'a label of this host for `spec.hosts` selectors (repeatable; adds to /etc/corral/host-labels)', collect)
    .option('--host-name <name>', 'the host name `spec.hosts.hostnames` is matched against, and that status and metrics report (env CORRAL_HOST_NAME, default the kernel\'s)')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false);
  const wanted = COMMANDS.filter(([name]) => only.includes(name));
  for (const command of await Promise.all(wanted.map(([, load]) => load()))) program.addCommand(command);
  for (const command of program.commands) command.showHelpAfterError('(run with --help for usage)');
  return program;
}

/** Every command and subcommand returns to main() instead of exiting on its own. */
function overrideExits(command: Command): void {
  command.exitOverride();
  for (const c of command.commands) overrideExits(c);
}

export async function main(argv: readonly string[]): Promise<number> {
  installNativeSha256();
  const program = await buildProgram(commandsFor(argv.slice(2)));
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
