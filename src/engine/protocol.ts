/**
 * Messages between the main thread and the inference workers. Tasks carry
 * frame references, never pixels (pixels stay in the shared ring); results
 * are small and JSON-able.
 */
import type { FrameArenaHandle } from '../frames/ring.js';
import type { InferenceOutput, InputTransform, ModelSpec, PostprocessOptions } from '../models/types.js';
import type { FrameRef } from './types.js';
import type { ResolvedProvider } from './provider.js';

/** Test-only behaviour, off unless a test sets it. */
export interface WorkerTestHooks {
  /** The worker thread exits (as if it crashed) when a frames task holds this frame. */
  exitOnFrame?: { ring: number; frameNo: number };
}

/** Given to every worker once, at thread start (the arena's buffer is shared, not copied). */
/**
 * How pixels enter the model: `uint8` copies ring bytes into a uint8 NHWC
 * input of a wrapped graph that pre-processes itself; `js` runs
 * preprocessInto into a float32 tensor for the manifest's input.
 */
export type WorkerPixelInput = { kind: 'uint8'; inputName: string } | { kind: 'js' };

export interface WorkerInit {
  /** The model file the sessions load (the wrapped one on the uint8 path). */
  modelPath: string;
  pixelInput: WorkerPixelInput;
  spec: ModelSpec;
  labels: string[];
  provider: ResolvedProvider;
  intraOpThreads: number;
  /** CUDA devices; worker n (in start order) runs on deviceIds[n % length]. Empty on CPU. */
  deviceIds: number[];
  /** One Int32 shared by the workers to number themselves in start order. */
  workerCounter: SharedArrayBuffer;
  postprocess: PostprocessOptions;
  arena: FrameArenaHandle;
  testHooks?: WorkerTestHooks;
}

export interface FramesTask {
  kind: 'frames';
  refs: FrameRef[];
  /** `performance.timeOrigin + performance.now()` when submitted, for queue time. */
  submittedAt: number;
}

export interface ImageTask {
  kind: 'image';
  /** Packed RGB at model geometry (transferred, not copied). */
  rgb: Uint8Array;
  transform: InputTransform;
  submittedAt: number;
}

/** Starts the session (if still starting) and reports what the worker loaded. */
export interface WarmupTask {
  kind: 'warmup';
  submittedAt: number;
}

export type WorkerTask = FramesTask | ImageTask | WarmupTask;

export interface TaskTiming {
  queueMs: number;
  preMs: number;
  inferMs: number;
  postMs: number;
}

/** One frame's answer; `output` is null when the frame was no longer in its slot. */
export interface FrameResult {
  ring: number;
  frameNo: number;
  output: InferenceOutput | null;
}

export interface FramesResult {
  kind: 'frames';
  frames: FrameResult[];
  timing: TaskTiming;
}

export interface ImageResult {
  kind: 'image';
  output: InferenceOutput;
  timing: TaskTiming;
}

export interface WarmupResult {
  kind: 'warmup';
  threadId: number;
  inputNames: readonly string[];
  outputNames: readonly string[];
}

export type WorkerResult = FramesResult | ImageResult | WarmupResult;

/** A timestamp comparable across threads (each thread has its own timeOrigin). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
