import { describe, expect, it } from 'vitest';
import { defaultMaxBatch, defaultMaxWaitMs, parseDeviceIds } from '../../src/engine/provider.js';
import { sessionOptions } from '../../src/engine/session-options.js';

describe('GPU sizes', () => {
  it('max_batch and max_wait_ms -1 take the provider default; configured ones are kept', () => {
    expect(defaultMaxBatch('cpu', { max_batch: -1 })).toBe(8);
    expect(defaultMaxBatch('cuda', { max_batch: -1 })).toBe(32);
    expect(defaultMaxWaitMs('cpu', { max_wait_ms: -1 })).toBe(0);
    expect(defaultMaxWaitMs('cuda', { max_wait_ms: -1 })).toBe(10);
    expect(defaultMaxWaitMs('cpu', { max_wait_ms: 4 })).toBe(4);
    expect(defaultMaxBatch('cuda', { max_batch: 64 })).toBe(64);
    expect(defaultMaxBatch('cpu', { max_batch: 4 })).toBe(4);
  });

  it('device_ids: empty is GPU 0, a list is parsed and de-duplicated, junk is refused', () => {
    expect(parseDeviceIds('')).toEqual([0]);
    expect(parseDeviceIds(' 0, 1,3,1 ')).toEqual([0, 1, 3]);
    expect(() => parseDeviceIds('0;1')).toThrow(/GPU numbers separated by commas/);
    expect(() => parseDeviceIds('gpu0')).toThrow(/device_ids/);
  });

  it('CUDA sessions name their device; CPU sessions do not', () => {
    expect(sessionOptions('cuda', 2, 3).executionProviders).toEqual([{ name: 'cuda', deviceId: 3 }]);
    expect(sessionOptions('cpu', 1).executionProviders).toEqual(['cpu']);
  });
});
