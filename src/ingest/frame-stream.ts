/**
 * Frames of one camera on the calling thread, without a ring: for tools such
 * as the dataset capture CLI. Same supervisor, ffmpeg arguments and frame
 * reader as the cameras of the service.
 */
import { defaultConfig, type CameraConfig, type StreamsConfig } from '../config/schema.js';
import type { OutputGeometry } from './ffmpeg-args.js';
import { resolveFfmpegPath } from './ffmpeg-path.js';
import { mayDecodeOnGpu, probeCudaDecode } from './hwaccel.js';
import { sourceKindOf } from './source.js';
import type { FfmpegLogLevel } from './stderr-log.js';
import { StreamSupervisor } from './supervisor.js';
import type { CameraState } from '../contracts/camera.js';

export interface FrameStreamOptions {
  /** The model input rectangle, or 'original' for the source's own size. */
  geometry: OutputGeometry;
  /** Sampled frames per second; 0 = the camera's fps, else streams.default_fps. */
  fps?: number;
  /**
   * Called for every frame. `rgb` is reused for the next frame: copy what you
   * keep. frameNo counts from 1 over the stream's life (across reconnects).
   */
  onFrame(rgb: Uint8Array, width: number, height: number, frameNo: number): void;
  onState?(state: CameraState, error: string | null): void;
  onLog?(level: FfmpegLogLevel, line: string): void;
  streams?: Partial<StreamsConfig>;
  ffmpegPath?: string;
}

export interface FrameStream {
  readonly state: CameraState;
  /** Resolves when the stream is over: `ended` (finite file) or `stopped`. */
  readonly done: Promise<CameraState>;
  stop(): Promise<void>;
}

export async function openFrameStream(camera: CameraConfig, options: FrameStreamOptions): Promise<FrameStream> {
  const ffmpegPath = options.ffmpegPath ?? (await resolveFfmpegPath());
  const streams: StreamsConfig = { ...defaultConfig().streams, ...options.streams };
  const config: CameraConfig = options.fps && options.fps > 0 ? { ...camera, fps: options.fps } : camera;
  const mode = config.hwaccel ?? streams.hwaccel;
  const probe = mode === 'auto' && mayDecodeOnGpu(sourceKindOf(config.url)) ? await probeCudaDecode(ffmpegPath) : null;

  let width = 0;
  let height = 0;
  let frameNo = 0;
  let buffer = new Uint8Array(0);
  let resolveDone: (state: CameraState) => void = () => undefined;
  const done = new Promise<CameraState>((resolve) => (resolveDone = resolve));

  const supervisor: StreamSupervisor = new StreamSupervisor({
    camera: config,
    streams,
    ffmpegPath,
    output: options.geometry,
    hwaccel: { mode, probe },
    frames: {
      onSize: (w, h) => {
        width = w;
        height = h;
        // One buffer per size (a reconnect may bring a new one), reused for every frame.
        if (buffer.length !== w * h * 3) buffer = new Uint8Array(w * h * 3);
      },
      acquire: () => buffer,
      commit: () => options.onFrame(buffer, width, height, ++frameNo),
      abort: () => undefined,
    },
    events: {
      onState: (state, error) => {
        options.onState?.(state, error);
        if (state === 'ended' || state === 'stopped') resolveDone(state);
      },
      onLog: options.onLog,
    },
  });
  supervisor.start();
  return {
    get state() {
      return supervisor.state;
    },
    done,
    stop: () => supervisor.stop(),
  };
}
