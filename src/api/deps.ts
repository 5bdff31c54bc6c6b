/**
 * What the HTTP layer needs from the rest of the service. The app wires real
 * implementations in; the server imports no engine, ingest or capture code.
 */
import type { CameraConfig } from '../config/schema.js';
import type { AuthFailureReason } from '../contracts/auth.js';
import type { PredictResponse, StreamEvent } from '../contracts/events.js';
import type { ClusterHealth } from '../contracts/cluster.js';
import type { CameraStatus } from '../contracts/camera.js';
import type { MetricsSnapshot } from '../telemetry/snapshot.js';

export interface HealthInfo {
  status: 'ok' | 'degraded';
  model: string;
  task: string;
  provider: string;
  uptime_s: number;
  cameras: number;
  version: string;
  /** Stage stalls etc.; empty when healthy. */
  problems: string[];
  /** Cluster mode only: this instance, Redis reachability, membership. */
  cluster?: ClusterHealth;
}

/** GET /health/live: the process answers. */
export interface LiveInfo {
  status: 'live';
  uptime_s: number;
  version: string;
}

/** GET /health/ready: 200 when `ready`, 503 with the problems when not. */
export interface ReadyInfo {
  status: 'ready' | 'degraded' | 'not_ready';
  problems: string[];
}

/** Raised by deps to produce a JSON error with this HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = 'error',
  ) {
    super(message);
  }
}

export interface CameraLimits {
  /** Cameras that may run (or retry) at once. */
  max_cameras: number;
  /** Cameras running or retrying now; cameras that gave up do not count. */
  active_cameras: number;
  max_fps: number;
}

export interface CameraControl {
  list(): CameraStatus[];
  /** The configured limits and how much of them is used, reported with the camera list. */
  limits(): CameraLimits;
  /** Validates and starts a camera; throws HttpError 400/409/503 on bad input or no free ring. */
  add(input: unknown): Promise<CameraStatus>;
  /** Stops and removes; returns false when no such camera. */
  remove(id: string): Promise<boolean>;
  configs(): CameraConfig[];
}

/** The latest JPEG preview of a camera, made only while someone asks. */
export interface PreviewSource {
  /** Returns a JPEG of the camera's current picture, or null when none yet; throws HttpError 404 for unknown camera. */
  preview(cameraId: string): Promise<{ jpeg: Buffer; width: number; height: number; /** Ring frame number shown, to match the event's boxes. */ frame?: number } | null>;
}

export interface EventSource {
  /** Calls `listener` for every published event; returns an unsubscribe function. */
  subscribe(listener: (event: StreamEvent) => void): () => void;
  /** Events with id > lastId still held (in memory, or on the cluster bus), oldest first. */
  since(lastId: number): StreamEvent[] | Promise<StreamEvent[]>;
}

export interface ApiDeps {
  health(): HealthInfo;
  live(): LiveInfo;
  ready(): ReadyInfo;
  /** Decodes the image bytes and runs the active model; throws HttpError 415/422 for bad images. */
  predict(image: Buffer): Promise<PredictResponse>;
  cameras: CameraControl;
  events: EventSource;
  previews: PreviewSource;
  metrics(): MetricsSnapshot;
  /** Counters the server reports back (slow-client drops). */
  onClientDrop(count: number): void;
  /** A request refused by authentication (counted for /metrics). */
  onAuthFailure(reason: AuthFailureReason): void;
}
