/** Messages between the camera manager (main thread) and a decoder worker. */
import type { CameraConfig } from '../config/schema.js';
import type { FrameArenaHandle } from '../frames/ring.js';
import type { CaptureBufferHandle } from '../frames/capture-buffer.js';
import type { OutputGeometry } from './ffmpeg-args.js';
import type { FfmpegLogLevel } from './stderr-log.js';
import type { CudaDecodeProbe, HwaccelMode } from './hwaccel.js';
import type { HwaccelStatus, SupervisorStreams } from './supervisor.js';
import type { CameraState } from '../contracts/camera.js';

/** workerData of a decoder worker. */
export interface DecoderInit {
  arena: FrameArenaHandle;
  ringIndex: number;
  camera: CameraConfig;
  streams: SupervisorStreams;
  output: OutputGeometry;
  ffmpegPath: string;
  /** > 0: also produce capture-size frames (longest side ≤ this). */
  captureMaxSide: number;
  /**
   * Int32[2]: the running ffmpeg's pid and the keyframe probe's (0 = none), written right after spawn.
   * A worker thread gets no 'exit' event when the process exits, so the main
   * thread reads this in its exit hook to kill the child.
   */
  pidSlot: SharedArrayBuffer;
  statusIntervalMs?: number;
  /** See SupervisorOptions.maxFailures. */
  maxFailures?: number;
  /** Sampling rate to start with (adaptive strategy); absent = the camera's. */
  sampleFps?: number;
  /** ffmpeg decoder threads (0 = ffmpeg's choice). */
  decodeThreads: number;
  /** The camera's hwaccel mode and the main thread's CUDA probe (null when not needed). */
  hwaccel: { mode: HwaccelMode; probe: CudaDecodeProbe | null };
}

/** stop: end the camera; rate: sample at a new rate from now on. */
export type ToDecoder = { type: 'stop' } | { type: 'rate'; fps: number };

export interface DecoderTick {
  fps_in: number;
  frames_dropped: number;
  reconnects: number;
  last_error: string | null;
  last_frame_at: number | null;
  sample_fps: number;
  keyframes_only: boolean;
  decode_reason: string;
  keyframe_interval_s: number | null;
  /** ffmpeg restarts for a new rate or decode plan. */
  replans: number;
  hwaccel: HwaccelStatus;
}

export type FromDecoder =
  | { type: 'state'; state: CameraState; error: string | null }
  | { type: 'status'; tick: DecoderTick }
  | { type: 'capture'; handle: CaptureBufferHandle }
  | { type: 'log'; level: FfmpegLogLevel; line: string }
  | { type: 'gave_up' }
  | { type: 'stopped' };
