import { describe, expect, it } from 'vitest';
import { ClientCounters, composeSnapshot, NO_CAPTURE } from '../../src/app/metrics.js';
import type { CameraStatus } from '../../src/contracts/camera.js';
import { emptyAuthMetrics } from '../../src/telemetry/snapshot.js';
import { realisticSnapshot } from '../telemetry/snapshot-fixture.js';

const status: CameraStatus = {
  id: 'door', url: 'rtsp://x', kind: 'rtsp', state: 'streaming', last_frame_age_ms: 40, fps_in: 5, fps_out: 4, drops: { stale: 2 },
  frames_in: 100, frames_out: 90, reconnects: 1, last_error: null, source_width: 640, source_height: 480, started_at: new Date(0).toISOString(),
};

describe('composeSnapshot', () => {
  it('composes cameras, engine, capture and client counters at one instant', () => {
    const engine = realisticSnapshot().engine;
    const clients = new ClientCounters();
    clients.sse_clients = 2;
    clients.events_dropped_slow_client = 7;
    const snap = composeSnapshot({
      startedAt: 1000,
      now: () => 11_000,
      cameras: () => [status, { ...status, id: 'yard', latency_ms: { p50: 1, p95: 2, p99: 3, count: 4 } }],
      engine: () => engine,
      capture: () => undefined,
      clients,
      eventsPublished: () => 42,
      auth: { failures: { ...emptyAuthMetrics().failures, missing: 3 } },
    });
    expect(snap.timestamp_ms).toBe(11_000);
    expect(snap.uptime_s).toBe(10);
    expect(snap.cameras.map((c) => c.id)).toEqual(['door', 'yard']);
    expect(snap.cameras[0]).toEqual({ id: 'door', state: 'streaming', fps_in: 5, fps_out: 4, frames_in: 100, frames_out: 90, drops: { stale: 2 }, reconnects: 1, latency_ms: { p50: NaN, p95: NaN, p99: NaN, count: 0 } });
    expect(snap.cameras[1]!.latency_ms).toEqual({ p50: 1, p95: 2, p99: 3, count: 4 });
    expect(snap.engine).toBe(engine);
    expect(snap.capture).toEqual(NO_CAPTURE);
    expect(snap.clients).toEqual({ sse_clients: 2, ws_clients: 0, events_dropped_slow_client: 7, events_published: 42 });
    expect(snap.auth.failures.missing).toBe(3);
  });
});
