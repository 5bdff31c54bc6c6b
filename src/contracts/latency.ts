/** Percentiles of a recent latency window, in ms. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  count: number;
}
