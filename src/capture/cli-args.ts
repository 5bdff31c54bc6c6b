/**
 * Arguments of the dataset capture CLI (`npm run capture -- …`). Pure: argv
 * in, options or a UsageError (one line naming the bad argument) out.
 */
import { parseArgs } from 'node:util';
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

type Setter = (opts: CaptureCliOptions, value: string, flag: string) => void;

function positiveInt(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} ${JSON.stringify(raw)} is invalid; allowed: an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return n;
}

function nonEmpty(flag: string, raw: string, what: string): string {
  if (raw.trim() === '') throw new UsageError(`${flag} needs ${what}`);
  return raw;
}

function oneOf<const V extends string>(flag: string, raw: string, allowed: readonly V[]): V {
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`${flag} ${JSON.stringify(raw)} is invalid; allowed: ${allowed.join(', ')}`);
  return raw as V;
}

function parseFps(flag: string, raw: string): number {
  const fps = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(fps) || fps <= 0 || fps > 240) {
    throw new UsageError(`${flag} ${JSON.stringify(raw)} is invalid; allowed: a number above 0, at most 240`);
  }
  return fps;
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

/** Every option that takes a value, and how it is read. */
const VALUE_OPTIONS: Record<string, Setter> = {
  output: (o, v, f) => (o.output = nonEmpty(f, v, 'a directory')),
  'max-frames': (o, v, f) => (o.maxFrames = positiveInt(f, v, 1)),
  source: (o, v, f) => (o.source = nonEmpty(f, v, 'a URL, file or camera').trim()),
  camera: (o, v, f) => (o.camera = nonEmpty(f, v, 'a camera id').trim()),
  config: (o, v) => (o.config = v),
  every: (o, v, f) => (o.every = positiveInt(f, v, 1)),
  fps: (o, v, f) => (o.fps = parseFps(f, v)),
  size: (o, v) => (o.size = parseSize(v)),
  resize: (o, v, f) => (o.resize = oneOf(f, v, ['stretch', 'letterbox', 'center_crop'])),
  format: (o, v, f) => (o.format = oneOf(f, v, ['jpg', 'png'])),
  quality: (o, v, f) => (o.quality = positiveInt(f, v, 1, 100)),
};

const PARSE_OPTIONS = {
  ...Object.fromEntries(Object.keys(VALUE_OPTIONS).map((name) => [name, { type: 'string' as const }])),
  realtime: { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

function defaults(): CaptureCliOptions {
  return { output: 'data/raw', maxFrames: 0, source: null, camera: null, config: null, every: 1, fps: 0, size: null, resize: 'stretch', format: 'jpg', quality: 90, realtime: false, help: false };
}

/** Combinations that are each valid alone but not together. */
function checkCombinations(opts: CaptureCliOptions, seen: ReadonlySet<string>): void {
  if (opts.source !== null && opts.camera !== null) throw new UsageError('--source and --camera cannot be used together');
  if (opts.every > 1 && opts.fps > 0) throw new UsageError('--every and --fps cannot be used together; pick one way to sample');
  if (seen.has('resize') && opts.size === null) throw new UsageError('--resize only applies with --size WxH');
  if (seen.has('quality') && opts.format !== 'jpg') throw new UsageError('--quality only applies to --format jpg');
}

export function parseCaptureArgs(argv: readonly string[]): CaptureCliOptions {
  // Non-strict tokens: node:util splits `--a b`, `--a=b` and `-h`; the messages stay ours.
  const { tokens } = parseArgs({ args: [...argv], options: PARSE_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const opts = defaults();
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    const raw = argv[token.index] as string;
    if (token.kind === 'positional' || !(token.name in PARSE_OPTIONS)) throw new UsageError(`unknown argument ${JSON.stringify(raw)}`);
    const flag = `--${token.name}`;
    if (token.name === 'help') opts.help = true;
    else if (token.name === 'realtime') opts.realtime = true;
    else {
      if (seen.has(token.name)) throw new UsageError(`${flag} given twice`);
      seen.add(token.name);
      const value = token.value;
      if (value === undefined || (!token.inlineValue && value.startsWith('--') && value.slice(2) in VALUE_OPTIONS)) throw new UsageError(`${flag} needs a value`);
      (VALUE_OPTIONS[token.name] as Setter)(opts, value, flag);
    }
  }
  if (!opts.help) checkCombinations(opts, seen);
  return opts;
}
