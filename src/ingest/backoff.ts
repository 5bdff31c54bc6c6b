/** Exponential reconnect delays with jitter, so many cameras do not retry in step. */
import type { ReconnectConfig } from '../config/schema.js';

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly config: ReconnectConfig,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next try; each call counts as one more failure. */
  next(): number {
    const { initial_ms, max_ms, multiplier, jitter } = this.config;
    const base = Math.min(max_ms, initial_ms * Math.pow(Math.max(1, multiplier), this.attempt));
    this.attempt++;
    const spread = Math.min(1, Math.max(0, jitter));
    return Math.max(0, Math.round(base * (1 + spread * (2 * this.random() - 1))));
  }

  /** After a healthy connection: the next failure starts from initial_ms again. */
  reset(): void {
    this.attempt = 0;
  }
}
