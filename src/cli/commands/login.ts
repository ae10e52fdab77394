// corral login REGISTRY / corral logout REGISTRY: keeps registry credentials where every pull reads
// them (src/drivers/overlay/images/registry/credentials.ts), after checking them with the
// registry. The password comes from stdin (`--password-stdin`, for scripts) or a prompt on a
// terminal that does not echo it; never from an argument, which `ps` and shell history would show.

import { Command } from 'commander';
import { login, logout, registryHost } from '../../drivers/overlay/index.js';
import { CorralError } from '../../errors.js';
import { contextFrom } from '../context.js';

const MAX_SECRET = 64 << 10;

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.length > MAX_SECRET) throw new CorralError('CLI_USAGE', `the password on stdin is longer than ${MAX_SECRET} bytes`);
  }
  return text.replace(/\r?\n$/, '');
}

/** One line from the terminal; not echoed when `hidden`. Ctrl-C aborts. */
function ask(question: string, hidden: boolean): Promise<string> {
  const input = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err: Error | null): void => {
      input.removeListener('data', onData);
      if (hidden) input.setRawMode(false);
      input.pause();
      if (hidden) process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new CorralError('CLI_USAGE', 'login cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    if (hidden) input.setRawMode(true);
    input.resume();
    input.on('data', onData);
  });
}

export function loginCommand(): Command {
  return new Command('login')
    .description('check credentials with a registry and keep them for pulls')
    .argument('<registry>', 'registry host: `registry.example.com`, `127.0.0.1:5000`, `docker.io`')
    .option('-u, --username <user>', 'user name (asked on a terminal when left out)')
    .option('--password-stdin', 'read the password from stdin (for scripts)')
    .option('--authfile <file>', 'credential file to write (default: $CORRAL_AUTH_FILE, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, else /etc/containers/auth.json)')
    .addHelpText('after', [
      '',
      'The credentials are checked with the registry first: nothing is written when it refuses them.',
      'The file is the one podman and skopeo read too; pulls by corral read it, as does the agent.',
      '',
      'Exit status: 0 when the registry accepted the credentials and they were saved, 1 otherwise.',
    ].join('\n'))
    .action(async (rawRegistry: string, opts: { username?: string; passwordStdin?: boolean; authfile?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const registry = registryHost(rawRegistry);
      const terminal = process.stdin.isTTY === true;
      if (!opts.passwordStdin && !terminal) {
        throw new CorralError('CLI_USAGE', 'no terminal to ask the password on', { hint: 'pipe it in with `--password-stdin` (and give `--username`)' });
      }
      if (opts.passwordStdin && !opts.username) throw new CorralError('CLI_USAGE', '`--password-stdin` needs `--username`');
      const username = opts.username ?? (await ask('Username: ', false));
      const password = opts.passwordStdin ? await readStdin() : await ask('Password: ', true);
      if (username === '' || password === '') throw new CorralError('CLI_USAGE', 'the user name and the password must not be empty');
      const file = await login(registry, username, password, { ...(opts.authfile ? { file: opts.authfile } : {}) });
      ctx.out(`Login succeeded: credentials for ${registry} saved in ${file}`);
    });
}

export function logoutCommand(): Command {
  return new Command('logout')
    .description('forget the credentials kept for a registry')
    .argument('<registry>', 'registry host')
    .option('--authfile <file>', 'credential file (default: as for `corral login`)')
    .addHelpText('after', '\nExit status: 0 when credentials were removed, 1 when the file had none for the registry.')
    .action(async (rawRegistry: string, opts: { authfile?: string }, command: Command) => {
      const ctx = contextFrom(command);
      const registry = registryHost(rawRegistry);
      const file = logout(registry, { ...(opts.authfile ? { file: opts.authfile } : {}) });
      if (file === null) throw new CorralError('REGISTRY_AUTH_FAILED', `no credentials for ${registry} to remove`, { hint: 'see which file holds them: `corral login --help`' });
      ctx.out(`Removed the credentials for ${registry} from ${file}`);
    });
}
