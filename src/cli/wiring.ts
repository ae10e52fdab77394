// Wires the real drivers into the reconciler's ports (the one place that knows both sides).

import { CorralError } from '../errors.js';
import type { Ports } from '../reconciler/ports.js';
import type { Layout } from '../state/layout.js';
import type { Logger } from './logging.js';

export interface HostOptions {
  /** Name of corral's own cgroup parent in each hierarchy. */
  readonly cgroupParent: string;
}

export async function createPorts(_layout: Layout, _logger: Logger, _options: HostOptions): Promise<Ports> {
  throw new CorralError('HOST_UNSUPPORTED', 'the drivers are not wired in this build');
}
