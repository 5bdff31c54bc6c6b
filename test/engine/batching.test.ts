import { describe, expect, it } from 'vitest';
import { DynamicBatching } from '../../src/engine/batching.js';

function plan(policy: DynamicBatching, ready: number[], now: number, canDispatch = true): number[] {
  const order = new Int32Array(ready.length);
  const n = policy.plan(Uint8Array.from(ready), ready.length, now, order, canDispatch);
  const lanes = Array.from(order.subarray(0, n));
  if (n > 0) policy.served(lanes[n - 1]!);
  return lanes;
}

describe('DynamicBatching', () => {
  it('dispatches at once when every lane has a frame (a lane gives one frame per batch)', () => {
    const policy = new DynamicBatching({ maxBatch: 8, maxWaitMs: 50 });
    expect(plan(policy, [1, 1, 1], 1000)).toEqual([0, 1, 2]);
  });

  it('waits up to max_wait_ms for the batch to fill, then dispatches what it has', () => {
    const policy = new DynamicBatching({ maxBatch: 8, maxWaitMs: 50 });
    expect(plan(policy, [1, 0, 0], 1000)).toEqual([]);
    expect(policy.nextDecisionAt()).toBe(1050);
    expect(plan(policy, [1, 1, 0], 1049)).toEqual([]);
    expect(plan(policy, [1, 1, 0], 1050)).toEqual([0, 1]);
    expect(policy.nextDecisionAt()).toBe(Number.POSITIVE_INFINITY);
  });

  it('dispatches a full batch of max_batch without waiting and keeps the clock for frames left behind', () => {
    const policy = new DynamicBatching({ maxBatch: 2, maxWaitMs: 50 });
    expect(plan(policy, [1, 1, 1, 1, 1], 1000)).toEqual([0, 1]);
    // Three lanes still wait since t=1000; the next full batch goes at once.
    expect(policy.nextDecisionAt()).toBe(1050);
    expect(plan(policy, [0, 0, 1, 1, 1], 1001)).toEqual([2, 3]);
    // One lane left: not full, but it has waited since 1000.
    expect(plan(policy, [0, 0, 0, 0, 1], 1050)).toEqual([4]);
  });

  it('serves lanes round-robin from the one after the lane served last', () => {
    const policy = new DynamicBatching({ maxBatch: 1, maxWaitMs: 0 });
    const served: number[] = [];
    for (let t = 0; t < 6; t++) served.push(...plan(policy, [1, 1, 1], t));
    expect(served).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('does not let an always-ready lane starve one that is ready only sometimes', () => {
    const policy = new DynamicBatching({ maxBatch: 1, maxWaitMs: 0 });
    expect(plan(policy, [1, 0], 0)).toEqual([0]);
    expect(plan(policy, [1, 1], 1)).toEqual([1]);
    expect(plan(policy, [1, 1], 2)).toEqual([0]);
    expect(plan(policy, [1, 1], 3)).toEqual([1]);
  });

  it('never dispatches without capacity but starts the wait clock', () => {
    const policy = new DynamicBatching({ maxBatch: 4, maxWaitMs: 10 });
    expect(plan(policy, [1, 0], 100, false)).toEqual([]);
    expect(policy.nextDecisionAt()).toBe(110);
    expect(plan(policy, [1, 0], 120, true)).toEqual([0]);
  });

  it('forgets the wait when frames vanish and restarts the order when lanes shrink', () => {
    const policy = new DynamicBatching({ maxBatch: 4, maxWaitMs: 10 });
    plan(policy, [1, 0, 0], 0);
    expect(plan(policy, [0, 0, 0], 5)).toEqual([]);
    expect(policy.nextDecisionAt()).toBe(Number.POSITIVE_INFINITY);
    policy.served(2);
    policy.lanesChanged(2);
    expect(plan(policy, [1, 1], 100)).toEqual([0, 1]);
  });

  it('rejects nonsense limits', () => {
    expect(() => new DynamicBatching({ maxBatch: 0, maxWaitMs: 1 })).toThrow(/max_batch/);
    expect(() => new DynamicBatching({ maxBatch: 2, maxWaitMs: -1 })).toThrow(/max_wait_ms/);
  });
});
