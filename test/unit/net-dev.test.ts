// /proc/net/dev as the bridge driver reads it for network metrics (src/sys/net-dev.ts).

import { describe, expect, test } from '@jest/globals';
import { parseNetDev } from '../../src/sys/net-dev.js';

const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
cv0123456789: 1500 10 0 0 0 0 0 0 98765 40 0 0 0 0 0 0
  eth0:bad line
`;

describe('net/dev', () => {
  test('receive and transmit bytes by interface; malformed lines left out', () => {
    const m = parseNetDev(SAMPLE);
    expect(m.get('lo')).toEqual({ receiveBytes: 123456, transmitBytes: 123456 });
    expect(m.get('cv0123456789')).toEqual({ receiveBytes: 1500, transmitBytes: 98765 });
    expect(m.has('eth0')).toBe(false);
  });
});
