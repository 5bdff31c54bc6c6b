/**
 * A realistic snapshot for exporter tests: latencies come from the real
 * SampleWindow, so percentiles have the shapes the app produces (including
 * NaN for an empty window).
 */
import { SampleWindow } from '../../src/telemetry/latency.js';
import type { LatencySummary } from '../../src/contracts/latency.js';
import type { MetricsSnapshot } from '../../src/telemetry/snapshot.js';

function summarise(samples: readonly number[]): LatencySummary {
  const w = new SampleWindow(256);
  for (const v of samples) w.record(v);
  const [p50, p95, p99] = w.percentiles([50, 95, 99]) as [number, number, number];
  return { p50, p95, p99, count: w.count };
}

/** Deterministic latencies around `base` ms with a slow tail. */
function latencies(base: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => base + (i % 10) * 0.7 + (i % 50 === 0 ? base * 3 : 0));
}

export function realisticSnapshot(overrides: { timestamp_ms?: number; scale?: number } = {}): MetricsSnapshot {
  const k = overrides.scale ?? 1;
  return {
    timestamp_ms: overrides.timestamp_ms ?? 1_764_000_000_000,
    uptime_s: 3600.5 * k,
    cameras: [
      {
        id: 'front-door',
        state: 'streaming',
        fps_in: 5,
        fps_out: 4.8,
        frames_in: 18_000 * k,
        frames_out: 17_200 * k,
        drops: { superseded: 700 * k, stale: 100 * k },
        reconnects: 2 * k,
        latency_ms: summarise(latencies(42, 200)),
      },
      {
        id: 'yard.cam_2',
        state: 'reconnecting',
        fps_in: 0,
        fps_out: 0,
        frames_in: 1200 * k,
        frames_out: 1100 * k,
        drops: { overwritten: 100 * k },
        reconnects: 7 * k,
        latency_ms: summarise(latencies(55, 40)),
      },
      {
        id: 'lobby',
        state: 'connecting',
        fps_in: 0,
        fps_out: 0,
        frames_in: 0,
        frames_out: 0,
        drops: {},
        reconnects: 0,
        latency_ms: summarise([]),
      },
    ],
    engine: {
      model: 'mobilenet_v2_int8',
      provider: 'cpu',
      queue_depth: 3,
      batches_in_flight: 1,
      batches_total: 6_100 * k,
      mean_batch_size: 3.0,
      inference_ms: summarise(latencies(6.5, 256)),
      queue_ms: summarise(latencies(4, 256)),
      worker_restarts: 1 * k,
      errors: 0,
    },
    capture: { captured: 1830 * k, skipped: 4 * k, uploaded: 1800 * k, upload_failures: 2 * k, pending_uploads: 28, pending_bytes: 3_276_800 },
    clients: { sse_clients: 2, ws_clients: 1, events_published: 18_300 * k, events_dropped_slow_client: 12 * k },
    auth: { failures: { missing: 3 * k, invalid: 2 * k, expired: 0, forbidden: 1 * k, origin: 0, rate_limited: 0 } },
  };
}
