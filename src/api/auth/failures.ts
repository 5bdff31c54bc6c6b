/**
 * Failed authentications per client IP: a token bucket of
 * `maxPerMinute` attempts refilled over a minute. Driven by the caller's
 * clock (no timers), bounded in size (the least recently failing IPs are
 * forgotten first).
 */
const WINDOW_MS = 60_000;
const MAX_TRACKED = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxPerMinute: number) {}

  /** Seconds until `ip` may try again, or 0 when it may now. */
  retryAfterS(ip: string, nowMs: number): number {
    const bucket = this.refill(ip, nowMs);
    if (bucket === null || bucket.tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * WINDOW_MS) / this.maxPerMinute / 1000));
  }

  /** Records one failure for `ip`. */
  fail(ip: string, nowMs: number): void {
    const bucket = this.refill(ip, nowMs) ?? { tokens: this.maxPerMinute, at: nowMs };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    // Re-inserted so the Map's order is least recently failing first.
    this.buckets.delete(ip);
    this.buckets.set(ip, bucket);
    if (this.buckets.size > MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value as string);
  }

  private refill(ip: string, nowMs: number): Bucket | null {
    const bucket = this.buckets.get(ip);
    if (!bucket) return null;
    bucket.tokens = Math.min(this.maxPerMinute, bucket.tokens + ((nowMs - bucket.at) * this.maxPerMinute) / WINDOW_MS);
    bucket.at = nowMs;
    if (bucket.tokens >= this.maxPerMinute) this.buckets.delete(ip);
    return bucket;
  }
}
