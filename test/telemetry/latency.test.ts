import { describe, expect, it } from 'vitest';
import { RateMeter, SampleWindow } from '../../src/telemetry/latency.js';

describe('SampleWindow', () => {
  it('gives percentiles over the most recent samples only', () => {
    const w = new SampleWindow(100);
    for (let i = 1; i <= 1000; i++) w.record(i);
    expect(w.count).toBe(1000);
    expect(w.percentiles([50, 95, 99, 100])).toEqual([950, 995, 999, 1000]);
  });

  it('answers NaN when empty', () => {
    expect(new SampleWindow(4).percentiles([50])).toEqual([Number.NaN]);
  });
});

describe('RateMeter', () => {
  it('averages complete seconds over the window', () => {
    const r = new RateMeter(5);
    const t0 = 1_000_000;
    for (let s = 0; s < 10; s++) for (let k = 0; k < 4; k++) r.mark(t0 + s * 1000 + k * 100);
    expect(r.rate(t0 + 10_000)).toBe(4);
  });

  it('does not ramp up from zero over the first window', () => {
    const r = new RateMeter(5);
    const t0 = 2_000_000;
    for (let s = 0; s < 2; s++) for (let k = 0; k < 5; k++) r.mark(t0 + s * 1000 + k * 100);
    expect(r.rate(t0 + 2000)).toBe(5);
    expect(new RateMeter(5).rate(t0)).toBe(0);
  });

  it('falls to zero when marks stop', () => {
    const r = new RateMeter(5);
    const t0 = 3_000_000;
    for (let k = 0; k < 10; k++) r.mark(t0 + k * 50);
    expect(r.rate(t0 + 30_000)).toBe(0);
  });
});
