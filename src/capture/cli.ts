/**
 * Dataset capture CLI: `npm run capture -- --output data/raw --max-frames 200`.
 *
 * Frames come through the service's own ingestion (`openFrameStream`: same
 * source resolution, ffmpeg arguments, frame reader and supervisor); this
 * file only chooses frames and hands them to the DatasetWriter.
 * Exit codes: 0 done (max frames, end of file, or Ctrl-C), 1 runtime
 * failure, 2 bad arguments.
 */
import { resolve } from 'node:path';
import { ConfigError, loadConfig, parseCamera } from '../config/load.js';
import type { CameraConfig } from '../config/schema.js';
import { openFrameStream, type FrameStream } from '../ingest/frame-stream.js';
import type { OutputGeometry } from '../ingest/ffmpeg-args.js';
import { resolveSource, SourceError, sourceKindOf } from '../ingest/source.js';
import type { CameraState } from '../contracts/camera.js';
import { parseCaptureArgs, USAGE, UsageError, type CaptureCliOptions } from './cli-args.js';
import { DatasetWriter } from './dataset-writer.js';
import { Progress } from './progress.js';

/** Pixel bytes waiting for the encoder before frames are dropped (counted, reported). */
const MAX_PENDING_BYTES = 256 * 1024 * 1024;

/** The camera to read: --source, --camera from the config, or the config's first camera. */
function chooseCamera(opts: CaptureCliOptions): CameraConfig {
  // A dataset wants each frame once, so files never loop here.
  // The source's own rate unless --fps asks for less (openFrameStream applies it).
  const cliSettings = { loop: false, realtime: opts.realtime, fps: 0 };
  if (opts.source !== null) {
    return parseCamera({ id: 'capture', url: opts.source, ...cliSettings }, '--source', 'command line');
  }
  const config = loadConfig(opts.config ? { configPath: opts.config } : {});
  if (opts.camera !== null) {
    const found = config.cameras.find((c) => c.id === opts.camera);
    if (!found) {
      const ids = config.cameras.map((c) => c.id);
      throw new UsageError(`--camera ${JSON.stringify(opts.camera)} is not in the config; ${ids.length ? `configured: ${ids.join(', ')}` : 'no cameras are configured'}`);
    }
    return { ...found, ...cliSettings };
  }
  const first = config.cameras[0];
  if (!first) throw new UsageError('no source: give --source or --camera, or configure a camera (APP_CONFIG_PATH / --config)');
  return { ...first, ...cliSettings };
}

function geometryOf(opts: CaptureCliOptions): OutputGeometry {
  if (!opts.size) return 'original';
  // Pad with black for letterbox: neutral for a dataset, unlike a model's own pad value.
  return { width: opts.size.width, height: opts.size.height, resize: opts.resize, pad_value: 0 };
}

/** Options and camera from argv, or the exit code when there is nothing to run (help, bad arguments). */
function prepare(argv: readonly string[]): { opts: CaptureCliOptions; camera: CameraConfig } | number {
  try {
    const opts = parseCaptureArgs(argv);
    if (opts.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const camera = chooseCamera(opts);
    // Fail on a missing file or device now, instead of the supervisor retrying it forever.
    resolveSource(camera);
    return { opts, camera };
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof SourceError) {
      process.stderr.write(`capture: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

/** One capture run: chooses frames from the stream, hands them to the writer, decides when to stop. */
class CaptureRun {
  accepted = 0;
  dropped = 0;
  firstName: string | null = null;
  lastName: string | null = null;
  failure: string | null = null;
  interrupted = false;
  private stream: FrameStream | null = null;
  private stopping: Promise<void> | null = null;
  private lastState: CameraState | null = null;
  private readonly isFile: boolean;

  constructor(
    private readonly opts: CaptureCliOptions,
    private readonly camera: CameraConfig,
    readonly writer: DatasetWriter,
    private readonly progress: Progress,
  ) {
    this.isFile = sourceKindOf(camera.url) === 'file';
  }

  get reachedMax(): boolean {
    return this.opts.maxFrames > 0 && this.accepted >= this.opts.maxFrames;
  }

  stop(): Promise<void> {
    return (this.stopping ??= this.stream ? this.stream.stop() : Promise.resolve());
  }

  readonly onSigint = (): void => {
    if (this.interrupted) {
      // A second Ctrl-C: the user does not want to wait for the last encodes.
      process.stderr.write('\ncapture: interrupted twice, exiting without waiting\n');
      process.exit(130);
    }
    this.interrupted = true;
    void this.stop();
  };

  private onFrame(rgb: Uint8Array, width: number, height: number, frameNo: number): void {
    if (this.stopping || (frameNo - 1) % this.opts.every !== 0) return;
    const name = this.writer.accept(rgb, width, height);
    if (name === null) {
      this.dropped++;
      return;
    }
    this.firstName ??= name;
    this.lastName = name;
    this.accepted++;
    if (this.reachedMax) void this.stop();
  }

  private onState(state: CameraState, error: string | null | undefined): void {
    // Ctrl-C in a terminal reaches ffmpeg too; its exit then is ours, not a failure.
    if (state === this.lastState || this.interrupted) return;
    this.lastState = state;
    if ((state !== 'reconnecting' && state !== 'stalled' && state !== 'error') || this.stopping) return;
    if (this.isFile) {
      // A file that fails to decode will not get better by retrying.
      this.failure = error ?? `source ${state}`;
      void this.stop();
    } else {
      this.progress.finish();
      process.stderr.write(`capture: source ${state}${error ? `: ${error}` : ''}\n`);
    }
  }

  /** Streams until the source ends, --max-frames is reached or Ctrl-C; then flushes the writer. */
  async run(): Promise<void> {
    this.stream = await openFrameStream(this.camera, {
      geometry: geometryOf(this.opts),
      fps: this.opts.fps,
      streams: { default_fps: 0 },
      onFrame: (rgb, width, height, frameNo) => this.onFrame(rgb, width, height, frameNo),
      onState: (state, error) => this.onState(state, error),
    });
    if (this.interrupted) void this.stop();
    // Progress is polled: frames arrive far faster than a terminal should redraw.
    const ticker = setInterval(() => this.progress.update(this.writer.written), 100);
    try {
      await this.stream.done;
      await this.writer.flush();
    } finally {
      clearInterval(ticker);
    }
    this.progress.update(this.writer.written);
    this.progress.finish();
  }
}

/** The closing lines, and the exit code. */
function report(capture: CaptureRun, outputDir: string): number {
  const { writer, firstName, lastName, dropped, failure } = capture;
  const written = writer.written;
  const range = firstName && lastName ? ` (${firstName === lastName ? firstName : `${firstName} … ${lastName}`})` : '';
  const why = capture.interrupted ? 'interrupted' : capture.reachedMax ? 'reached --max-frames' : failure ? 'source failed' : 'source ended';
  process.stdout.write(`capture: wrote ${written} image${written === 1 ? '' : 's'} to ${outputDir}${range}; ${why}\n`);
  if (dropped > 0) {
    process.stderr.write(`capture: ${dropped} frames were dropped because encoding fell behind decoding; use --realtime, --fps or --every to sample fewer\n`);
  }
  const error = writer.error?.message ?? failure;
  if (error) process.stderr.write(`capture: ${error}\n`);
  return error ? 1 : 0;
}

async function run(argv: readonly string[]): Promise<number> {
  const prepared = prepare(argv);
  if (typeof prepared === 'number') return prepared;
  const { opts, camera } = prepared;
  const outputDir = resolve(opts.output);
  const writer = await DatasetWriter.open({ dir: outputDir, format: opts.format, quality: opts.quality, maxPendingBytes: MAX_PENDING_BYTES });
  const capture = new CaptureRun(opts, camera, writer, new Progress(process.stderr, opts.maxFrames));
  process.on('SIGINT', capture.onSigint);
  try {
    await capture.run();
  } finally {
    process.off('SIGINT', capture.onSigint);
  }
  return report(capture, outputDir);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Nothing should be left running; if something is, do not hang the shell.
    setTimeout(() => process.exit(code), 5_000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`capture: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 5_000).unref();
  },
);
