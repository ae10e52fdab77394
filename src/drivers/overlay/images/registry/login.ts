// `corral login` and `corral logout`: credentials checked against the registry's API root before
// they are kept (a typo is found now, not at the next start at 3 a.m.), then written where every
// pull reads them (./credentials.ts › loginFile).

import { CorralError } from '../../../../errors.js';
import { isRegistryReference, parseReference, registryEndpointHost } from '../../../../manifest/image-reference.js';
import type { HttpGet } from './http.js';
import { plainHttpAllowed, RegistryClient } from './client.js';
import { loginFile, removeCredentials, saveCredentials } from './credentials.js';

export interface LoginOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The credential file to write (default: loginFile). */
  readonly file?: string;
  readonly http?: HttpGet;
}

/**
 * `host[:port]` from what people type: `127.0.0.1:5000`, `registry.example.com`,
 * `https://index.docker.io/v1/` (Docker's key for Docker Hub), `docker.io`.
 */
export function registryHost(text: string): string {
  const bare = text.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  let parsed: string | null = null;
  try {
    // A first component without a dot, a port or `localhost` is a Docker Hub path, not a host.
    if (isRegistryReference(`${bare}/x`)) parsed = parseReference(`${bare}/x`).registry;
  } catch {
    // Reported below, with the grammar.
  }
  if (parsed === null) {
    throw new CorralError('IMAGE_REFERENCE_INVALID', `\`${text}\` is not a registry host`, {
      detail: 'a registry is a DNS name with a dot, `localhost` or an IP address, with an optional `:PORT`',
      hint: 'for example `corral login registry.example.com` or `corral login 127.0.0.1:5000`',
    });
  }
  return parsed;
}

/** Checks `username`/`password` against `registry` and keeps them; returns the file written. */
export async function login(registry: string, username: string, password: string, options: LoginOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const file = options.file ?? loginFile(env);
  const client = new RegistryClient({
    endpoint: registryEndpointHost(registry),
    insecure: plainHttpAllowed(registry, env),
    credentials: { username, password, source: 'the command line' },
    ...(options.http ? { http: options.http } : {}),
  });
  await client.checkAccess();
  saveCredentials(file, registry, username, password);
  return file;
}

/** Forgets the credentials of `registry`; the file, or null when it had none. */
export function logout(registry: string, options: Omit<LoginOptions, 'http'> = {}): string | null {
  const file = options.file ?? loginFile(options.env ?? process.env);
  return removeCredentials(file, registry) ? file : null;
}
