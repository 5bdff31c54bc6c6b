/**
 * The metrics snapshot behind /metrics and the EMF lines: per-camera status,
 * engine, capture and client counters composed into one record.
 */
import type { CameraStatus } from '../contracts/camera.js';
import type { CameraMetrics, MetricsSnapshot } from '../telemetry/snapshot.js';

export const NO_CAPTURE: MetricsSnapshot['capture'] = { captured: 0, skipped: 0, uploaded: 0, upload_failures: 0, pending_uploads: 0, pending_bytes: 0 };
const NO_LATENCY = { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, count: 0 };

/** Counters the HTTP layer reports back (connected clients, slow-client drops). */
export class ClientCounters {
  sse_clients = 0;
  ws_clients = 0;
  events_dropped_slow_client = 0;
}

export interface SnapshotSources {
  startedAt: number;
  cameras(): CameraStatus[];
  engine(): MetricsSnapshot['engine'];
  capture(): MetricsSnapshot['capture'] | undefined;
  clients: ClientCounters;
  eventsPublished(): number;
  /** Refused API requests by reason (counted by the HTTP layer). */
  auth: MetricsSnapshot['auth'];
  now?: () => number;
}

export function cameraMetrics(s: CameraStatus): CameraMetrics {
  return {
    id: s.id,
    state: s.state,
    fps_in: s.fps_in,
    fps_out: s.fps_out,
    frames_in: s.frames_in,
    frames_out: s.frames_out,
    drops: s.drops,
    reconnects: s.reconnects,
    fps_configured: s.fps_configured,
    fps_effective: s.fps_effective,
    rate_changes: s.rate_changes,
    latency_ms: s.latency_ms ?? NO_LATENCY,
  };
}

export function composeSnapshot(sources: SnapshotSources): MetricsSnapshot {
  const now = (sources.now ?? Date.now)();
  const { sse_clients, ws_clients, events_dropped_slow_client } = sources.clients;
  return {
    timestamp_ms: now,
    uptime_s: (now - sources.startedAt) / 1000,
    cameras: sources.cameras().map(cameraMetrics),
    engine: sources.engine(),
    capture: sources.capture() ?? NO_CAPTURE,
    clients: { sse_clients, ws_clients, events_dropped_slow_client, events_published: sources.eventsPublished() },
    auth: { failures: { ...sources.auth.failures } },
  };
}
