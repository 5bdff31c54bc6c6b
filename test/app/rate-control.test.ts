/** Whole-service frame totals that the adaptive rate strategy works from. */
import { describe, expect, it } from 'vitest';
import { frameTotals } from '../../src/app/rate-control.js';

describe('frameTotals', () => {
  it('sums frames in, frames out and every drop reason over the cameras, with the engine busy time', () => {
    const totals = frameTotals(
      [
        { frames_in: 100, frames_out: 80, drops: { overwritten: 15, stale: 5 } },
        { frames_in: 40, frames_out: 40, drops: {} },
        { frames_in: 10, frames_out: 3, drops: { busy: 7 } },
      ],
      { busyMs: 1234, poolSize: 3 },
    );
    expect(totals).toEqual({ offered: 150, inferred: 123, dropped: 27, engineBusyMs: 1234, engineWorkers: 3 });
  });

  it('is all zero with no cameras', () => {
    expect(frameTotals([], { busyMs: 0, poolSize: 1 })).toEqual({ offered: 0, inferred: 0, dropped: 0, engineBusyMs: 0, engineWorkers: 1 });
  });
});
