import { spawnSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_DEFAULTS, defaultConfig, type CameraConfig, type StreamsConfig } from '../../src/config/schema.js';
import { FrameArena } from '../../src/frames/ring.js';
import type { ModelInputSpec } from '../../src/models/types.js';
import { CameraManager, CameraManagerError, openFrameStream } from '../../src/ingest/camera-manager.js';
import { geometryFilter, captureFilter } from '../../src/ingest/ffmpeg-args.js';
import type { CameraState } from '../../src/contracts/camera.js';
import { fixturePath } from '../helpers/fixtures.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';

const INPUT: ModelInputSpec = {
  name: 'input',
  width: 224,
  height: 224,
  layout: 'NCHW',
  color_order: 'RGB',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  resize: 'center_crop',
  pad_value: 0,
  dynamic_batch: true,
};

function streams(over: Partial<StreamsConfig> = {}): StreamsConfig {
  const base = defaultConfig().streams;
  return { ...base, ring_slots: 4, max_cameras: 4, reconnect: { ...base.reconnect, initial_ms: 200, max_ms: 1000 }, ...over };
}

const camera = (id: string, url: string, over: Partial<CameraConfig> = {}): CameraConfig => ({ ...CAMERA_DEFAULTS, id, url, ...over });

/** What ffmpeg itself gives for the frame at `t` seconds through the same filter. */
function referenceFrame(file: string, t: number, filter: string, bytes: number): Buffer {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-ss', String(t), '-i', file, '-frames:v', '1', '-vf', filter, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: 64 << 20,
  });
  expect(r.status).toBe(0);
  expect(r.stdout.length).toBe(bytes);
  return r.stdout;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

let slideshow: string;
let manager: CameraManager | null = null;

beforeAll(async () => {
  slideshow = await fixturePath('media', 'coco_slideshow_360p.mp4');
});

afterEach(async () => {
  await manager?.close();
  manager = null;
});

function newManager(arena: FrameArena, s: StreamsConfig, captureMaxSide?: (c: CameraConfig) => number): CameraManager {
  manager = new CameraManager({ arena, streams: s, input: INPUT, captureMaxSide });
  return manager;
}

describe('CameraManager', () => {
  it('fills the ring from a file with model-shaped frames that match ffmpeg, then ends', async () => {
    const s = streams();
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, s.max_cameras);
    const m = newManager(arena, s, () => 320);
    const states: CameraState[] = [];
    m.onStateChange((id, state) => id === 'file' && states.push(state));
    const handle = await m.add(camera('file', slideshow, { fps: 5, loop: false, realtime: false }));

    expect(await waitFor(() => handle.status().state === 'ended', 30_000)).toBe(true);
    expect(states).toContain('streaming');
    const status = handle.status();
    // 40 s at 5 fps; nobody reads the ring, so every frame is committed (older ones overwritten).
    expect(status.frames_in).toBe(200);
    expect(status.source_width).toBe(640);
    expect(status.source_height).toBe(360);
    expect(status.kind).toBe('file');

    const ring = arena.ring(handle.ringIndex);
    const slot = ring.claimLatest();
    expect(slot).toBeGreaterThanOrEqual(0);
    const frameNo = ring.frameNo(slot);
    expect(frameNo).toBe(200);
    // Frame n (from 1) is the one ffmpeg's fps filter samples at (n - 1) / 5 s.
    const t = (frameNo - 1) / 5;
    const expected = referenceFrame(slideshow, t, geometryFilter(INPUT), 224 * 224 * 3);
    expect(meanAbsDiff(ring.pixels(slot), expected)).toBeLessThan(8);

    // The capture-size copy of that frame: longest side 320, same picture.
    const captured = handle.captureFrame(frameNo);
    expect(captured).not.toBeNull();
    expect(captured?.frameNo).toBe(frameNo);
    expect([captured?.width, captured?.height]).toEqual([320, 180]);
    const expectedCapture = referenceFrame(slideshow, t, captureFilter(320), 320 * 180 * 3);
    expect(meanAbsDiff(captured?.rgb as Uint8Array, expectedCapture)).toBeLessThan(8);
    // An older frame no longer held gives the nearest newer one; a future one gives nothing.
    expect(handle.captureFrame(1)?.frameNo).toBeGreaterThan(1);
    expect(handle.captureFrame(frameNo + 1)).toBeNull();
    ring.release(slot, frameNo);

    expect(await m.remove('file')).toBe(true);
    expect(m.get('file')).toBeUndefined();
    expect(arena.owner(handle.ringIndex)).toBeNull();
  });

  it('reports a missing file and a missing device per camera while another camera streams', async () => {
    const s = streams();
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, s.max_cameras);
    const m = newManager(arena, s);
    const live = await m.add(camera('live', 'lavfi:testsrc2=size=320x240:rate=25', { fps: 10 }));
    const missing = await m.add(camera('missing', '/nonexistent/clip.mp4'));
    const device = await m.add(camera('device', 'auto'));

    expect(await waitFor(() => missing.status().state === 'error' && device.status().state === 'error', 30_000)).toBe(true);
    expect(missing.status().last_error).toBe('video file not found: /nonexistent/clip.mp4');
    expect(device.status().last_error).toBe('no camera device found (looked for /dev/video*)');
    expect(device.status().kind).toBe('device');

    expect(await waitFor(() => live.status().state === 'streaming', 30_000)).toBe(true);
    const before = live.status().frames_in;
    expect(await waitFor(() => live.status().frames_in >= before + 5, 30_000)).toBe(true);
    expect(live.status().source_width).toBe(320);
    expect(live.status().last_frame_age_ms).not.toBeNull();

    await m.close();
    expect(m.list()).toHaveLength(0);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('refuses a taken id and a full arena with clear errors', async () => {
    const s = streams({ max_cameras: 1 });
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, 1);
    const m = newManager(arena, s);
    await m.add(camera('a', 'lavfi:testsrc2=size=320x240:rate=25'));
    await expect(m.add(camera('a', 'lavfi:testsrc2=size=320x240:rate=25'))).rejects.toThrow(/camera "a" already exists/);
    const full = m.add(camera('b', 'lavfi:testsrc2=size=320x240:rate=25'));
    await expect(full).rejects.toBeInstanceOf(CameraManagerError);
    await expect(full).rejects.toThrow(/no free ring.*max_cameras/);
    expect(m.get('b')).toBeUndefined();
  });

  it('reports a frozen picture and streaming again when it changes', async () => {
    const s = streams({ frozen_after_ms: 1000 });
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, s.max_cameras);
    const m = newManager(arena, s);
    const states: CameraState[] = [];
    m.onStateChange((_id, state) => states.push(state));
    // 4 s of one colour, then a moving test picture.
    const graph = 'color=c=red:size=320x240:rate=10:duration=4[a];testsrc2=size=320x240:rate=10[b];[a][b]concat[out0]';
    const handle = await m.add(camera('frozen', `lavfi:${graph}`, { fps: 10 }));
    expect(await waitFor(() => handle.status().state === 'frozen', 30_000)).toBe(true);
    expect(handle.status().last_error).toMatch(/unchanged/);
    expect(await waitFor(() => handle.status().state === 'streaming', 30_000)).toBe(true);
    expect(states.slice(0, 3)).toEqual(['streaming', 'frozen', 'streaming']);
  });

  it('leaves no ffmpeg after remove() and close()', async () => {
    const s = streams();
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, s.ring_slots, s.max_cameras);
    const m = newManager(arena, s);
    const a = await m.add(camera('a', 'lavfi:testsrc2=size=320x240:rate=25'));
    await m.add(camera('b', slideshow, { realtime: true, loop: true }));
    expect(await waitFor(() => m.list().every((h) => h.status().state === 'streaming'), 30_000)).toBe(true);
    expect(ffmpegChildren()).toHaveLength(2);
    expect(await m.remove(a.id)).toBe(true);
    expect(await m.remove(a.id)).toBe(false);
    expect(ffmpegChildren()).toHaveLength(1);
    await m.close();
    expect(ffmpegChildren()).toEqual([]);
  });
});

describe('openFrameStream', () => {
  it('delivers original-size frames on the calling thread and ends with the file', async () => {
    let count = 0;
    let size = '';
    let lastNo = 0;
    const stream = await openFrameStream(camera('cli', slideshow, { loop: false, realtime: false }), {
      geometry: 'original',
      fps: 2,
      onFrame: (rgb, w, h, frameNo) => {
        count++;
        size = `${w}x${h}:${rgb.length}`;
        lastNo = frameNo;
      },
    });
    expect(await stream.done).toBe('ended');
    expect(count).toBe(80);
    expect(lastNo).toBe(80);
    expect(size).toBe(`640x360:${640 * 360 * 3}`);
    await stream.stop();
    expect(ffmpegChildren()).toEqual([]);
  });
});
