/**
 * Hardware decoding: the pure argument building, and the real fallback on
 * this machine, where Debian's ffmpeg lists the cuda hwaccel but cannot
 * initialise it (no GPU, no libcuda).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_DEFAULTS, defaultConfig, type CameraConfig } from '../../src/config/schema.js';
import { parseCamera } from '../../src/config/load.js';
import { FrameArena } from '../../src/frames/ring.js';
import { CameraManager } from '../../src/ingest/camera-manager.js';
import { buildFfmpegArgs, type OutputGeometry } from '../../src/ingest/ffmpeg-args.js';
import { chooseDecodeDevice, cudaFilterGraph, isCudaFailureLine, probeCudaDecode } from '../../src/ingest/hwaccel.js';
import type { ResolvedSource } from '../../src/ingest/source.js';
import { StreamSupervisor } from '../../src/ingest/supervisor.js';
import { fixturePath } from '../helpers/fixtures.js';
import { fileCamera, startTestService } from '../helpers/service.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';

const live = { fps: 0, loop: false, realtime: false };
const rtsp: ResolvedSource = { kind: 'rtsp', url: 'rtsp://127.0.0.1:8554/live', transport: 'tcp' };
const crop: OutputGeometry = { width: 224, height: 224, resize: 'center_crop', pad_value: 0 };
const letterbox: OutputGeometry = { width: 416, height: 416, resize: 'letterbox', pad_value: 114 };

function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('CUDA decoding arguments (pure)', () => {
  it('asks for NVDEC frames kept on the GPU, before the input', () => {
    const args = buildFfmpegArgs({ source: rtsp, camera: live, defaultFps: 5, output: crop, hwaccel: 'cuda' });
    const hw = args.indexOf('-hwaccel');
    expect(args.slice(hw, hw + 4)).toEqual(['-hwaccel', 'cuda', '-hwaccel_output_format', 'cuda']);
    expect(hw).toBeLessThan(args.indexOf('-i'));
    // CPU decoding is unchanged: no hwaccel flags at all.
    expect(buildFfmpegArgs({ source: rtsp, camera: live, defaultFps: 5, output: crop })).not.toContain('-hwaccel');
  });

  it('scales on the GPU to nv12, downloads nv12, then samples, converts to RGB and crops on the small frame', () => {
    const graph = after(buildFfmpegArgs({ source: rtsp, camera: live, defaultFps: 5, output: crop, hwaccel: 'cuda' }), '-filter_complex');
    expect(graph).toBe(
      "[0:v:0]scale_cuda=w='max(224,round(iw*max(224/iw,224/ih)))':h='max(224,round(ih*max(224/iw,224/ih)))':interp_algo=bilinear:format=nv12," +
        "hwdownload,format=nv12,fps=5,setsar=1,format=rgb24,crop=224:224:'floor((in_w-224)/2)':'floor((in_h-224)/2)'[model]",
    );
    const boxed = after(buildFfmpegArgs({ source: rtsp, camera: live, defaultFps: 5, output: letterbox, hwaccel: 'cuda' }), '-filter_complex');
    expect(boxed).toMatch(/^\[0:v:0\]scale_cuda=w='min\(416,.*:interp_algo=bilinear:format=nv12,hwdownload,format=nv12,fps=5,setsar=1,format=rgb24,pad=416:416:0:0:color=0x727272\[model\]$/);
  });

  it('with a capture output, splits the GPU frames and scales each branch on the GPU', () => {
    const args = buildFfmpegArgs({ source: rtsp, camera: live, defaultFps: 5, output: crop, hwaccel: 'cuda', captureMaxSide: 640 });
    const graph = after(args, '-filter_complex')!;
    expect(graph.startsWith('[0:v:0]split=2[g0][g1];[g0]scale_cuda=')).toBe(true);
    expect(graph).toMatch(/\[g1\]scale_cuda=w='max\(2,trunc\(iw\*min\(1,640\/max\(iw,ih\)\)\/2\)\*2\)'.*hwdownload,format=nv12,fps=5,setsar=1,format=rgb24\[capture\]$/);
    expect(args).toContain('[capture]');
    // No scaling asked ('original'): still nv12 on the GPU before the download.
    expect(cudaFilterGraph(null, null, 'null')).toBe('[0:v:0]scale_cuda=format=nv12,hwdownload,format=nv12,null,setsar=1,format=rgb24[model]');
  });

  it('chooses the device: cpu stays cpu, cuda is forced, auto falls back with the reason', () => {
    const no = { available: false, reason: 'CUDA decoding unavailable: Cannot load libcuda.so.1' };
    const yes = { available: true, reason: '' };
    expect(chooseDecodeDevice('cpu', 'rtsp', yes, null)).toEqual({ device: 'cpu', fallbackReason: null });
    expect(chooseDecodeDevice('cuda', 'file', no, null)).toEqual({ device: 'cuda', fallbackReason: null });
    expect(chooseDecodeDevice('auto', 'rtsp', yes, null)).toEqual({ device: 'cuda', fallbackReason: null });
    expect(chooseDecodeDevice('auto', 'rtsp', no, null)).toEqual({ device: 'cpu', fallbackReason: no.reason });
    expect(chooseDecodeDevice('auto', 'http', yes, 'CUDA decoding failed: x')).toEqual({ device: 'cpu', fallbackReason: 'CUDA decoding failed: x' });
    // Raw frames (lavfi, capture devices) have nothing for NVDEC to decode.
    expect(chooseDecodeDevice('cuda', 'lavfi', yes, null).device).toBe('cpu');
    expect(chooseDecodeDevice('auto', 'device', yes, null).device).toBe('cpu');
  });

  it('recognises ffmpeg lines that mean CUDA cannot be used, and not ordinary ones', () => {
    expect(isCudaFailureLine('[AVHWDeviceContext @ 0x5565e5184940] Cannot load libcuda.so.1')).toBe(true);
    expect(isCudaFailureLine('Device creation failed: -1.')).toBe(true);
    expect(isCudaFailureLine('[h264 @ 0x56] No device available for decoder: device type cuda needed for codec h264.')).toBe(true);
    expect(isCudaFailureLine("Impossible to convert between the formats supported by the filter 'graph 0 input from stream 0:0' and the filter 'auto_scale_0'")).toBe(true);
    expect(isCudaFailureLine('rtsp://127.0.0.1:8554/live: Connection refused')).toBe(false);
    expect(isCudaFailureLine('[h264 @ 0x1] error while decoding MB 3 4')).toBe(false);
  });

  it('config: streams.hwaccel defaults to auto; a camera may override it; junk is refused', () => {
    expect(defaultConfig().streams.hwaccel).toBe('auto');
    expect(parseCamera({ id: 'a', url: 'x.mp4', hwaccel: 'cuda' }, 'cameras[0]', 'test').hwaccel).toBe('cuda');
    expect(parseCamera({ id: 'a', url: 'x.mp4' }, 'cameras[0]', 'test').hwaccel).toBeUndefined();
    expect(() => parseCamera({ id: 'a', url: 'x.mp4', hwaccel: 'nvdec' }, 'cameras[0]', 'test')).toThrow(/cameras\[0\]\.hwaccel = "nvdec" is invalid; allowed: one of auto, cpu, cuda/);
  });
});

describe('CUDA decoding on this machine (no GPU)', () => {
  let clip: string;
  beforeAll(async () => {
    clip = await fixturePath('media', 'coco_slideshow_360p.mp4');
  });
  const running: { stop(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
    expect(ffmpegChildren()).toEqual([]);
  });

  it('the probe says CUDA is unavailable, with ffmpeg’s reason', async () => {
    const probe = await probeCudaDecode('ffmpeg');
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/^CUDA decoding unavailable: .*(libcuda|Device creation failed|CUDA)/);
  });

  it('auto: a run that fails to set up CUDA is retried on the CPU at once, not counted as a reconnect', async () => {
    const camera: CameraConfig = { ...CAMERA_DEFAULTS, id: 'cam', url: clip, fps: 5, loop: true, realtime: false };
    const memory = new Uint8Array(64 * 48 * 3);
    const logs: string[] = [];
    let frames = 0;
    const sup = new StreamSupervisor({
      camera,
      streams: { ...defaultConfig().streams, frozen_after_ms: 0 },
      ffmpegPath: 'ffmpeg',
      output: { width: 64, height: 48, resize: 'stretch', pad_value: 0 },
      frames: { acquire: () => memory, commit: () => void frames++, abort: () => undefined },
      // As if the probe had found a GPU: the run itself must then discover that CUDA fails.
      hwaccel: { mode: 'auto', probe: { available: true, reason: '' } },
      events: { onLog: (_level, line) => logs.push(line) },
    });
    running.push(sup);
    sup.start();
    expect(await waitFor(() => frames >= 5, 30_000)).toBe(true);
    const stats = sup.stats();
    expect(stats.hwaccel.device).toBe('cpu');
    expect(stats.hwaccel.fallback_reason).toMatch(/^CUDA decoding failed: .*(libcuda|CUDA|Device|device)/);
    expect(stats.reconnects).toBe(0);
    expect(logs.some((l) => /CUDA decoding failed: .*; decoding on the CPU$/.test(l))).toBe(true);
  });

  it('cuda (forced) does not fall back: the camera reconnects with the CUDA error', async () => {
    const camera: CameraConfig = { ...CAMERA_DEFAULTS, id: 'cam', url: clip, fps: 5, loop: true, realtime: false };
    const sup = new StreamSupervisor({
      camera,
      streams: { ...defaultConfig().streams, frozen_after_ms: 0, reconnect: { ...defaultConfig().streams.reconnect, initial_ms: 5000 } },
      ffmpegPath: 'ffmpeg',
      output: { width: 64, height: 48, resize: 'stretch', pad_value: 0 },
      frames: { acquire: () => new Uint8Array(64 * 48 * 3), commit: () => undefined, abort: () => undefined },
      hwaccel: { mode: 'cuda', probe: null },
    });
    running.push(sup);
    sup.start();
    expect(await waitFor(() => sup.stats().reconnects >= 1, 30_000)).toBe(true);
    expect(sup.stats().hwaccel).toMatchObject({ mode: 'cuda', device: 'cuda', fallback_reason: null });
    expect(sup.stats().lastError).not.toBeNull();
  });

  it('a camera on auto decodes on the CPU and its status says why', async () => {
    const s = { ...defaultConfig().streams, frozen_after_ms: 0 };
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, 2);
    const manager = new CameraManager({ arena, streams: s, input: { width: 224, height: 224, resize: 'center_crop', pad_value: 0 } as never });
    running.push({ stop: () => manager.close() });
    const handle = await manager.add({ ...CAMERA_DEFAULTS, id: 'clip', url: clip, fps: 5, loop: true, realtime: false });
    expect(await waitFor(() => handle.status().frames_in >= 3, 30_000)).toBe(true);
    expect(handle.status().hwaccel).toMatchObject({ mode: 'auto', device: 'cpu' });
    expect(handle.status().hwaccel?.fallback_reason).toMatch(/^CUDA decoding unavailable: /);
    // A raw source never asks for the GPU.
    const demo = await manager.add({ ...CAMERA_DEFAULTS, id: 'demo', url: 'lavfi:testsrc2=size=160x120:rate=10', fps: 5 });
    expect(demo.status().hwaccel).toEqual({ mode: 'auto', device: 'cpu', fallback_reason: null });
  });

  it('GET /health/stream shows where each camera decodes (hwaccel) and why auto fell back', async () => {
    const svc = await startTestService({ cameras: [fileCamera('clip', clip, { realtime: false })] });
    running.push(svc);
    type Status = { id: string; frames_in: number; hwaccel: { mode: string; device: string; fallback_reason: string | null } };
    const fetchStatus = async (): Promise<Status> => ((await (await fetch(`${svc.baseUrl}/health/stream`)).json()) as { cameras: Status[] }).cameras[0]!;
    let status = await fetchStatus();
    for (let i = 0; i < 100 && status.frames_in === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await fetchStatus();
    }
    expect(status.frames_in).toBeGreaterThan(0);
    expect(status.hwaccel).toMatchObject({ mode: 'auto', device: 'cpu' });
    expect(status.hwaccel.fallback_reason).toMatch(/^CUDA decoding unavailable: /);
  });
});
