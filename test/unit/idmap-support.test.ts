import { describe, expect, test } from '@jest/globals';
import { idmapSupported, kernelVersion } from '../../src/drivers/namespaces/idmap-support.js';

describe('idmapped layers need Linux 6.13', () => {
  test('kernel releases', () => {
    expect(kernelVersion('6.18.44-fc-v1098')).toEqual([6, 18]);
    expect(kernelVersion('weird')).toBeNull();
    expect(['6.1.0-50-amd64', '5.15.0', '6.12.9', 'x'].map(idmapSupported)).toEqual([false, false, false, false]);
    expect(['6.13.0', '6.18.44-fc-v1098', '7.0'].map(idmapSupported)).toEqual([true, true, true]);
  });
});
