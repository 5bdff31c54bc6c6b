import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildFfmpegArgs, captureSize, geometryFilter, geometrySteps, inputArgs, type OutputGeometry } from '../../src/ingest/ffmpeg-args.js';
import type { ResolvedSource } from '../../src/ingest/source.js';
import { resizePlan } from '../../src/models/geometry.js';

const live = { fps: 0, loop: true, realtime: true };
const model: OutputGeometry = { width: 224, height: 224, resize: 'center_crop', pad_value: 0 };

/** The value after `flag` (first occurrence). */
const after = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('inputArgs per source kind and platform', () => {
  it('RTSP: transport, socket timeout in µs (ffmpeg ≥ 5), small probe for a fast first frame', () => {
    expect(inputArgs({ kind: 'rtsp', url: 'rtsp://h/s', transport: 'tcp' }, live, 7000)).toEqual([
      '-rtsp_transport', 'tcp', '-timeout', '7000000', '-analyzeduration', '0', '-probesize', '32768', '-i', 'rtsp://h/s',
    ]);
    expect(after(inputArgs({ kind: 'rtsp', url: 'rtsp://h/s', transport: 'udp' }, live), '-rtsp_transport')).toBe('udp');
    expect(inputArgs({ kind: 'rtsp', url: 'rtsp://h/s', transport: 'tcp' }, live)).not.toContain('-stimeout');
  });

  it('HTTP and HLS: read timeout, HLS starts at the live edge', () => {
    expect(inputArgs({ kind: 'http', url: 'http://h/v.mjpg', hls: false }, live, 5000)).toEqual(['-rw_timeout', '5000000', '-i', 'http://h/v.mjpg']);
    expect(inputArgs({ kind: 'http', url: 'https://h/i.m3u8', hls: true }, live, 5000)).toEqual(['-rw_timeout', '5000000', '-live_start_index', '-1', '-i', 'https://h/i.m3u8']);
  });

  it('files: -re when realtime, -stream_loop -1 when looping', () => {
    const f: ResolvedSource = { kind: 'file', path: '/m/a.mp4' };
    expect(inputArgs(f, { fps: 0, loop: true, realtime: true })).toEqual(['-re', '-stream_loop', '-1', '-i', '/m/a.mp4']);
    expect(inputArgs(f, { fps: 0, loop: false, realtime: false })).toEqual(['-i', '/m/a.mp4']);
  });

  it('files: a resumed run seeks to where the last one was (input -ss, before -re and the loop)', () => {
    const f: ResolvedSource = { kind: 'file', path: '/m/a.mp4' };
    expect(inputArgs(f, { fps: 0, loop: true, realtime: true }, 10_000, 12.3456)).toEqual(['-ss', '12.346', '-re', '-stream_loop', '-1', '-i', '/m/a.mp4']);
    expect(inputArgs({ kind: 'lavfi', graph: 'testsrc2' }, { fps: 0, loop: false, realtime: false }, 10_000, 5)).toEqual(['-f', 'lavfi', '-i', 'testsrc2']);
  });

  it('lavfi: -f lavfi, paced when realtime', () => {
    expect(inputArgs({ kind: 'lavfi', graph: 'testsrc2=size=1280x720:rate=25' }, live)).toEqual(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25']);
  });

  it('devices: v4l2 on Linux, dshow on Windows, avfoundation on macOS', () => {
    expect(inputArgs({ kind: 'device', format: 'v4l2', input: '/dev/video0', label: 'cam' }, live)).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    expect(inputArgs({ kind: 'device', format: 'dshow', input: 'video=Cam', label: 'Cam' }, live)).toEqual(['-f', 'dshow', '-rtbufsize', '64M', '-i', 'video=Cam']);
    expect(inputArgs({ kind: 'device', format: 'avfoundation', input: '0:none', label: 'camera 0' }, live)).toEqual(['-f', 'avfoundation', '-framerate', '30', '-i', '0:none']);
  });
});

describe('buildFfmpegArgs', () => {
  const source: ResolvedSource = { kind: 'rtsp', url: 'rtsp://h/s', transport: 'tcp' };

  it('samples at the camera fps (else the default), scales to the model and writes rgb24 to pipe:1', () => {
    const args = buildFfmpegArgs({ source, camera: { ...live, fps: 3 }, defaultFps: 5, output: model });
    expect(args.slice(0, 5)).toEqual(['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info']);
    expect(args).toContain('-an');
    expect(after(args, '-filter_complex')).toBe(`[0:v:0]fps=3,${geometryFilter(model)}[model]`);
    expect(args.slice(-7)).toEqual(['-map', '[model]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    expect(after(buildFfmpegArgs({ source, camera: live, defaultFps: 5, output: model }), '-filter_complex')).toMatch(/^\[0:v:0\]fps=5,/);
    expect(after(buildFfmpegArgs({ source, camera: live, defaultFps: 0, output: model }), '-filter_complex')).toMatch(/^\[0:v:0\]null,/);
    expect(args).not.toContain('pipe:3');
  });

  it('adds a split capture output on pipe:3 when a capture size is asked for', () => {
    const args = buildFfmpegArgs({ source, camera: live, defaultFps: 5, output: model, captureMaxSide: 1280 });
    expect(after(args, '-filter_complex')).toMatch(/^\[0:v:0\]fps=5,split=2\[s0\]\[s1\];\[s0\].*\[model\];\[s1\]scale=.*1280.*\[capture\]$/);
    expect(args.slice(-14)).toEqual(['-map', '[model]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1', '-map', '[capture]', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:3']);
  });

  it('builds the three resize modes, letterbox padding with the pad value', () => {
    expect(geometryFilter({ width: 416, height: 416, resize: 'letterbox', pad_value: 114 })).toMatch(/pad=416:416:0:0:color=0x727272$/);
    expect(geometryFilter({ width: 224, height: 224, resize: 'center_crop', pad_value: 0 })).toMatch(/^crop=.*:exact=1,scale=224:224:flags=bilinear,setsar=1,format=rgb24$/);
    expect(geometryFilter({ width: 320, height: 240, resize: 'stretch', pad_value: 0 })).toBe('scale=320:240:flags=bilinear,setsar=1,format=rgb24');
    expect(geometryFilter('original')).toBe('format=rgb24');
  });

  it('capture sizes never upscale and stay even', () => {
    expect(captureSize(1280, 720, 640)).toEqual({ width: 640, height: 360 });
    expect(captureSize(640, 360, 300)).toEqual({ width: 300, height: 168 });
    expect(captureSize(640, 360, 1280)).toEqual({ width: 640, height: 360 });
    expect(captureSize(641, 361, 1_000_000)).toEqual({ width: 640, height: 360 });
  });
});

/**
 * Runs the argument's geometry chain on a synthetic source and returns the
 * frame. The source is rgb24 so odd sizes stay odd (yuv420p would round them).
 */
function runGeometry(w: number, h: number, output: OutputGeometry): Buffer {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', `color=c=white:size=${w}x${h}:rate=1,format=rgb24`, '-frames:v', '1', '-vf', geometryFilter(output), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('ffmpeg geometry matches src/models/geometry.ts (real ffmpeg)', () => {
  const sizes: [number, number][] = [[640, 360], [641, 359], [300, 500], [1279, 721]];

  it('letterbox: picture exactly resizePlan.scaled*, padding right and bottom', () => {
    const out: OutputGeometry = { width: 416, height: 416, resize: 'letterbox', pad_value: 114 };
    for (const [w, h] of sizes) {
      const plan = resizePlan(out, w, h);
      const px = runGeometry(w, h, out);
      expect(px.length).toBe(416 * 416 * 3);
      const at = (x: number, y: number): number => px[(y * 416 + x) * 3] as number;
      expect(at(plan.scaledWidth - 1, plan.scaledHeight - 1), `${w}x${h} last picture pixel`).toBeGreaterThan(200);
      if (plan.padBottom) expect(at(0, plan.scaledHeight), `${w}x${h} first pad row`).toBe(114);
      if (plan.padRight) expect(at(plan.scaledWidth, 0), `${w}x${h} first pad column`).toBe(114);
    }
  });

  it('center_crop: ffmpeg crops exactly resizePlan.crop*, then scales only that', () => {
    const out: OutputGeometry = { width: 224, height: 224, resize: 'center_crop', pad_value: 0 };
    for (const [w, h] of [...sizes, [225, 1000]] as [number, number][]) {
      const plan = resizePlan(out, w, h);
      // White inside the planned rectangle, black outside: one column or row too many shows at the edge.
      const marked = `color=c=black:size=${w}x${h}:rate=1,format=rgb24,drawbox=x=${plan.cropLeft}:y=${plan.cropTop}:w=${plan.cropWidth}:h=${plan.cropHeight}:color=white:t=fill,format=yuv420p`;
      const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', marked, '-frames:v', '1', '-vf', geometryFilter(out), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
      expect(r.status).toBe(0);
      expect(r.stdout.length).toBe(224 * 224 * 3);
      let darkest = 255;
      for (let i = 0; i < r.stdout.length; i++) darkest = Math.min(darkest, r.stdout[i]!);
      expect(darkest, `${w}x${h}`).toBeGreaterThan(250);
    }
  });

  it('center_crop on cuda: scale_cuda covers the target and the crop follows (no crop of GPU frames)', () => {
    const steps = geometrySteps({ width: 224, height: 224, resize: 'center_crop', pad_value: 0 }, 'cuda');
    expect(steps?.before).toBe('');
    expect(steps?.after).toBe(",crop=224:224:'floor((in_w-224)/2)':'floor((in_h-224)/2)'");
  });
});

describe('decode plan and sampler', () => {
  const source: ResolvedSource = { kind: 'file', path: '/m/a.mp4' };

  it('puts decoder threads and keyframe skipping before -i, and samples sparse keyframes without repeating them', () => {
    const args = buildFfmpegArgs({ source, camera: live, defaultFps: 5, output: model, sampleFps: 1, decode: { keyframesOnly: true, threads: 1 } });
    const input = args.indexOf('-i');
    expect(args.slice(0, input)).toEqual(expect.arrayContaining(['-threads', '1', '-filter_complex_threads', '1', '-skip_frame', 'nokey']));
    expect(args.indexOf('-skip_frame')).toBeLessThan(input);
    expect(after(args, '-filter_complex')).toMatch(/^\[0:v:0\]select='isnan\(prev_selected_t\)\+gte\(floor\(t\*1\)-floor\(prev_selected_t\*1\),1\)',/);
    expect(after(args, '-fps_mode')).toBe('passthrough');
  });

  it('all frames: the fps filter at the decided rate, threads left to ffmpeg when 0', () => {
    const args = buildFfmpegArgs({ source, camera: { ...live, fps: 25 }, defaultFps: 5, output: model, sampleFps: 7.5, decode: { keyframesOnly: false, threads: 0 } });
    expect(after(args, '-filter_complex')).toMatch(/^\[0:v:0\]fps=7.5,/);
    expect(args).not.toContain('-skip_frame');
    expect(args).not.toContain('-threads');
    expect(args).not.toContain('-fps_mode');
  });

  it('ffmpeg delivers one keyframe per sampling interval and no repeats (real ffmpeg, 0.8 s GOP clip)', async () => {
    const { fixturePath } = await import('../helpers/fixtures.js');
    const clip = await fixturePath('media', 'coco_slideshow_720p.mp4');
    const run = (fps: number, keyframesOnly: boolean): number => {
      const args = buildFfmpegArgs({ source: { kind: 'file', path: clip }, camera: { fps: 0, loop: false, realtime: false }, defaultFps: 0, output: model, sampleFps: fps, decode: { keyframesOnly, threads: 1 } });
      const out = spawnSync('ffmpeg', args, { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
      return out.stdout.length / (224 * 224 * 3);
    };
    // 40 s at 25 fps with a keyframe every 0.8 s: 50 keyframes, one per 1 s bucket = 40.
    expect(run(1, true)).toBe(40);
    expect(run(1, false)).toBe(40);
  });
});
