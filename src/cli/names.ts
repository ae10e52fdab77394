// Every container or volume name a command takes becomes a path under the state root: it is
// checked first, so `corral inspect ../../x` is a usage error, never a read outside the root.

import { CorralError } from '../errors.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkName(name: string, what = 'container name'): string {
  if (!DNS_LABEL.test(name)) {
    throw new CorralError('CLI_USAGE', `${what} \`${name}\` is not a DNS label`, {
      hint: 'lower-case letters, digits and `-`, at most 63, starting and ending with a letter or digit',
    });
  }
  return name;
}
