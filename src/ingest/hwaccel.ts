/**
 * Hardware video decoding (config `hwaccel: auto | cpu | cuda`, globally in
 * `streams.hwaccel` and per camera): with CUDA, ffmpeg decodes on NVDEC
 * (`-hwaccel cuda -hwaccel_output_format cuda`), scales on the GPU
 * (scale_cuda) and downloads only the model-sized frame to the raw RGB pipe.
 *
 * Named `hwaccel` (not `decode`) because `decode` selects which frames are
 * decoded (keyframes/all) on another branch.
 *
 * Format negotiation: NVDEC frames of 8-bit 4:2:0 video are nv12; scale_cuda
 * keeps its input format unless told, and hwdownload must name the format it
 * downloads exactly. scale_cuda is told `format=nv12` (so 10-bit or 4:4:4
 * sources are converted on the GPU too) and hwdownload is followed by
 * `format=nv12`; swscale then converts the small frame to rgb24 on the CPU
 * (scale_cuda cannot output RGB). The frame-rate filter runs after the
 * download, on software frames.
 */
import { spawn } from 'node:child_process';
import type { HwaccelMode } from '../config/schema.js';
import type { ScaleSteps } from './ffmpeg-args.js';
import type { SourceKind } from '../contracts/camera.js';

export type { HwaccelMode };
/** Where one ffmpeg run decodes. */
export type DecodeDevice = 'cpu' | 'cuda';

export function cudaDecodeInputArgs(): string[] {
  return ['-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda'];
}

function gpuChain(steps: ScaleSteps | null, sample: string): string {
  const scale = steps === null ? 'scale_cuda=format=nv12' : `scale_cuda=${steps.size}:interp_algo=bilinear:format=nv12`;
  return `${scale},hwdownload,format=nv12,${sample},setsar=1,format=rgb24${steps?.after ?? ''}`;
}

/** The -filter_complex graph for a CUDA run: model output, and the capture output when asked. */
export function cudaFilterGraph(model: ScaleSteps | null, capture: ScaleSteps | null, sample: string): string {
  if (capture === null) return `[0:v:0]${gpuChain(model, sample)}[model]`;
  return `[0:v:0]split=2[g0][g1];[g0]${gpuChain(model, sample)}[model];[g1]${gpuChain(capture, sample)}[capture]`;
}

/** Lines by which ffmpeg says CUDA decoding cannot work here (no driver, no device, no NVDEC for the codec). */
const CUDA_FAILURE = [
  /Cannot load libcuda/i,
  /Could not dynamically load CUDA/i,
  /Device creation failed/i,
  /No device available for decoder/i,
  /Device setup failed for decoder/i,
  /CUDA_ERROR_/,
  /cuInit|cuCtxCreate|cuvid/i,
  /Failed setup for format cuda/i,
  /hwaccel initialisation returned error/i,
  // Frames not on the GPU (the codec has no NVDEC support and ffmpeg decoded it in software).
  /Impossible to convert between the formats supported by the filter/i,
  /Unrecognized hwaccel/i,
];

/** Whether an ffmpeg stderr line says CUDA decoding is unavailable. */
export function isCudaFailureLine(line: string): boolean {
  return CUDA_FAILURE.some((re) => re.test(line));
}

/** Sources whose frames come from a decoder NVDEC may handle (not raw lavfi/device frames). */
export function mayDecodeOnGpu(kind: SourceKind): boolean {
  return kind === 'rtsp' || kind === 'http' || kind === 'file';
}

export interface CudaDecodeProbe {
  available: boolean;
  /** Why not (first ffmpeg line that says so), empty when available. */
  reason: string;
}

/**
 * The decision for one run: `cpu` and `cuda` are what they say (`cuda` on a
 * raw source is still decoded on the CPU: there is nothing to decode);
 * `auto` takes CUDA when the probe (or an earlier run of this camera) has
 * not ruled it out.
 */
export function chooseDecodeDevice(
  mode: HwaccelMode,
  kind: SourceKind,
  probe: CudaDecodeProbe | null,
  failedBefore: string | null,
): { device: DecodeDevice; fallbackReason: string | null } {
  if (mode === 'cpu' || !mayDecodeOnGpu(kind)) return { device: 'cpu', fallbackReason: null };
  if (mode === 'cuda') return { device: 'cuda', fallbackReason: null };
  if (failedBefore !== null) return { device: 'cpu', fallbackReason: failedBefore };
  if (probe !== null && !probe.available) return { device: 'cpu', fallbackReason: probe.reason };
  return { device: 'cuda', fallbackReason: null };
}

/** Arguments of the probe: create a CUDA device and push one tiny frame through it. */
export function cudaProbeArgs(): string[] {
  return [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-init_hw_device', 'cuda=gpu', '-filter_hw_device', 'gpu',
    '-f', 'lavfi', '-i', 'color=size=64x64:rate=1:duration=1',
    '-vf', 'format=nv12,hwupload,scale_cuda=32:32,hwdownload,format=nv12',
    '-frames:v', '1', '-f', 'null', '-',
  ];
}

const probes = new Map<string, Promise<CudaDecodeProbe>>();

/** Whether this ffmpeg can use CUDA here; asked once per ffmpeg path and process. */
export function probeCudaDecode(ffmpegPath: string, timeoutMs = 15_000): Promise<CudaDecodeProbe> {
  let p = probes.get(ffmpegPath);
  if (p === undefined) {
    p = runProbe(ffmpegPath, timeoutMs);
    probes.set(ffmpegPath, p);
  }
  return p;
}

function runProbe(ffmpegPath: string, timeoutMs: number): Promise<CudaDecodeProbe> {
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(ffmpegPath, cudaProbeArgs(), { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => {
      if (stderr.length < 8192) stderr += t;
    });
    const done = (available: boolean, reason: string): void => {
      clearTimeout(timer);
      resolve({ available, reason });
    };
    child.on('error', (err) => done(false, `ffmpeg could not start: ${err.message}`));
    child.on('close', (code, signal) => {
      if (code === 0) return done(true, '');
      const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
      const why = lines.find(isCudaFailureLine) ?? lines[lines.length - 1] ?? `exit ${signal ?? code}`;
      done(false, `CUDA decoding unavailable: ${why}`);
    });
  });
}
