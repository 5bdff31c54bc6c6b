/** Per-camera output counters of the engine: results, drops by reason, latency, rate. */
import type { EngineDropReason } from '../contracts/drops.js';
import { RateMeter, SampleWindow } from '../telemetry/latency.js';
import type { LatencySummary } from '../contracts/latency.js';


export interface CameraOutputStats {
  frames_out: number;
  fps_out: number;
  drops: Record<string, number>;
  latency_ms: LatencySummary;
}

const PERCENTILES = [50, 95, 99] as const;

export function summarize(window: SampleWindow): LatencySummary {
  if (window.count === 0) return { p50: 0, p95: 0, p99: 0, count: 0 };
  const [p50, p95, p99] = window.percentiles(PERCENTILES) as [number, number, number];
  return { p50, p95, p99, count: window.count };
}

export class CameraStats {
  framesOut = 0;
  stale = 0;
  inferenceError = 0;
  /** Frame committed → result published, ms. */
  readonly latency = new SampleWindow(512);
  readonly rate = new RateMeter(5);

  published(latencyMs: number, nowMs: number): void {
    this.framesOut++;
    this.latency.record(latencyMs);
    this.rate.mark(nowMs);
  }

  dropped(reason: EngineDropReason, n = 1): void {
    if (reason === 'stale') this.stale += n;
    else this.inferenceError += n;
  }

  snapshot(nowMs: number = Date.now()): CameraOutputStats {
    return {
      frames_out: this.framesOut,
      fps_out: this.rate.rate(nowMs),
      drops: { stale: this.stale, inference_error: this.inferenceError } satisfies Record<EngineDropReason, number>,
      latency_ms: summarize(this.latency),
    };
  }
}
