/**
 * Arguments of the dataset capture CLI (`npm run capture -- …`). Pure: argv
 * in, options or a UsageError (one line naming the bad argument) out.
 */
import type { ResizeMode } from '../models/types.js';

export type ImageFormat = 'jpg' | 'png';

export interface CaptureCliOptions {
  output: string;
  /** 0 = until the source ends or Ctrl-C. */
  maxFrames: number;
  /** A URL, file path, camera index, `auto`, `video=NAME` or `lavfi:GRAPH`. */
  source: string | null;
  /** A camera id from the config file. */
  camera: string | null;
  /** Config file; else APP_CONFIG_PATH. */
  config: string | null;
  /** Keep every Nth decoded frame (1 = all). */
  every: number;
  /** Sample this many frames per second in ffmpeg; 0 = the source rate. */
  fps: number;
  /** null = the source's own size. */
  size: { width: number; height: number } | null;
  resize: ResizeMode;
  format: ImageFormat;
  /** JPEG quality 1..100. */
  quality: number;
  /** Read files at their native rate instead of as fast as they decode. */
  realtime: boolean;
  help: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage: npm run capture -- [options]

Saves frames from a camera or video file as numbered images
(frame_000001.jpg, …) for building datasets.

Source (one of; default: the first camera in the config file):
  --source URL|FILE|CAMERA   rtsp://…, http(s)://…, a video file, a camera
                             index, auto, video=NAME or lavfi:GRAPH
  --camera ID                a camera from the config file
  --config PATH              config file (default: $APP_CONFIG_PATH)

Output:
  --output DIR               directory to write into (default: data/raw);
                             numbering continues after existing frames
  --max-frames N             stop after N images (default: until the source
                             ends or Ctrl-C)
  --every N                  keep every Nth decoded frame (default: 1)
  --fps F                    sample F frames per second (default: source rate)
  --size WxH|original        image size (default: original)
  --resize MODE              with --size: stretch, letterbox or center_crop
                             (default: stretch)
  --format jpg|png           image format (default: jpg)
  --quality Q                JPEG quality 1-100 (default: 90)
  --realtime                 read files at their native rate (default: as
                             fast as they decode)
  -h, --help                 show this help

Ctrl-C stops cleanly: every image written so far is complete.`;

const VALUE_FLAGS = new Set(['--output', '--max-frames', '--source', '--camera', '--config', '--every', '--fps', '--size', '--resize', '--format', '--quality']);

function positiveInt(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} ${JSON.stringify(raw)} is invalid; allowed: an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return n;
}

function parseSize(raw: string): { width: number; height: number } | null {
  if (raw === 'original') return null;
  const m = /^(\d{1,5})x(\d{1,5})$/i.exec(raw.trim());
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 2 || height < 2 || width > 16384 || height > 16384) {
    throw new UsageError(`--size ${JSON.stringify(raw)} is invalid; allowed: WxH (2-16384 each, e.g. 640x480) or original`);
  }
  return { width, height };
}

export function parseCaptureArgs(argv: readonly string[]): CaptureCliOptions {
  const opts: CaptureCliOptions = {
    output: 'data/raw',
    maxFrames: 0,
    source: null,
    camera: null,
    config: null,
    every: 1,
    fps: 0,
    size: null,
    resize: 'stretch',
    format: 'jpg',
    quality: 90,
    realtime: false,
    help: false,
  };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    }
    if (flag === '-h' || flag === '--help') {
      opts.help = true;
      continue;
    }
    if (flag === '--realtime') {
      opts.realtime = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    if (seen.has(flag)) throw new UsageError(`${flag} given twice`);
    seen.add(flag);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || (value.startsWith('--') && VALUE_FLAGS.has(value))) throw new UsageError(`${flag} needs a value`);
    }
    switch (flag) {
      case '--output':
        if (value.trim() === '') throw new UsageError('--output needs a directory');
        opts.output = value;
        break;
      case '--max-frames':
        opts.maxFrames = positiveInt(flag, value, 1);
        break;
      case '--source':
        if (value.trim() === '') throw new UsageError('--source needs a URL, file or camera');
        opts.source = value.trim();
        break;
      case '--camera':
        if (value.trim() === '') throw new UsageError('--camera needs a camera id');
        opts.camera = value.trim();
        break;
      case '--config':
        opts.config = value;
        break;
      case '--every':
        opts.every = positiveInt(flag, value, 1);
        break;
      case '--fps': {
        const fps = Number(value);
        if (value.trim() === '' || !Number.isFinite(fps) || fps <= 0 || fps > 240) {
          throw new UsageError(`--fps ${JSON.stringify(value)} is invalid; allowed: a number above 0, at most 240`);
        }
        opts.fps = fps;
        break;
      }
      case '--size':
        opts.size = parseSize(value);
        break;
      case '--resize':
        if (value !== 'stretch' && value !== 'letterbox' && value !== 'center_crop') {
          throw new UsageError(`--resize ${JSON.stringify(value)} is invalid; allowed: stretch, letterbox, center_crop`);
        }
        opts.resize = value;
        break;
      case '--format':
        if (value !== 'jpg' && value !== 'png') throw new UsageError(`--format ${JSON.stringify(value)} is invalid; allowed: jpg, png`);
        opts.format = value;
        break;
      case '--quality':
        opts.quality = positiveInt(flag, value, 1, 100);
        break;
    }
  }
  if (opts.help) return opts;
  if (opts.source !== null && opts.camera !== null) throw new UsageError('--source and --camera cannot be used together');
  if (opts.every > 1 && opts.fps > 0) throw new UsageError('--every and --fps cannot be used together; pick one way to sample');
  if (seen.has('--resize') && opts.size === null) throw new UsageError('--resize only applies with --size WxH');
  if (seen.has('--quality') && opts.format !== 'jpg') throw new UsageError('--quality only applies to --format jpg');
  return opts;
}
