/** What a camera reports on /health/stream and /cameras. */
import type { LatencySummary } from './latency.js';

/** Every camera state; exporters emit each one so series exist from the first scrape. */
export const CAMERA_STATES = ['connecting', 'streaming', 'reconnecting', 'stalled', 'frozen', 'ended', 'error', 'stopped'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

export const SOURCE_KINDS = ['rtsp', 'http', 'file', 'device', 'lavfi'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** Why a camera samples at the rate it does: its own, lowered under overload, or being raised again. */
export const RATE_REASONS = ['configured', 'overload', 'recovering'] as const;
export type RateReason = (typeof RATE_REASONS)[number];

export interface CameraDecodeStatus {
  keyframes_only: boolean;
  /** Median keyframe spacing learnt from the stream, s; null while unknown. */
  keyframe_interval_s: number | null;
  reason: string;
  /** ffmpeg decoder threads; 0 = ffmpeg's choice. */
  threads: number;
}

export interface CameraStatus {
  id: string;
  url: string;
  kind: SourceKind;
  state: CameraState;
  /** ms since the last frame committed to the ring; null before the first. */
  last_frame_age_ms: number | null;
  fps_in: number;
  fps_out: number;
  /** Counts by drop reason (see `DROP_REASONS`). */
  drops: Record<string, number>;
  frames_in: number;
  frames_out: number;
  reconnects: number;
  last_error: string | null;
  source_width: number;
  source_height: number;
  started_at: string;
  /** The rate the configuration asks for (fps; the default when the camera sets none). */
  fps_configured?: number;
  /** The rate ffmpeg samples at now: lower than configured while the engine cannot keep up (strategy adaptive). */
  fps_effective?: number;
  /** Why fps_effective is what it is. */
  rate_reason?: RateReason;
  /** Rate changes applied to this camera (each restarts its ffmpeg). */
  rate_changes?: number;
  decode?: CameraDecodeStatus;
  hwaccel?: CameraHwaccelStatus;
  /** Frame committed → result published over the recent window; set by the app from the engine. */
  latency_ms?: LatencySummary;
  /** Cluster mode: the instance running the camera (null: none yet). */
  owner?: string | null;
}

/** Where a camera's video is decoded (streams.hwaccel / the camera's hwaccel). */
export interface CameraHwaccelStatus {
  mode: 'auto' | 'cpu' | 'cuda';
  device: 'cpu' | 'cuda';
  /** Why not the GPU when mode is auto (no CUDA here, or a CUDA run failed); null otherwise. */
  fallback_reason: string | null;
}
