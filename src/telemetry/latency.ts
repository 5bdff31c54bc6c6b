/**
 * A fixed window of the most recent samples (e.g. latencies in ms) with
 * percentiles on demand. Recording allocates nothing.
 */
export class SampleWindow {
  private readonly samples: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  record(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.total++;
  }

  /** Samples recorded since creation (not only those in the window). */
  get count(): number {
    return this.total;
  }

  /** Percentiles (0..100) over the window; NaN when empty. */
  percentiles(ps: readonly number[]): number[] {
    if (this.filled === 0) return ps.map(() => Number.NaN);
    const view = this.scratch.subarray(0, this.filled);
    view.set(this.samples.subarray(0, this.filled));
    view.sort();
    return ps.map((p) => view[Math.min(this.filled - 1, Math.max(0, Math.ceil((p / 100) * this.filled) - 1))] as number);
  }

  reset(): void {
    this.next = 0;
    this.filled = 0;
  }
}

/** Events per second over a sliding window of whole seconds. */
export class RateMeter {
  private readonly buckets: Float64Array;
  private readonly stamps: Float64Array;
  /** Second of the first mark; -1 before any. */
  private firstSecond = -1;

  constructor(private readonly windowSeconds = 5) {
    this.buckets = new Float64Array(windowSeconds + 1);
    this.stamps = new Float64Array(windowSeconds + 1);
  }

  mark(nowMs: number = Date.now(), n = 1): void {
    const second = Math.floor(nowMs / 1000);
    if (this.firstSecond < 0) this.firstSecond = second;
    const i = second % this.buckets.length;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] as number) + n;
  }

  /**
   * Mean rate over the last `windowSeconds` complete seconds, or over the
   * complete seconds since the first mark when that is shorter (no ramp-up).
   */
  rate(nowMs: number = Date.now()): number {
    const current = Math.floor(nowMs / 1000);
    const seconds = Math.min(this.windowSeconds, current - this.firstSecond);
    if (this.firstSecond < 0 || seconds <= 0) return 0;
    let sum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const s = this.stamps[i] as number;
      if (s < current && s >= current - seconds) sum += this.buckets[i] as number;
    }
    return sum / seconds;
  }
}
