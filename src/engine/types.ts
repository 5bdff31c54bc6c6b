/**
 * What the engine takes and what it publishes. The engine publishes results
 * through a callback; it never imports the server.
 */
import type { Detection, InferenceOutput, Prediction } from '../models/types.js';

/** A frame waiting in a ring: the task carries this, never pixels. */
export interface FrameRef {
  ring: number;
  slot: number;
  frameNo: number;
}

/** One inferred video frame, as sent on SSE and WebSocket. */
export interface StreamEvent {
  /** Monotonic event id across all cameras (SSE `id:`). */
  id: number;
  camera: string;
  frame: number;
  /** ISO-8601 time the decoder committed the frame. */
  captured_at: string;
  /** Frame committed → result published, in ms. */
  latency_ms: number;
  model: string;
  predictions: Prediction[];
  has_person?: boolean;
  detections?: Detection[];
}

/** POST /predict answer. */
export interface PredictResponse extends InferenceOutput {
  model: string;
  latency_ms: number;
  width: number;
  height: number;
}

export type DropReason = 'overwritten' | 'superseded' | 'busy' | 'stale' | 'inference_error';
