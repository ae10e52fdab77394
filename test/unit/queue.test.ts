import { describe, expect, test } from '@jest/globals';
import { TerminalError, WorkQueue, type HandlerResult } from '../../src/reconciler/queue.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await tick();
  }
}

describe('work queue', () => {
  test('adds before a run coalesce; an add during a run runs once more afterwards; never concurrently', async () => {
    let active = 0;
    let maxActive = 0;
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const q = new WorkQueue(async (key) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(key);
      await new Promise<void>((r) => { release = r; });
      active--;
      return { kind: 'done' };
    }, { timeoutMs: 10_000, baseBackoffMs: 5, maxBackoffMs: 100 });
    const ac = new AbortController();
    for (let i = 0; i < 100; i++) q.add('all', `event ${i}`);
    const loop = q.run(ac.signal);
    await until(() => calls.length === 1);
    q.add('all', 'during');
    q.add('all', 'during again');
    release();
    await until(() => calls.length === 2);
    release();
    await tick(30);
    expect(calls).toEqual(['all', 'all']);
    expect(maxActive).toBe(1);
    ac.abort();
    await loop;
  });

  test('failures are retried with growing backoff; success resets it; terminal errors are not retried', async () => {
    const outcomes: Array<HandlerResult | 'fail' | 'terminal'> = ['fail', 'fail', { kind: 'done' }, 'terminal'];
    const retries: number[] = [];
    let calls = 0;
    const q = new WorkQueue(async () => {
      const o = outcomes[calls++];
      if (o === 'fail') throw new Error('boom');
      if (o === 'terminal') throw new TerminalError('MANIFEST_YAML_SYNTAX', 'bad manifest');
      return o ?? { kind: 'done' };
    }, { timeoutMs: 1000, baseBackoffMs: 10, maxBackoffMs: 1000, onResult: (_k, r) => { if (r.retryInMs) retries.push(r.retryInMs); } });
    const ac = new AbortController();
    q.add('all', 'start');
    const loop = q.run(ac.signal);
    await until(() => calls === 3);
    expect(retries).toEqual([10, 20]);
    q.add('all', 'edit');
    await until(() => calls === 4);
    await tick(50);
    expect(calls).toBe(4);
    ac.abort();
    await loop;
  });

  test('`after` requeues without counting as a failure', async () => {
    let calls = 0;
    const q = new WorkQueue(async () => (++calls === 1 ? { kind: 'after', ms: 20 } : { kind: 'done' }), { timeoutMs: 1000, baseBackoffMs: 10, maxBackoffMs: 1000 });
    const ac = new AbortController();
    q.add('all', 'start');
    const loop = q.run(ac.signal);
    await until(() => calls === 2);
    ac.abort();
    await loop;
  });
});
