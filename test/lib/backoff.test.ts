import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay } from '../../src/lib/backoff.js';

const reconnect = { initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.2, reset_after_ms: 60_000 };

describe('Backoff', () => {
  it('doubles from 0.5 s to a 30 s ceiling and starts over after reset', () => {
    const b = new Backoff(reconnect, () => 0.5); // 0.5 → no jitter
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.attempts).toBe(9);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('spreads each delay by ± jitter', () => {
    expect(new Backoff(reconnect, () => 0).next()).toBe(400);
    expect(new Backoff(reconnect, () => 1).next()).toBe(600);
    expect(new Backoff({ ...reconnect, jitter: 0 }, () => 0).next()).toBe(500);
  });
});

describe('backoffDelay', () => {
  it('stays at max_ms (± jitter) however long the outage, and starts at initial_ms', () => {
    const policy = { initial_ms: 40, max_ms: 200, multiplier: 2, jitter: 0 };
    expect(backoffDelay(0, policy)).toBe(40);
    expect(backoffDelay(2, policy)).toBe(160);
    expect(backoffDelay(3, policy)).toBe(200);
    expect(backoffDelay(100_000, policy)).toBe(200);
    expect(backoffDelay(100_000, { ...policy, jitter: 0.5 }, () => 1)).toBe(300);
  });
});
