/** Camera states as reported on /health/stream. */
export type CameraState = 'connecting' | 'streaming' | 'reconnecting' | 'stalled' | 'frozen' | 'ended' | 'error' | 'stopped';

export type SourceKind = 'rtsp' | 'http' | 'file' | 'device' | 'lavfi';

export interface CameraStatus {
  id: string;
  url: string;
  kind: SourceKind;
  state: CameraState;
  /** ms since the last frame committed to the ring; null before the first. */
  last_frame_age_ms: number | null;
  fps_in: number;
  fps_out: number;
  drops: Record<string, number>;
  frames_in: number;
  frames_out: number;
  reconnects: number;
  last_error: string | null;
  source_width: number;
  source_height: number;
  started_at: string;
  /** Frame committed → result published over the recent window; set by the app from the engine. */
  latency_ms?: { p50: number; p95: number; p99: number; count: number };
}
