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

async function run(argv: readonly string[]): Promise<number> {
  let opts: CaptureCliOptions;
  let camera: CameraConfig;
  try {
    opts = parseCaptureArgs(argv);
    if (opts.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    camera = chooseCamera(opts);
    // Fail on a missing file or device now, instead of the supervisor retrying it forever.
    resolveSource(camera);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof SourceError) {
      process.stderr.write(`capture: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }

  const outputDir = resolve(opts.output);
  const writer = await DatasetWriter.open({ dir: outputDir, format: opts.format, quality: opts.quality, maxPendingBytes: MAX_PENDING_BYTES });
  const progress = new Progress(process.stderr, opts.maxFrames);
  const isFile = sourceKindOf(camera.url) === 'file';

  let accepted = 0;
  let firstName: string | null = null;
  let lastName: string | null = null;
  let dropped = 0;
  let stream: FrameStream | null = null;
  let stopping: Promise<void> | null = null;
  let failure: string | null = null;
  let interrupted = false;
  let lastState: CameraState | null = null;

  const stop = (): Promise<void> => (stopping ??= stream ? stream.stop() : Promise.resolve());

  const onSigint = (): void => {
    if (interrupted) {
      // A second Ctrl-C: the user does not want to wait for the last encodes.
      process.stderr.write('\ncapture: interrupted twice, exiting without waiting\n');
      process.exit(130);
    }
    interrupted = true;
    void stop();
  };
  process.on('SIGINT', onSigint);

  try {
    stream = await openFrameStream(camera, {
      geometry: geometryOf(opts),
      fps: opts.fps,
      streams: { default_fps: 0 },
      onFrame: (rgb, width, height, frameNo) => {
        if (stopping || (frameNo - 1) % opts.every !== 0) return;
        const name = writer.accept(rgb, width, height);
        if (name === null) {
          dropped++;
          return;
        }
        firstName ??= name;
        lastName = name;
        accepted++;
        if (opts.maxFrames > 0 && accepted >= opts.maxFrames) void stop();
      },
      onState: (state, error) => {
        // Ctrl-C in a terminal reaches ffmpeg too; its exit then is ours, not a failure.
        if (state === lastState || interrupted) return;
        lastState = state;
        if (state === 'reconnecting' || state === 'stalled' || state === 'error') {
          if (isFile && !stopping) {
            // A file that fails to decode will not get better by retrying.
            failure = error ?? `source ${state}`;
            void stop();
          } else if (!stopping) {
            progress.finish();
            process.stderr.write(`capture: source ${state}${error ? `: ${error}` : ''}\n`);
          }
        }
      },
    });
    if (interrupted) void stop();

    // Progress is polled: frames arrive far faster than a terminal should redraw.
    const ticker = setInterval(() => progress.update(writer.written), 100);
    try {
      await stream.done;
      await writer.flush();
    } finally {
      clearInterval(ticker);
    }
    progress.update(writer.written);
    progress.finish();
  } finally {
    process.off('SIGINT', onSigint);
  }

  const written = writer.written;
  const range = firstName && lastName ? ` (${firstName === lastName ? firstName : `${firstName} … ${lastName}`})` : '';
  const why = interrupted ? 'interrupted' : opts.maxFrames > 0 && accepted >= opts.maxFrames ? 'reached --max-frames' : failure ? 'source failed' : 'source ended';
  process.stdout.write(`capture: wrote ${written} image${written === 1 ? '' : 's'} to ${outputDir}${range}; ${why}\n`);
  if (dropped > 0) {
    process.stderr.write(`capture: ${dropped} frames were dropped because encoding fell behind decoding; use --realtime, --fps or --every to sample fewer\n`);
  }
  if (writer.error) {
    process.stderr.write(`capture: ${writer.error.message}\n`);
    return 1;
  }
  if (failure) {
    process.stderr.write(`capture: ${failure}\n`);
    return 1;
  }
  return 0;
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
