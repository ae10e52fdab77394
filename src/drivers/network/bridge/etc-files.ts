// The two files a bridged container gets from corral: `/etc/hosts` (localhost, itself, and every
// container on its network by name and alias) and `/etc/resolv.conf` (the manifest's `dns`, or the
// host's resolvers). Written under the container's own directory and bound read-only over the
// image's, so nothing is ever written through a path the image controls. Pure.

export interface HostEntry {
  readonly address: string;
  /** On a network with IPv6: the second line for the same names. */
  readonly address6?: string | undefined;
  readonly names: readonly string[];
}

export function renderHosts(self: HostEntry, peers: readonly HostEntry[]): string {
  const lines = (e: HostEntry): string[] => {
    const names = [...new Set(e.names)].join(' ');
    return [`${e.address}\t${names}`, ...(e.address6 ? [`${e.address6}\t${names}`] : [])];
  };
  const others = [...peers].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return [
    '# Written by corral: this container and its neighbours on the bridge.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    ...lines(self),
    ...others.flatMap(lines),
    '',
  ].join('\n');
}

export interface ResolverConfig {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
}

export function renderResolvConf(config: ResolverConfig, origin: string): string {
  return [
    `# Written by corral: ${origin}.`,
    ...config.nameservers.map((n) => `nameserver ${n}`),
    ...(config.search.length > 0 ? [`search ${config.search.join(' ')}`] : []),
    ...(config.options.length > 0 ? [`options ${config.options.join(' ')}`] : []),
    '',
  ].join('\n');
}

const LOOPBACK = /^(127\.|::1$|0\.0\.0\.0$)/;

/**
 * The host's resolver configuration as a container can use it: loopback servers (a local cache,
 * systemd-resolved's stub at 127.0.0.53) are unreachable from a container and left out.
 */
export function parseResolvConf(text: string): ResolverConfig & { readonly loopbackOnly: boolean } {
  const nameservers: string[] = [];
  let search: string[] = [];
  let options: string[] = [];
  let loopback = 0;
  for (const raw of text.split('\n')) {
    const [key, ...values] = raw.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (key === 'nameserver' && values[0]) {
      if (LOOPBACK.test(values[0])) loopback++;
      else nameservers.push(values[0]);
    } else if (key === 'search' || key === 'domain') {
      search = values.filter(Boolean);
    } else if (key === 'options') {
      options = values.filter(Boolean);
    }
  }
  return { nameservers: nameservers.slice(0, 3), search, options, loopbackOnly: nameservers.length === 0 && loopback > 0 };
}
