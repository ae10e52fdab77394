// Block devices for I/O throttles: the kernel wants `major:minor` of a whole disk, manifests name a
// device path.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { CorralError } from '../../errors.js';
import { deviceNumber } from './convert.js';

export type DeviceResolver = (path: string) => string;

/**
 * `major:minor` of a block device path. Refuses what the kernel would refuse later with a bare
 * ENODEV or EINVAL: a missing path, a non-block file, a partition (throttles apply to whole disks).
 */
export const resolveBlockDevice: DeviceResolver = (path) => {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (err) {
    throw new CorralError('HOST_UNSUPPORTED', `io limit device \`${path}\` does not exist on this host`, { cause: err });
  }
  if (!st.isBlockDevice()) throw new CorralError('HOST_UNSUPPORTED', `io limit device \`${path}\` is not a block device`);
  const number = deviceNumber(st.rdev);
  const sys = `/sys/dev/block/${number}`;
  if (existsSync(`${sys}/partition`)) {
    let disk = '';
    try {
      disk = readFileSync(`${dirname(realpathSync(sys))}/dev`, 'utf8').trim();
    } catch {
      disk = '';
    }
    throw new CorralError('HOST_UNSUPPORTED', `io limit device \`${path}\` (${number}) is a partition; the kernel throttles whole disks only`, {
      hint: disk ? `use the disk \`/dev/${basename(dirname(realpathSync(sys)))}\` (${disk})` : undefined,
    });
  }
  return number;
};
