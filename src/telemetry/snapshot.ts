/**
 * One point-in-time view of everything worth measuring. The app assembles it
 * from the cameras, the engine and capture; the Prometheus and EMF exporters
 * are pure functions of it, so telemetry knows nothing of the server.
 */
import { AUTH_FAILURE_REASONS, type AuthFailureReason } from '../contracts/auth.js';
import type { LatencySummary } from '../contracts/latency.js';

export interface CameraMetrics {
  id: string;
  state: string;
  fps_in: number;
  fps_out: number;
  frames_in: number;
  frames_out: number;
  drops: Record<string, number>;
  reconnects: number;
  /** Sampling rate asked for, and the one ffmpeg runs at now (adaptive strategy). */
  fps_configured?: number;
  fps_effective?: number;
  /** Rate changes applied to the camera. */
  rate_changes?: number;
  latency_ms: LatencySummary;
}

export interface EngineMetrics {
  model: string;
  provider: string;
  /** Frames waiting for a batch plus batches in flight. */
  queue_depth: number;
  batches_in_flight: number;
  batches_total: number;
  mean_batch_size: number;
  inference_ms: LatencySummary;
  queue_ms: LatencySummary;
  worker_restarts: number;
  errors: number;
}

export interface CaptureMetrics {
  captured: number;
  skipped: number;
  uploaded: number;
  upload_failures: number;
  pending_uploads: number;
  pending_bytes: number;
}

export interface ClientMetrics {
  sse_clients: number;
  ws_clients: number;
  events_published: number;
  events_dropped_slow_client: number;
}

export interface AuthMetrics {
  failures: Record<AuthFailureReason, number>;
}

export function emptyAuthMetrics(): AuthMetrics {
  return { failures: Object.fromEntries(AUTH_FAILURE_REASONS.map((reason) => [reason, 0])) as Record<AuthFailureReason, number> };
}

/** Cluster mode only: this instance's view of the cluster. */
export interface ClusterMetrics {
  instance: string;
  redis_up: 0 | 1;
  instances: number;
  cameras_total: number;
  cameras_owned: number;
  moves_in: number;
  moves_out: number;
  lease_losses: number;
  bus_published: number;
  /** Results not put on the bus because this instance no longer held the camera's lease. */
  bus_fenced: number;
  bus_failed: number;
  bus_delivered: number;
}

export interface MetricsSnapshot {
  timestamp_ms: number;
  uptime_s: number;
  cameras: CameraMetrics[];
  engine: EngineMetrics;
  capture: CaptureMetrics;
  clients: ClientMetrics;
  auth: AuthMetrics;
  cluster?: ClusterMetrics;
}
