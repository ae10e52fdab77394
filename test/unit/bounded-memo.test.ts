// BoundedMemo: the agent's remembered answers never grow past their bound.
import { describe, expect, test } from '@jest/globals';
import { BoundedMemo } from '../../src/bounded-memo.js';

describe('a bounded memo', () => {
  test('makes an answer once per key, and is emptied whole when a new key would pass the bound', () => {
    const memo = new BoundedMemo<string, number>(2);
    let made = 0;
    const make = (n: number) => () => { made++; return n; };
    expect(memo.getOrMake('a', make(1))).toBe(1);
    expect(memo.getOrMake('a', make(9))).toBe(1);
    expect(memo.getOrMake('b', make(2))).toBe(2);
    expect(made).toBe(2);
    memo.set('b', 3); // a key it has: no clear
    expect(memo.size).toBe(2);
    expect(memo.getOrMake('c', make(4))).toBe(4);
    expect(memo.size).toBe(1);
    expect(memo.get('a')).toBeUndefined();
    memo.delete('c');
    expect(memo.size).toBe(0);
  });
});
