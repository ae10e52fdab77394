// Plan values built by hand, for tests of what reads a plan (views, events, exit codes).

import { PLAN_FORMAT_VERSION, type Action, type Change, type Plan, type Reason } from '../../src/reconciler/plan/types.js';

export const NOW = new Date('2026-11-29T10:00:00.000Z');

export function change(name: string, action: Action, reasons: Reason[], notBefore: string | null = null): Change {
  return {
    name, action, reasons, diff: [], before: null, after: null, afterHash: null, afterReferences: {}, origin: null,
    requiresReplace: [], notBefore, warnings: [],
  };
}

export function planOf(...changes: Change[]): Plan {
  return { formatVersion: PLAN_FORMAT_VERSION, createdAt: NOW.toISOString(), stateSerial: 3, changes, networks: [], orphans: [], pulls: [], diagnostics: [], complete: true, errored: false };
}
