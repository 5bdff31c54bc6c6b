/**
 * Main-thread owner of the cameras: one frame ring and one decoder worker per
 * camera. Frames reach the engine only through the ring; this class reports
 * state and status, and guarantees that no ffmpeg outlives a camera.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CameraConfig, StreamsConfig } from '../config/schema.js';
import type { FrameArena } from '../frames/ring.js';
import type { ModelInputSpec } from '../models/types.js';
import { workerEntry } from '../lib/worker-entry.js';
import { logger, type Logger } from '../telemetry/logger.js';
import { CaptureBuffer, type CapturedFrame } from '../frames/capture-buffer.js';
import type { DecoderInit, DecoderTick, FromDecoder, ToDecoder } from './decoder-protocol.js';
import { autoDecoderThreads, effectiveFps } from './ffmpeg-args.js';
import { resolveFfmpegPath } from './ffmpeg-path.js';
import type { RateReason } from './rate-control.js';
import { sourceKindOf } from './source.js';
import type { CameraState, CameraStatus } from '../contracts/camera.js';
import type { RingDropReason } from '../contracts/drops.js';
import { redactUrl } from '../contracts/redact.js';
import type { HwaccelStatus } from './supervisor.js';
import { chooseDecodeDevice, mayDecodeOnGpu, probeCudaDecode } from './hwaccel.js';

export { openFrameStream, type FrameStream, type FrameStreamOptions } from './frame-stream.js';

export interface CameraManagerOptions {
  arena: FrameArena;
  streams: StreamsConfig;
  input: ModelInputSpec;
  /** Resolved once on first add when absent (see resolveFfmpegPath). */
  ffmpegPath?: string;
  /** Longest side of the capture-size output per camera; 0 = no capture output. */
  captureMaxSide?: (camera: CameraConfig) => number;
  log?: Logger;
  /** How long a stopping worker gets before it is terminated and its ffmpeg killed. */
  stopTimeoutMs?: number;
  /** Cameras expected at start (decoder threads are sized for them from the first one). */
  expectedCameras?: number;
}

export interface CameraHandle {
  id: string;
  config: CameraConfig;
  ringIndex: number;
  /** Ingest-side status; fps_out and frames_out are 0 (the app overlays the engine's). */
  status(): CameraStatus;
  /** Copy of the capture-size frame for `frameNo`, or the nearest newer one held; null when none. */
  captureFrame(frameNo: number): CapturedFrame | null;
  /** The rate the configuration asks for (fps; the default when the camera sets none). */
  readonly configuredFps: number;
}

export type StateListener = (id: string, state: CameraState, error: string | null) => void;

/** add() refused: the id is in use or every ring is taken. */
export class CameraManagerError extends Error {
  override readonly name = 'CameraManagerError';
  constructor(
    message: string,
    readonly code: 'camera_exists' | 'no_free_ring',
  ) {
    super(message);
  }
}

// The pid slot of every live camera: whatever ffmpeg they hold is killed if
// the process exits before the workers could stop it (workers are not told).
const pidSlots = new Set<Int32Array>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const slot of pidSlots) killAll(slot);
  });
}

class Camera implements CameraHandle {
  state: CameraState = 'connecting';
  lastError: string | null = null;
  tick: DecoderTick;
  rate: { fps: number; reason: RateReason };
  rateChanges = 0;
  capture: CaptureBuffer | null = null;
  readonly startedAt = new Date().toISOString();
  stopping: Promise<void> | null = null;
  exited = false;
  /** Set when the camera gave up retrying: its last status, kept while its ring is free for others. */
  retired: CameraStatus | null = null;
  /** Gave up retrying: reported as `error` from then on, also while retire() stops it (not `stopped`). */
  gaveUp = false;

  constructor(
    readonly config: CameraConfig,
    readonly ringIndex: number,
    private readonly arena: FrameArena,
    readonly worker: Worker,
    /** The running ffmpeg's and keyframe probe's pids, written by the worker right after spawn (0 = none). */
    readonly pidSlot: Int32Array,
    readonly configuredFps: number,
    readonly decodeThreads: number,
    hwaccel: HwaccelStatus,
  ) {
    this.rate = { fps: configuredFps, reason: 'configured' };
    this.tick = {
      fps_in: 0, frames_dropped: 0, reconnects: 0, last_error: null, last_frame_at: null,
      sample_fps: configuredFps, keyframes_only: false, decode_reason: 'starting', keyframe_interval_s: null, replans: 0, hwaccel,
    };
  }

  get id(): string {
    return this.config.id;
  }

  status(): CameraStatus {
    if (this.retired) return this.retired;
    const ring = this.arena.ring(this.ringIndex);
    const counters = ring.counters();
    // Newest committed frame's time, read from the ring itself (exact, not a tick old).
    let newestNo = 0;
    let newestAt = 0;
    for (let s = 0; s < ring.slots; s++) {
      const no = ring.frameNo(s);
      if (no > newestNo) {
        newestNo = no;
        newestAt = ring.capturedAtMs(s);
      }
    }
    return {
      id: this.id,
      url: redactUrl(this.config.url),
      kind: sourceKindOf(this.config.url),
      state: this.gaveUp ? 'error' : this.state,
      last_frame_age_ms: newestNo > 0 ? Math.max(0, Date.now() - newestAt) : null,
      fps_in: this.tick.fps_in,
      fps_out: 0,
      drops: { overwritten: counters.overwritten, superseded: counters.superseded, busy: counters.busy } satisfies Record<RingDropReason, number>,
      frames_in: counters.written,
      frames_out: 0,
      reconnects: this.tick.reconnects,
      last_error: this.lastError ?? this.tick.last_error,
      source_width: ring.sourceWidth(),
      source_height: ring.sourceHeight(),
      started_at: this.startedAt,
      fps_configured: this.configuredFps,
      fps_effective: this.tick.sample_fps,
      rate_reason: this.rate.reason,
      rate_changes: this.rateChanges,
      decode: {
        keyframes_only: this.tick.keyframes_only,
        keyframe_interval_s: this.tick.keyframe_interval_s,
        reason: this.tick.decode_reason,
        threads: this.decodeThreads,
      },
      hwaccel: this.tick.hwaccel,
    };
  }

  captureFrame(frameNo: number): CapturedFrame | null {
    return this.capture ? this.capture.read(frameNo) : null;
  }
}

export class CameraManager {
  private readonly cameras = new Map<string, Camera>();
  private readonly listeners = new Set<StateListener>();
  private readonly giveUpListeners = new Set<(id: string) => void>();
  private ffmpegPath: string | undefined;
  private readonly log: Logger;
  private cudaProbeLogged = false;

  constructor(private readonly opts: CameraManagerOptions) {
    this.ffmpegPath = opts.ffmpegPath;
    this.log = opts.log ?? logger().child({ component: 'ingest' });
    installExitHook();
  }

  /** Cameras holding a ring (running or retrying); those that gave up do not count. */
  get active(): number {
    let n = 0;
    for (const camera of this.cameras.values()) if (!camera.retired) n++;
    return n;
  }

  /** The most cameras that can run at once (streams.max_cameras). */
  get limit(): number {
    return this.opts.arena.size;
  }

  /**
   * Allocates a ring and starts the camera's decoder worker. Source problems
   * show as the camera's state, not as a throw. With maxFailures the camera
   * gives up after that many failures in a row (see onGiveUp).
   */
  async add(config: CameraConfig, options: { maxFailures?: number } = {}): Promise<CameraHandle> {
    if (this.cameras.has(config.id)) throw new CameraManagerError(`camera ${JSON.stringify(config.id)} already exists`, 'camera_exists');
    this.ffmpegPath ??= await resolveFfmpegPath();
    if (this.cameras.has(config.id)) throw new CameraManagerError(`camera ${JSON.stringify(config.id)} already exists`, 'camera_exists');
    const { arena, streams, input } = this.opts;
    const ringIndex = arena.allocate(config.id);
    if (ringIndex < 0) {
      throw new CameraManagerError(
        `camera limit reached (no free ring): ${this.active} of ${arena.size} cameras are running or retrying (streams.max_cameras); cameras that gave up retrying do not count`,
        'no_free_ring',
      );
    }
    const configuredFps = effectiveFps(config, streams.default_fps);
    const decodeThreads = streams.decoder_threads || autoDecoderThreads(Math.max(this.cameras.size + 1, this.opts.expectedCameras ?? 0), availableParallelism());
    const mode = config.hwaccel ?? streams.hwaccel;
    // Asked once per process, only when a camera could decode on the GPU and leaves it to auto.
    const probe = mode === 'auto' && mayDecodeOnGpu(sourceKindOf(config.url)) ? await probeCudaDecode(this.ffmpegPath) : null;
    if (probe !== null && !probe.available && !this.cudaProbeLogged) {
      this.cudaProbeLogged = true;
      this.log.info({ reason: probe.reason }, 'hwaccel auto: cameras decode on the CPU');
    }
    const init: DecoderInit = {
      arena: arena.handle,
      ringIndex,
      camera: config,
      streams,
      output: { width: input.width, height: input.height, resize: input.resize, pad_value: input.pad_value },
      ffmpegPath: this.ffmpegPath,
      captureMaxSide: this.opts.captureMaxSide?.(config) ?? 0,
      pidSlot: new SharedArrayBuffer(8),
      maxFailures: options.maxFailures,
      decodeThreads,
      hwaccel: { mode, probe },
    };
    const entry = workerEntry(import.meta.url, './decoder-worker');
    let worker: Worker;
    try {
      worker = new Worker(entry.filename, { argv: entry.argv, execArgv: entry.execArgv, workerData: init, name: `decoder ${config.id}` });
    } catch (err) {
      arena.free(ringIndex);
      throw err;
    }
    const before = chooseDecodeDevice(mode, sourceKindOf(config.url), probe, null);
    const hwaccel = { mode, device: before.device, fallback_reason: before.fallbackReason };
    const camera = new Camera(config, ringIndex, arena, worker, new Int32Array(init.pidSlot), configuredFps, decodeThreads, hwaccel);
    pidSlots.add(camera.pidSlot);
    this.cameras.set(config.id, camera);
    worker.on('message', (message: FromDecoder) => this.onMessage(camera, message));
    worker.on('error', (err) => {
      this.log.error({ camera: config.id, err: err.message }, 'decoder worker failed');
      this.setState(camera, 'error', `decoder worker failed: ${err.message}`);
    });
    worker.on('exit', () => {
      camera.exited = true;
      // A worker that died (or was terminated) cannot stop its ffmpeg any more.
      killAll(camera.pidSlot);
    });
    return camera;
  }

  /** Stops the worker and its ffmpeg (awaited), frees the ring. False when no such camera. */
  async remove(id: string): Promise<boolean> {
    const camera = this.cameras.get(id);
    if (!camera) return false;
    if (camera.retired) {
      this.cameras.delete(id);
      return true;
    }
    await this.stop(camera);
    if (this.cameras.get(id) === camera) {
      this.cameras.delete(id);
      this.opts.arena.free(camera.ringIndex);
    }
    return true;
  }

  get(id: string): CameraHandle | undefined {
    return this.cameras.get(id);
  }

  list(): CameraHandle[] {
    return [...this.cameras.values()];
  }

  /** Called when a camera stops retrying; the owner detaches it and calls retire(). */
  onGiveUp(listener: (id: string) => void): () => void {
    this.giveUpListeners.add(listener);
    return () => this.giveUpListeners.delete(listener);
  }

  /**
   * Stops a camera that gave up and frees its ring for another camera; it
   * stays listed with its last status (state `error`) until removed.
   */
  async retire(id: string): Promise<void> {
    const camera = this.cameras.get(id);
    if (!camera || camera.retired) return;
    await this.stop(camera);
    if (this.cameras.get(id) !== camera || camera.retired) return;
    camera.retired = { ...camera.status(), state: 'error', fps_in: 0, last_frame_age_ms: null };
    this.opts.arena.free(camera.ringIndex);
  }

  /** Samples a camera at a new rate (restarts its ffmpeg when the rate differs). False when no such camera. */
  setRate(id: string, fps: number, reason: RateReason): boolean {
    const camera = this.cameras.get(id);
    if (!camera || camera.stopping) return false;
    if (camera.rate.fps !== fps) camera.rateChanges++;
    camera.rate = { fps, reason };
    camera.worker.postMessage({ type: 'rate', fps } satisfies ToDecoder);
    return true;
  }

  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every camera; resolves when no ffmpeg is left. */
  async close(): Promise<void> {
    await Promise.all([...this.cameras.keys()].map((id) => this.remove(id)));
  }

  private setState(camera: Camera, state: CameraState, error: string | null): void {
    camera.lastError = error;
    if (camera.state === state) return;
    camera.state = state;
    for (const listener of this.listeners) {
      try {
        listener(camera.id, state, error);
      } catch (err) {
        this.log.error({ camera: camera.id, err: (err as Error).message }, 'camera state listener failed');
      }
    }
  }

  private onMessage(camera: Camera, message: FromDecoder): void {
    switch (message.type) {
      case 'state':
        this.setState(camera, message.state, message.error);
        break;
      case 'status':
        camera.tick = message.tick;
        break;
      case 'capture':
        camera.capture = new CaptureBuffer(message.handle);
        break;
      case 'log':
        if (message.level === 'warn') this.log.warn({ camera: camera.id }, `ffmpeg: ${message.line}`);
        else this.log.debug({ camera: camera.id }, `ffmpeg: ${message.line}`);
        break;
      case 'gave_up':
        camera.gaveUp = true;
        for (const listener of this.giveUpListeners) listener(camera.id);
        break;
      case 'stopped':
        break;
    }
  }

  private stop(camera: Camera): Promise<void> {
    camera.stopping ??= (async () => {
      const { worker } = camera;
      const timeoutMs = this.opts.stopTimeoutMs ?? 5000;
      const done = new Promise<void>((resolve) => {
        if (camera.exited) return resolve();
        const onMessage = (m: FromDecoder): void => {
          if (m.type === 'stopped') finish();
        };
        const finish = (): void => {
          worker.off('message', onMessage);
          worker.off('exit', finish);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(finish, timeoutMs);
        worker.on('message', onMessage);
        worker.on('exit', finish);
      });
      worker.postMessage({ type: 'stop' } satisfies ToDecoder);
      await done;
      await worker.terminate();
      // Only set when the worker could not stop its ffmpeg in time.
      killAll(camera.pidSlot);
      pidSlots.delete(camera.pidSlot);
      this.setState(camera, 'stopped', camera.lastError);
    })();
    return camera.stopping;
  }
}

/** Kills every ffmpeg a camera's pid slot still names (stream and probe). */
function killAll(slot: Int32Array): void {
  for (let i = 0; i < slot.length; i++) killQuietly(Atomics.exchange(slot, i, 0));
}

function killQuietly(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
