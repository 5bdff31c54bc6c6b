/**
 * What clients receive: the engine produces these, the API sends them,
 * capture stores them. Neither side imports the other for the shape.
 */
import type { Detection, InferenceOutput, Prediction } from './results.js';

/**
 * One inferred video frame, as sent on SSE and WebSocket. Its fields other
 * than `id` and `camera` are the inference-event fields every output shares
 * (the capture JSON too): OpenAPI component `InferenceEvent`.
 */
export interface StreamEvent {
  /** Monotonic event id across all cameras (SSE `id:`). */
  id: number;
  /** The camera's id: the one name for it in events, capture records and the API. */
  camera_id: string;
  /** @deprecated Same value as `camera_id`; kept readable for one release (0.2.x), removed after. */
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
