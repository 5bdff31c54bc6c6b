/**
 * Pure ffmpeg argument building: one resolved source + one camera config →
 * argv. Scaling happens inside ffmpeg with the exact semantics of
 * `src/models/geometry.ts` (resizePlan), so frames in the ring are already
 * model-shaped and nothing is resized per frame in JavaScript.
 */
import type { CameraConfig } from '../config/schema.js';
import type { ModelInputSpec } from '../models/types.js';
import { cudaDecodeInputArgs, cudaFilterGraph, type DecodeDevice } from './hwaccel.js';
import type { ResolvedSource } from './source.js';
import { protocolWhitelistArgs } from './protocol-whitelist.js';

/** The model input rectangle, or the source's own size. */
export type OutputGeometry = Pick<ModelInputSpec, 'width' | 'height' | 'resize' | 'pad_value'> | 'original';

export interface FfmpegArgsOptions {
  source: ResolvedSource;
  camera: Pick<CameraConfig, 'fps' | 'loop' | 'realtime'>;
  /** Used when the camera's fps is 0; 0 here too keeps the source rate. */
  defaultFps: number;
  output: OutputGeometry;
  /** > 0 adds a second rgb24 output on pipe:3, longest side at most this (never upscaled). */
  captureMaxSide?: number;
  /** Socket I/O timeout for network sources, in ms. */
  ioTimeoutMs?: number;
  /** The sampling rate decided at run time (adaptive strategy); overrides the camera's. */
  sampleFps?: number;
  /** Files only: start this many seconds in (a restart for a new rate resumes where the last run was). */
  startAtS?: number;
  decode?: DecodePlan;
  /** Where video is decoded and scaled: `cuda` = NVDEC + scale_cuda (hwaccel.ts); default cpu. */
  hwaccel?: DecodeDevice;
}

/** How much of the stream ffmpeg decodes, and with how many threads. */
export interface DecodePlan {
  /** `-skip_frame nokey`: only keyframes are decoded (the rest are never touched). */
  keyframesOnly: boolean;
  /** Decoder threads; 0 = ffmpeg's own choice (cores + 1, plus frame-threading delay). */
  threads: number;
}

/** Where each raw output goes: fd 1 for the model frames, fd 3 for capture frames. */
export const PRIMARY_FD = 1;
export const CAPTURE_FD = 3;

const DEFAULT_IO_TIMEOUT_MS = 10_000;

export function inputArgs(source: ResolvedSource, camera: FfmpegArgsOptions['camera'], ioTimeoutMs = DEFAULT_IO_TIMEOUT_MS, startAtS = 0): string[] {
  const timeoutUs = String(Math.round(ioTimeoutMs * 1000));
  switch (source.kind) {
    case 'rtsp':
      // ffmpeg ≥ 5: -timeout is the socket timeout in µs (4.x read it as "listen").
      // A small probe gets the first frame out in ≈0.45 s instead of ≈1.5 s.
      return ['-rtsp_transport', source.transport, '-timeout', timeoutUs, '-analyzeduration', '0', '-probesize', '32768', '-i', source.url];
    case 'http':
      return ['-rw_timeout', timeoutUs, ...(source.hls ? ['-live_start_index', '-1'] : []), '-i', source.url];
    case 'file':
      return [
        ...(startAtS > 0 ? ['-ss', startAtS.toFixed(3)] : []),
        ...(camera.realtime ? ['-re'] : []),
        ...(camera.loop ? ['-stream_loop', '-1'] : []),
        '-i',
        source.path,
      ];
    case 'lavfi':
      return [...(camera.realtime ? ['-re'] : []), '-f', 'lavfi', '-i', source.graph];
    case 'device':
      switch (source.format) {
        case 'v4l2':
          return ['-f', 'v4l2', '-i', source.input];
        case 'dshow':
          // dshow drops frames silently when its small default buffer fills.
          return ['-f', 'dshow', '-rtbufsize', '64M', '-i', source.input];
        case 'avfoundation':
          // avfoundation refuses to open without a rate the device supports; 30 is the common one.
          return ['-f', 'avfoundation', '-framerate', '30', '-i', source.input];
      }
  }
}

/**
 * The steps of one scaling: what runs before the scale (a crop of the
 * source), the scale's size (`W:H` or `w='expr':h='expr'`) and the RGB steps
 * after it (pad). Shared by the CPU scaler and scale_cuda.
 */
export interface ScaleSteps {
  before: string;
  size: string;
  after: string;
}

/**
 * The steps that map any source size onto the model input, mirroring
 * resizePlan: expressions so the source size need not be known in advance.
 * Null for 'original' (no scaling).
 *
 * center_crop crops the source first (exact, so odd offsets stay odd) and
 * scales only what the model sees: 0.22 ms less per 720p frame than scaling the
 * whole frame to cover the target and cropping after. scale_cuda cannot follow
 * a crop of GPU frames, so on `cuda` the crop stays after the scale, at the
 * same place to within one model-input pixel.
 */
export function geometrySteps(output: OutputGeometry, device: DecodeDevice = 'cpu'): ScaleSteps | null {
  if (output === 'original') return null;
  const { width: W, height: H } = output;
  switch (output.resize) {
    case 'stretch':
      return { before: '', size: `${W}:${H}`, after: '' };
    case 'center_crop': {
      if (device === 'cuda') {
        const s = `max(${W}/iw,${H}/ih)`;
        return { before: '', size: `w='max(${W},round(iw*${s}))':h='max(${H},round(ih*${s}))'`, after: `,crop=${W}:${H}:'floor((in_w-${W})/2)':'floor((in_h-${H})/2)'` };
      }
      const crop = `crop=w='min(iw,max(1,round(ih*${W}/${H})))':h='min(ih,max(1,round(iw*${H}/${W})))':x='floor((iw-ow)/2)':y='floor((ih-oh)/2)':exact=1,`;
      return { before: crop, size: `${W}:${H}`, after: '' };
    }
    case 'letterbox': {
      const s = `min(${W}/iw,${H}/ih)`;
      const pad = Math.max(0, Math.min(255, Math.round(output.pad_value)));
      const hex = pad.toString(16).padStart(2, '0');
      return { before: '', size: `w='min(${W},max(1,round(iw*${s})))':h='min(${H},max(1,round(ih*${s})))'`, after: `,pad=${W}:${H}:0:0:color=0x${hex}${hex}${hex}` };
    }
  }
}

/** Longest side at most maxSide, never upscaled, even dimensions (what encoders like). */
export function captureSteps(maxSide: number): ScaleSteps {
  const f = `min(1,${maxSide}/max(iw,ih))`;
  return { before: '', size: `w='max(2,trunc(iw*${f}/2)*2)':h='max(2,trunc(ih*${f}/2)*2)'`, after: '' };
}

/** The CPU filter steps for the model output. */
export function geometryFilter(output: OutputGeometry): string {
  const steps = geometrySteps(output);
  // format after scale lets swscale resize and convert to RGB in one pass; the
  // crop before it is exact (odd offsets too), so it matches resizePlan's.
  return steps === null ? 'format=rgb24' : `${steps.before}scale=${steps.size}:flags=bilinear,setsar=1,format=rgb24${steps.after}`;
}

/** The CPU filter steps for the capture output. */
export function captureFilter(maxSide: number): string {
  return `scale=${captureSteps(maxSide).size}:flags=bilinear,setsar=1,format=rgb24`;
}

/** The capture size ffmpeg will produce for a source size (same formula as captureFilter). */
export function captureSize(sourceWidth: number, sourceHeight: number, maxSide: number): { width: number; height: number } {
  const f = Math.min(1, maxSide / Math.max(sourceWidth, sourceHeight));
  return { width: Math.max(2, Math.trunc((sourceWidth * f) / 2) * 2), height: Math.max(2, Math.trunc((sourceHeight * f) / 2) * 2) };
}

export function effectiveFps(camera: Pick<CameraConfig, 'fps'>, defaultFps: number): number {
  return camera.fps > 0 ? camera.fps : defaultFps;
}

/**
 * Decoder threads per camera: the cores split across the cameras, and one
 * thread each once there are at least as many cameras as cores (more threads
 * then only add frame-threading delay, memory and context switches).
 */
export function autoDecoderThreads(cameras: number, cores: number): number {
  return Math.max(1, Math.min(4, Math.floor(cores / Math.max(1, cameras))));
}

/** Input-side decoder options (placed before -i). */
export function decodeArgs(plan: DecodePlan | undefined): string[] {
  if (!plan) return [];
  return [
    ...(plan.threads > 0 ? ['-threads', String(plan.threads)] : []),
    // One filter thread too: with many cameras on few cores, more threads only add switching.
    ...(plan.threads === 1 ? ['-filter_complex_threads', '1'] : []),
    ...(plan.keyframesOnly ? ['-skip_frame', 'nokey'] : []),
  ];
}

/**
 * The sampler at the head of the graph. `fps` repeats frames when its input
 * is sparser than the rate, so keyframe-only decoding uses `select` instead:
 * the first frame of every 1/fps time bucket, never a duplicate.
 */
export function sampleFilter(fps: number, keyframesOnly: boolean): string {
  if (fps <= 0) return 'null';
  if (!keyframesOnly) return `fps=${fps}`;
  return `select='isnan(prev_selected_t)+gte(floor(t*${fps})-floor(prev_selected_t*${fps}),1)'`;
}

export function buildFfmpegArgs(opts: FfmpegArgsOptions): string[] {
  const fps = opts.sampleFps ?? effectiveFps(opts.camera, opts.defaultFps);
  const sample = sampleFilter(fps, opts.decode?.keyframesOnly ?? false);
  const capture = opts.captureMaxSide && opts.captureMaxSide > 0 ? opts.captureMaxSide : 0;
  const cuda = opts.hwaccel === 'cuda';
  const graph = cuda
    ? cudaFilterGraph(geometrySteps(opts.output, 'cuda'), capture ? captureSteps(capture) : null, sample)
    : capture
      ? `[0:v:0]${sample},split=2[s0][s1];[s0]${geometryFilter(opts.output)}[model];[s1]${captureFilter(capture)}[capture]`
      : `[0:v:0]${sample},${geometryFilter(opts.output)}[model]`;
  // rawvideo is a constant-rate muxer: without passthrough it would repeat
  // each sparse keyframe up to the source rate again.
  const raw = [...(opts.decode?.keyframesOnly ? ['-fps_mode', 'passthrough'] : []), '-f', 'rawvideo', '-pix_fmt', 'rgb24'];
  return [
    // info level: the stream headers (source and output sizes) are parsed from stderr.
    '-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info',
    ...protocolWhitelistArgs(opts.source),
    ...decodeArgs(opts.decode),
    ...(cuda ? cudaDecodeInputArgs() : []),
    ...inputArgs(opts.source, opts.camera, opts.ioTimeoutMs, opts.startAtS),
    '-an', '-sn', '-dn',
    '-filter_complex', graph,
    '-map', '[model]', ...raw, `pipe:${PRIMARY_FD}`,
    ...(capture ? ['-map', '[capture]', ...raw, `pipe:${CAPTURE_FD}`] : []),
  ];
}
