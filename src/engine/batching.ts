/**
 * The batching policy: decides when the dispatcher forms a batch and which
 * cameras ("lanes") it takes frames from, in Triton's terms (max batch size,
 * max queue delay). One interface, so another policy can replace it without
 * touching the dispatcher. Planning allocates nothing.
 */

export interface BatchingPolicy {
  readonly maxBatch: number;
  /**
   * Called whenever frames may have arrived or capacity freed up.
   * `ready[lane]` is 1 when that lane has a frame; `lanes` is how many lanes
   * exist. When `canDispatch` and a batch should start now, writes the lanes
   * to take from into `order` (at most one frame per lane, fair order) and
   * returns how many; otherwise returns 0.
   */
  plan(ready: Uint8Array, lanes: number, nowMs: number, order: Int32Array, canDispatch: boolean): number;
  /** When plan() will say yes with no new frame (Infinity when nothing waits). */
  nextDecisionAt(): number;
  /** The lane served last in the batch just formed: the next batch starts after it. */
  served(lane: number): void;
  /** Lanes were renumbered (a camera left): restart the fair order. */
  lanesChanged(lanes: number): void;
}

export interface DynamicBatchingOptions {
  /** Largest batch (Triton max_batch_size). */
  maxBatch: number;
  /** Longest the first waiting frame waits for the batch to fill (Triton max_queue_delay). */
  maxWaitMs: number;
}

/**
 * Dispatch as soon as the batch is full, i.e. `maxBatch` frames or one from
 * every lane (a lane gives at most one frame per batch, so waiting for more
 * is pointless), else when the first waiting frame has waited `maxWaitMs`.
 * Lanes are served round-robin from the one after the lane served last, so
 * a camera that always has frames cannot starve the others.
 */
export class DynamicBatching implements BatchingPolicy {
  readonly maxBatch: number;
  private readonly maxWaitMs: number;
  private cursor = -1;
  /** When a ready frame was first seen waiting; NaN when none waits. */
  private waitingSince = Number.NaN;

  constructor(options: DynamicBatchingOptions) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`max_batch must be an integer ≥ 1, got ${options.maxBatch}`);
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`max_wait_ms must be ≥ 0, got ${options.maxWaitMs}`);
    this.maxBatch = options.maxBatch;
    this.maxWaitMs = options.maxWaitMs;
  }

  plan(ready: Uint8Array, lanes: number, nowMs: number, order: Int32Array, canDispatch: boolean): number {
    let readyCount = 0;
    for (let i = 0; i < lanes; i++) readyCount += ready[i] as number;
    if (readyCount === 0) {
      this.waitingSince = Number.NaN;
      return 0;
    }
    if (Number.isNaN(this.waitingSince)) this.waitingSince = nowMs;
    if (!canDispatch) return 0;
    const full = Math.min(this.maxBatch, lanes);
    if (readyCount < full && nowMs - this.waitingSince < this.maxWaitMs) return 0;
    const start = this.cursor + 1;
    let taken = 0;
    for (let k = 0; k < lanes && taken < this.maxBatch; k++) {
      const lane = (start + k) % lanes;
      if (ready[lane] === 1) order[taken++] = lane;
    }
    // Frames left behind have waited as long as those taken: keep their clock.
    if (taken === readyCount) this.waitingSince = Number.NaN;
    return taken;
  }

  nextDecisionAt(): number {
    return Number.isNaN(this.waitingSince) ? Number.POSITIVE_INFINITY : this.waitingSince + this.maxWaitMs;
  }

  served(lane: number): void {
    this.cursor = lane;
  }

  lanesChanged(lanes: number): void {
    if (this.cursor >= lanes) this.cursor = -1;
  }
}
