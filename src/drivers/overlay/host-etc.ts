// What of the host's /etc a `rootfs: {host: {}}` container may see. An allowlist (what programs
// need to start, resolve names and verify TLS), checked again against a denylist so that a later
// edit of the allowlist cannot let a secret through. Account files are filtered to system
// accounts. Pure, except for the lists being read by host-root.ts.

/** Files and symlinks copied when present. */
export const ETC_FILES: readonly string[] = [
  'passwd', 'group', 'hosts', 'nsswitch.conf', 'host.conf', 'gai.conf', 'protocols', 'services', 'networks', 'rpc', 'ethertypes',
  'ld.so.cache', 'ld.so.conf', 'localtime', 'timezone', 'os-release', 'debian_version', 'lsb-release', 'issue',
  'shells', 'profile', 'bash.bashrc', 'inputrc', 'mime.types', 'magic', 'magic.mime', 'locale.alias', 'xattr.conf',
  'ca-certificates.conf', 'ssl/openssl.cnf', 'mtab',
];

/** Directories copied whole (regular files, symlinks and subdirectories). */
export const ETC_DIRS: readonly string[] = ['ld.so.conf.d', 'alternatives', 'ssl/certs', 'profile.d', 'terminfo'];

/** Never copied, wherever they appear: credentials, keys, host identity. */
const DENY = [
  /(^|\/)g?shadow-?$/, /(^|\/)(passwd|group)-$/, /(^|\/)sudoers(\.d)?(\/|$)/, /(^|\/)ssh(\/|$)/, /(^|\/)\.ssh(\/|$)/,
  /(^|\/)ssl\/private(\/|$)/, /\.(key|pem-key)$/, /(^|\/)id_(rsa|dsa|ecdsa|ed25519)/, /keytab$/, /(^|\/)machine-id$/,
  /(^|\/)(subuid|subgid|opasswd|security)(\/|$)/,
];

/** True when a path relative to /etc must never reach a container. */
export function deniedEtcPath(rel: string): boolean {
  return DENY.some((re) => re.test(rel));
}

/** System accounts: uid below 1000, and nobody. */
export function isSystemId(id: number): boolean {
  return id < 1000 || id === 65534;
}

/**
 * /etc/passwd reduced to system accounts, with any password field forced to `x` (hashes belong
 * in shadow, which is never copied). NIS `+`/`-` lines are dropped.
 */
export function filterPasswd(text: string): { text: string; users: Set<string> } {
  const users = new Set<string>();
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length !== 7 || /^[+-]/.test(line)) continue;
    const uid = Number(f[2]);
    if (!Number.isInteger(uid) || !isSystemId(uid)) continue;
    users.add(f[0]!);
    lines.push([f[0], 'x', ...f.slice(2)].join(':'));
  }
  return { text: lines.length ? `${lines.join('\n')}\n` : '', users };
}

/** /etc/group reduced to system groups whose member lists name only kept users. */
export function filterGroup(text: string, users: ReadonlySet<string>): string {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length !== 4 || /^[+-]/.test(line)) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid) || !isSystemId(gid)) continue;
    const members = f[3]!.split(',').filter((m) => m !== '' && users.has(m));
    lines.push([f[0], 'x', f[2], members.join(',')].join(':'));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
