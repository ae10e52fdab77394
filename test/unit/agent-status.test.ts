// `corral status`'s one word (src/agent/status-file.ts › agentHealth): a pass with nothing to
// change is not `ok` while a manifest has errors or a container waits for a retry.

import { describe, expect, test } from '@jest/globals';
import { agentHealth, type AgentStatus } from '../../src/agent/status-file.js';

const base: AgentStatus = {
  pid: 1, pidStartTime: null, version: 'x', startedAt: '2026-12-03T00:00:00.000Z', manifestDir: '/m', reconciles: 3, pendingErrors: [],
  lastReconcile: { at: '2026-12-03T00:00:01.000Z', durationMs: 5, result: 'ok', changed: false, summary: 'no changes', reasons: [], failing: [] },
};

describe('agent health', () => {
  test('ok, degraded by a pending error, a failed pass or a failing container; not running', () => {
    expect(agentHealth(base, true)).toBe('ok');
    expect(agentHealth({ ...base, pendingErrors: [{ severity: 'error', code: 'MANIFEST_YAML_SYNTAX', summary: 'bad' }] }, true)).toBe('degraded');
    expect(agentHealth({ ...base, lastReconcile: { ...base.lastReconcile!, result: 'failed' } }, true)).toBe('degraded');
    expect(agentHealth({ ...base, lastReconcile: { ...base.lastReconcile!, failing: ['web'] } }, true)).toBe('degraded');
    // A status file written by an older agent has no `failing`.
    const { failing: _old, ...older } = base.lastReconcile!;
    expect(agentHealth({ ...base, lastReconcile: older }, true)).toBe('ok');
    expect(agentHealth(base, false)).toBe('not-running');
  });
});
