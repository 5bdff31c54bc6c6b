/** Wiring for the adaptive rate strategy (streams.strategy: adaptive). */
import type { CameraStatus } from '../contracts/camera.js';
import type { FrameTotals } from '../ingest/rate-governor.js';

/** Whole-service frame counters for the adaptive strategy: what reached the rings, what was inferred, what was dropped. */
export function frameTotals(
  cameras: readonly Pick<CameraStatus, 'frames_in' | 'frames_out' | 'drops'>[],
  engine: { readonly busyMs: number; readonly poolSize: number },
): FrameTotals {
  const totals = { inferred: 0, offered: 0, dropped: 0, engineBusyMs: engine.busyMs, engineWorkers: engine.poolSize };
  for (const status of cameras) {
    totals.offered += status.frames_in;
    totals.inferred += status.frames_out;
    for (const n of Object.values(status.drops)) totals.dropped += n;
  }
  return totals;
}
