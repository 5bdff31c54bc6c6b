/**
 * Exponential retry delays with jitter, so many cameras (or upload workers)
 * do not retry in step. One formula for every retry loop in the service.
 */

export interface BackoffPolicy {
  initial_ms: number;
  max_ms: number;
  multiplier: number;
  /** Fraction of the delay added or removed at random (0..1). */
  jitter: number;
}

/** The delay after `failures` earlier failures (0 = the first retry). */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const { initial_ms, max_ms, multiplier, jitter } = policy;
  // The exponent is capped so that a long outage cannot overflow to Infinity × 0.
  const base = Math.min(max_ms, initial_ms * Math.max(1, multiplier) ** Math.min(failures, 64));
  const spread = Math.min(1, Math.max(0, jitter));
  return Math.max(0, Math.round(base * (1 + spread * (2 * random() - 1))));
}

/** Counts failures and hands out the next delay. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next try; each call counts as one more failure. */
  next(): number {
    return backoffDelay(this.attempt++, this.policy, this.random);
  }

  /** After a healthy connection: the next failure starts from initial_ms again. */
  reset(): void {
    this.attempt = 0;
  }
}
