/**
 * Keeps one camera's ffmpeg alive: connect, stream, and on failure reconnect
 * with backoff. A watchdog kills an ffmpeg that delivers no frame for
 * stall_timeout_ms (a frozen server can hang it forever, even with -timeout);
 * an exit of a live source, even with code 0, means reconnect. Runs in any
 * thread: the decoder worker for cameras, the main thread for openFrameStream.
 *
 *   connecting → streaming ⇄ frozen
 *        ↓           ↓
 *   reconnecting / stalled → streaming …;  ended (finite file);  error (bad source);  stopped
 */
import type { CameraConfig, StreamsConfig } from '../config/schema.js';
import { Backoff } from '../lib/backoff.js';
import { buildFfmpegArgs, CAPTURE_FD, effectiveFps, PRIMARY_FD, type OutputGeometry } from './ffmpeg-args.js';
import { chooseDecodeDevice, type CudaDecodeProbe, type HwaccelMode } from './hwaccel.js';
import type { CameraHwaccelStatus } from '../contracts/camera.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { FrozenDetector } from './frozen.js';
import { chooseDecode, probeKeyframes, type DecodeChoice, type KeyframeProbe, type KeyframeStats } from './keyframes.js';
import { setNice } from './priority.js';
import { ActivityWatch } from './process-activity.js';
import { defaultSourceEnv, endsCleanly, resolveSource, SourceError, type ResolvedSource, type SourceEnv } from './source.js';
import type { FfmpegLogLevel } from './stderr-log.js';
import type { CameraState } from '../contracts/camera.js';
import { secretScrubber } from '../contracts/redact.js';

export type FfmpegRole = 'stream' | 'probe';

export type SupervisorStreams = Pick<StreamsConfig, 'default_fps' | 'reconnect' | 'stall_timeout_ms' | 'frozen_after_ms' | 'ffmpeg_log_lines_per_minute'> &
  Partial<Pick<StreamsConfig, 'decoder_nice'>>;

/** Stream time the keyframe probe reads (and, for live sources, waits for). */
const KEYFRAME_PROBE_SECONDS = 6;
/**
 * In auto mode the keyframe spacing is learnt only once the sampling rate is
 * at most this: streams rarely have keyframes more often than every 0.5 s, so
 * above it the answer would be "decode all" at the price of a second
 * connection to the camera.
 */
const KEYFRAME_CANDIDATE_MAX_FPS = 2;
/** A silent ffmpeg that keeps working (a starved decoder) gets up to this many stall timeouts. */
const STARVED_STALL_FACTOR = 3;

/** A sink whose size the supervisor decides (from the output geometry). */
export type FrameTarget = Omit<FrameSink, 'size'>;

export interface SupervisorEvents {
  onState?(state: CameraState, error: string | null): void;
  onSourceSize?(width: number, height: number): void;
  onLog?(level: FfmpegLogLevel, line: string): void;
  /** Each ffmpeg started and ended (the stream's, or the keyframe probe's), so an owner in another thread can kill leftovers. */
  onSpawn?(pid: number, role: FfmpegRole): void;
  onExit?(pid: number, role: FfmpegRole): void;
  /** Retrying stopped after maxFailures failures in a row; the state is `error`. */
  onGiveUp?(): void;
}

export interface SupervisorOptions {
  camera: CameraConfig;
  streams: SupervisorStreams;
  ffmpegPath: string;
  output: OutputGeometry;
  frames: FrameTarget;
  /** Second, capture-size output (longest side ≤ maxSide). */
  capture?: { maxSide: number; target: FrameTarget };
  events?: SupervisorEvents;
  sourceEnv?: SourceEnv;
  random?: () => number;
  /** SIGTERM → SIGKILL grace when stopping. */
  stopGraceMs?: number;
  /** Stop retrying after this many failures in a row (0 or absent = never give up). */
  maxFailures?: number;
  /** Sampling rate to start with (the adaptive strategy's current share); default the camera's. */
  sampleFps?: number;
  /** ffmpeg decoder threads; 0 or absent = ffmpeg's choice. */
  decodeThreads?: number;
  /** Stream seconds read to learn the keyframe spacing (default 6). */
  keyframeProbeSeconds?: number;
  /** Hardware decoding; absent = CPU. `probe` is the process-wide CUDA check (null = not made). */
  hwaccel?: { mode: HwaccelMode; probe: CudaDecodeProbe | null };
}

/** Where the camera decodes now, and why not on the GPU when it asked for auto. */
export type HwaccelStatus = CameraHwaccelStatus;

export interface SupervisorStats {
  state: CameraState;
  lastError: string | null;
  /** Frames delivered to the frame target. */
  framesIn: number;
  /** Frames ffmpeg produced that the target had no room for. */
  framesDropped: number;
  reconnects: number;
  /** Failures since the backoff last reset (a connection healthy for reset_after_ms resets it). */
  backoffAttempts: number;
  lastFrameAt: number | null;
  sourceWidth: number;
  sourceHeight: number;
  /** The rate ffmpeg samples at now. */
  sampleFps: number;
  keyframesOnly: boolean;
  decodeReason: string;
  /** Median keyframe spacing learnt from the stream, s; null while unknown. */
  keyframeIntervalS: number | null;
  /** ffmpeg restarts to apply a new rate or decode plan (not counted as reconnects). */
  replans: number;
  hwaccel: HwaccelStatus;
}

export class StreamSupervisor {
  private stateValue: CameraState = 'connecting';
  private lastError: string | null = null;
  private reader: FrameReader | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  private readonly backoff: Backoff;
  private readonly frozen: FrozenDetector;
  private attemptStartedAt = 0;
  private streamingSince = 0;
  /** Last frame of the current ffmpeg run (0 = none yet): what the watchdog measures from. */
  private runLastFrameAt = 0;
  private watchdogFired = false;
  private framesIn = 0;
  private framesDroppedBefore = 0;
  private reconnects = 0;
  private lastFrameAt: number | null = null;
  private sourceWidth = 0;
  private sourceHeight = 0;
  private frameBytes = 0;
  private current: Uint8Array | null = null;
  private readonly primary: FrameSink;
  /** ffmpeg echoes the URL in its messages: its credentials are masked before anything leaves. */
  private readonly scrub: (text: string) => string;
  private sampleFps: number;
  private keyframes: KeyframeStats | null = null;
  private probe: KeyframeProbe | null = null;
  private source: ResolvedSource | null = null;
  private decode: DecodeChoice;
  /** The running ffmpeg's plan differs from the wanted one: restart it (not a reconnect). */
  private replanPending = false;
  private replans = 0;
  private runPlan = { fps: 0, keyframesOnly: false };
  /** Files: where the running ffmpeg started, s into the file, and the file's length once ffmpeg told it. */
  private runStartAtS = 0;
  private runFirstFrameAt = 0;
  private runFrames = 0;
  private sourceDurationS: number | null = null;
  private hwaccel: HwaccelStatus;
  /** Why CUDA decoding failed for this camera (auto then stays on the CPU). */
  private cudaFailure: string | null = null;

  constructor(private readonly opts: SupervisorOptions) {
    this.scrub = secretScrubber(opts.camera.url);
    this.sampleFps = opts.sampleFps ?? effectiveFps(opts.camera, opts.streams.default_fps);
    this.decode = chooseDecode(opts.camera.decode ?? 'auto', this.sampleFps, null);
    this.backoff = new Backoff(opts.streams.reconnect, opts.random);
    this.frozen = new FrozenDetector(opts.streams.frozen_after_ms);
    this.hwaccel = { mode: opts.hwaccel?.mode ?? 'cpu', device: 'cpu', fallback_reason: null };
    const target = opts.frames;
    const output = opts.output;
    this.primary = {
      size: output === 'original' ? null : { width: output.width, height: output.height },
      onSize: (w, h) => {
        this.frameBytes = w * h * 3;
        target.onSize?.(w, h);
      },
      acquire: () => (this.current = target.acquire()),
      commit: () => this.onFrame(target),
      abort: () => {
        this.current = null;
        target.abort();
      },
    };
  }

  get state(): CameraState {
    return this.stateValue;
  }

  stats(): SupervisorStats {
    return {
      state: this.stateValue,
      lastError: this.lastError,
      framesIn: this.framesIn,
      framesDropped: this.framesDroppedBefore + (this.reader?.counts(PRIMARY_FD).dropped ?? 0),
      reconnects: this.reconnects,
      backoffAttempts: this.backoff.attempts,
      lastFrameAt: this.lastFrameAt,
      sourceWidth: this.sourceWidth,
      sourceHeight: this.sourceHeight,
      sampleFps: this.sampleFps,
      keyframesOnly: this.decode.keyframesOnly,
      decodeReason: this.decode.reason,
      keyframeIntervalS: this.keyframes?.medianS ?? null,
      replans: this.replans,
      hwaccel: { ...this.hwaccel },
    };
  }

  /**
   * Applies a new sampling rate. ffmpeg's filters cannot change rate while
   * running (neither fps nor select takes commands), so a different rate, or
   * a different keyframe decision, restarts ffmpeg: callers change rates
   * rarely (see rate-control.ts).
   */
  setSampleFps(fps: number): void {
    if (fps === this.sampleFps || fps <= 0) return;
    this.sampleFps = fps;
    this.replan();
  }

  private replan(): void {
    if (this.source) this.startProbe(this.source);
    this.decode = chooseDecode(this.opts.camera.decode ?? 'auto', this.sampleFps, this.keyframes);
    const reader = this.reader;
    if (!reader || this.stopping) return;
    if (this.runPlan.fps === this.sampleFps && this.runPlan.keyframesOnly === this.decode.keyframesOnly) return;
    this.replanPending = true;
    reader.kill('SIGKILL');
  }

  private startProbe(source: ResolvedSource): void {
    const mode = this.opts.camera.decode ?? 'auto';
    if (this.probe || mode === 'all' || !(source.kind === 'file' || source.kind === 'rtsp' || source.kind === 'http')) return;
    if (mode === 'auto' && !(this.sampleFps > 0 && this.sampleFps <= KEYFRAME_CANDIDATE_MAX_FPS)) return;
    const probe = probeKeyframes({
      ffmpegPath: this.opts.ffmpegPath,
      source,
      camera: this.opts.camera,
      seconds: this.opts.keyframeProbeSeconds ?? KEYFRAME_PROBE_SECONDS,
      ioTimeoutMs: Math.max(this.opts.streams.stall_timeout_ms, 5000),
      timeoutMs: Math.max(this.opts.streams.stall_timeout_ms, 5000) + (this.opts.keyframeProbeSeconds ?? KEYFRAME_PROBE_SECONDS) * 2000,
      nice: this.opts.streams.decoder_nice,
      onSpawn: (pid) => this.opts.events?.onSpawn?.(pid, 'probe'),
      onExit: (pid) => this.opts.events?.onExit?.(pid, 'probe'),
    });
    this.probe = probe;
    void probe.result.then((stats) => {
      if (this.stopping || stats === null) return;
      this.keyframes = stats;
      this.replan();
    });
  }

  start(): void {
    if (this.reader || this.retryTimer || this.stopping) return;
    this.attempt();
  }

  /** Stops ffmpeg (SIGTERM, then SIGKILL) and resolves once it is reaped. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      this.clearTimers();
      const reader = this.reader;
      await Promise.all([this.probe?.cancel(), reader?.stop(this.opts.stopGraceMs ?? 2000)]);
      this.setState('stopped', this.lastError);
    })();
    return this.stopped;
  }

  private setState(state: CameraState, rawError: string | null): void {
    const error = rawError === null ? null : this.scrub(rawError);
    this.lastError = error;
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.opts.events?.onState?.(state, error);
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.retryTimer = null;
    this.watchdog = null;
  }

  private onFrame(target: FrameTarget): void {
    const now = Date.now();
    const pixels = this.current;
    this.current = null;
    // Hash before commit: after it the slot belongs to the readers.
    const frozen = pixels ? this.frozen.update(pixels, this.frameBytes, now) : false;
    target.commit();
    this.framesIn++;
    this.lastFrameAt = now;
    this.runLastFrameAt = now;
    this.runFrames++;
    if (this.runFirstFrameAt === 0) this.runFirstFrameAt = now;
    if (this.streamingSince === 0) this.streamingSince = now;
    if (frozen) {
      if (this.stateValue !== 'frozen') this.setState('frozen', `picture unchanged for ${this.opts.streams.frozen_after_ms} ms`);
    } else if (this.stateValue !== 'streaming') {
      this.setState('streaming', null);
    }
  }

  private attempt(): void {
    this.retryTimer = null;
    if (this.stopping) return;
    const { camera, streams } = this.opts;
    let source;
    try {
      source = resolveSource(camera, this.opts.sourceEnv ?? defaultSourceEnv(process.platform, this.opts.ffmpegPath));
    } catch (err) {
      const message = err instanceof SourceError ? err.message : `bad camera source: ${(err as Error).message}`;
      this.setState('error', message);
      // The file or device may appear later: keep looking, slowly.
      this.schedule();
      return;
    }

    this.source = source;
    this.startProbe(source);
    const choice = chooseDecodeDevice(this.hwaccel.mode, source.kind, this.opts.hwaccel?.probe ?? null, this.cudaFailure);
    this.hwaccel = { ...this.hwaccel, device: choice.device, fallback_reason: choice.fallbackReason };
    const sinks = new Map<number, FrameSink>([[PRIMARY_FD, this.primary]]);
    if (this.opts.capture) sinks.set(CAPTURE_FD, { size: null, ...this.opts.capture.target });
    const args = buildFfmpegArgs({
      source,
      camera,
      defaultFps: streams.default_fps,
      output: this.opts.output,
      captureMaxSide: this.opts.capture?.maxSide,
      ioTimeoutMs: Math.max(streams.stall_timeout_ms, 5000),
      sampleFps: this.sampleFps,
      startAtS: this.runStartAtS,
      decode: { keyframesOnly: this.decode.keyframesOnly, threads: this.opts.decodeThreads ?? 0 },
      hwaccel: choice.device,
    });
    this.runPlan = { fps: this.sampleFps, keyframesOnly: this.decode.keyframesOnly };

    this.attemptStartedAt = Date.now();
    this.streamingSince = 0;
    this.runLastFrameAt = 0;
    this.runFirstFrameAt = 0;
    this.runFrames = 0;
    this.watchdogFired = false;
    this.frozen.reset();
    const reader = new FrameReader({
      ffmpegPath: this.opts.ffmpegPath,
      args,
      sinks,
      logLinesPerMinute: streams.ffmpeg_log_lines_per_minute,
      onLog: (level, line) => this.opts.events?.onLog?.(level, this.scrub(line)),
      onSourceSize: (w, h) => {
        this.sourceWidth = w;
        this.sourceHeight = h;
        this.opts.events?.onSourceSize?.(w, h);
      },
      onSourceDuration: (seconds) => {
        this.sourceDurationS = seconds;
      },
    });
    this.reader = reader;
    const pid = reader.pid;
    if (pid !== undefined) {
      this.opts.events?.onSpawn?.(pid, 'stream');
      setNice(pid, streams.decoder_nice ?? 0);
    }

    const check = Math.max(50, Math.min(1000, Math.floor(streams.stall_timeout_ms / 4)));
    const activity = pid !== undefined ? new ActivityWatch(pid) : null;
    this.watchdog = setInterval(() => {
      // Before the first frame of a run, the time to connect counts against the same limit.
      const silentMs = Date.now() - (this.runLastFrameAt || this.attemptStartedAt);
      // Sampled on every check past half the limit, so "working" means since the previous check.
      const working = silentMs > streams.stall_timeout_ms / 2 && activity !== null && activity.working();
      if (silentMs <= streams.stall_timeout_ms) return;
      // Starved, not stalled: an overloaded machine, and killing it would only add restart work.
      if (working && silentMs <= streams.stall_timeout_ms * STARVED_STALL_FACTOR) return;
      this.watchdogFired = true;
      const why = working ? `no frame for ${Math.round(silentMs)} ms although ffmpeg kept working` : `no frame for ${streams.stall_timeout_ms} ms`;
      this.setState('stalled', `${why}; restarting ffmpeg`);
      reader.kill('SIGKILL');
    }, check);

    void reader.exited.then((exit) => {
      if (pid !== undefined) this.opts.events?.onExit?.(pid, 'stream');
      if (this.watchdog) clearInterval(this.watchdog);
      this.watchdog = null;
      this.framesDroppedBefore += reader.counts(PRIMARY_FD).dropped;
      this.reader = null;
      if (this.stopping) return;
      // auto: CUDA decoding failed before any frame → the same source on the CPU, at once, not as a reconnect.
      if (choice.device === 'cuda' && this.hwaccel.mode === 'auto' && reader.cudaFailure !== null && this.runLastFrameAt === 0) {
        this.cudaFailure = this.scrub(`CUDA decoding failed: ${reader.cudaFailure}`);
        this.opts.events?.onLog?.('warn', `${this.cudaFailure}; decoding on the CPU`);
        this.retryTimer = setTimeout(() => this.attempt(), 0);
        return;
      }
      if (this.replanPending) {
        // Our own restart for a new rate or decode plan: straight back, no backoff, and a file goes on where it was.
        this.replanPending = false;
        this.replans++;
        // Not a looping one: ffmpeg 5.1's -stream_loop after -ss replays and shifts timestamps at the first wrap.
        this.runStartAtS = source.kind === 'file' && !camera.loop ? this.resumePosition() : 0;
        this.attempt();
        return;
      }
      this.runStartAtS = 0;
      if (exit.code === 0 && endsCleanly(source, camera)) {
        this.setState('ended', null);
        return;
      }
      if (this.streamingSince > 0 && Date.now() - this.streamingSince >= streams.reconnect.reset_after_ms) this.backoff.reset();
      this.reconnects++;
      if (this.watchdogFired) {
        this.setState('stalled', this.lastError);
      } else {
        const why = exit.error ?? (exit.code === 0 ? 'stream ended' : `ffmpeg exited with ${exit.signal ?? `code ${exit.code}`}`);
        this.setState('reconnecting', why);
      }
      this.schedule();
    });
  }

  /**
   * How far into the file the stopped run got: played in real time, the wall
   * time since its first frame; otherwise its frames at its sampling rate. At
   * most the file's end (the next run then ends at once, as this one would have).
   */
  private resumePosition(): number {
    const { camera } = this.opts;
    let played = 0;
    if (this.runFirstFrameAt > 0) {
      played = camera.realtime ? (this.runLastFrameAt - this.runFirstFrameAt) / 1000 : this.runPlan.fps > 0 ? this.runFrames / this.runPlan.fps : 0;
    }
    const position = this.runStartAtS + played;
    return this.sourceDurationS !== null && this.sourceDurationS > 0 ? Math.min(position, this.sourceDurationS) : position;
  }

  private schedule(): void {
    if (this.stopping) return;
    const max = this.opts.maxFailures ?? 0;
    if (max > 0 && this.backoff.attempts + 1 >= max) {
      this.setState('error', `gave up after ${max} failures in a row: ${this.lastError ?? 'no frames'}`);
      this.opts.events?.onGiveUp?.();
      return;
    }
    this.retryTimer = setTimeout(() => this.attempt(), this.backoff.next());
  }
}
