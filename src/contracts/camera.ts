/** What a camera reports on /health/stream and /cameras. */
import type { LatencySummary } from './latency.js';

/** Every camera state; exporters emit each one so series exist from the first scrape. */
export const CAMERA_STATES = ['connecting', 'streaming', 'reconnecting', 'stalled', 'frozen', 'ended', 'error', 'stopped'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

export const SOURCE_KINDS = ['rtsp', 'http', 'file', 'device', 'lavfi'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

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
  /** Frame committed → result published over the recent window; set by the app from the engine. */
  latency_ms?: LatencySummary;
}
