import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_DEFAULTS, defaultConfig, type StreamsConfig } from '../../src/config/schema.js';
import { FrameArena } from '../../src/frames/ring.js';
import type { ModelInputSpec } from '../../src/models/types.js';
import { CameraManager, type CameraHandle } from '../../src/ingest/camera-manager.js';
import type { CameraState } from '../../src/contracts/camera.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';
import { RtspTestServer } from '../helpers/rtsp.js';

const INPUT: ModelInputSpec = {
  name: 'images',
  width: 416,
  height: 416,
  layout: 'NCHW',
  color_order: 'BGR',
  scale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  resize: 'letterbox',
  pad_value: 114,
  dynamic_batch: false,
};

function streams(over: Partial<StreamsConfig> = {}): StreamsConfig {
  const base = defaultConfig().streams;
  // The test server's SMPTE bars never change: frozen detection off here.
  return { ...base, ring_slots: 4, max_cameras: 2, frozen_after_ms: 0, reconnect: { ...base.reconnect, initial_ms: 200, max_ms: 1000 }, ...over };
}

let server: RtspTestServer;
let manager: CameraManager | null = null;

beforeAll(async () => {
  server = await RtspTestServer.start('test', '640x480');
});

afterAll(async () => {
  await server?.stop();
});

afterEach(async () => {
  await manager?.close();
  manager = null;
  expect(ffmpegChildren(String(server.port))).toEqual([]);
});

async function startCamera(s: StreamsConfig, transport: 'tcp' | 'udp' = 'tcp'): Promise<{ handle: CameraHandle; arena: FrameArena; states: CameraState[] }> {
  const arena = FrameArena.create({ width: INPUT.width, height: INPUT.height, channels: 3 }, s.ring_slots, s.max_cameras);
  manager = new CameraManager({ arena, streams: s, input: INPUT });
  const states: CameraState[] = [];
  manager.onStateChange((_id, state) => states.push(state));
  const handle = await manager.add({ ...CAMERA_DEFAULTS, id: 'rtsp', url: server.url, fps: 10, transport });
  return { handle, arena, states };
}

// Poll bounds are generous: on a busy 2-core machine ffmpeg and the RTSP server start slowly; the conditions are what is tested.
describe('RTSP camera (GStreamer server on 127.0.0.1)', { timeout: 240_000 }, () => {
  it('streams letterboxed frames, reconnects after the server is killed and restarted', async () => {
    const { handle, arena } = await startCamera(streams());
    expect(await waitFor(() => handle.status().state === 'streaming', 30_000)).toBe(true);
    expect(await waitFor(() => handle.status().frames_in >= 5, 30_000)).toBe(true);
    expect([handle.status().source_width, handle.status().source_height]).toEqual([640, 480]);
    expect(handle.status().kind).toBe('rtsp');

    // 640x480 letterboxed into 416x416: 416x312 of picture, grey 114 padding below.
    const ring = arena.ring(handle.ringIndex);
    const slot = ring.claimLatest();
    const px = ring.pixels(slot);
    const at = (x: number, y: number): number[] => Array.from(px.subarray((y * 416 + x) * 3, (y * 416 + x) * 3 + 3));
    expect(at(200, 330)).toEqual([114, 114, 114]);
    expect(at(200, 415)).toEqual([114, 114, 114]);
    expect(at(200, 100)).not.toEqual([114, 114, 114]);
    ring.release(slot, ring.frameNo(slot));

    await server.kill9();
    expect(await waitFor(() => handle.status().state === 'reconnecting', 30_000)).toBe(true);
    expect(handle.status().last_error).toBeTruthy();

    await server.restart();
    const restartedAt = handle.status().frames_in;
    expect(await waitFor(() => handle.status().state === 'streaming' && handle.status().frames_in > restartedAt, 30_000)).toBe(true);
    expect(handle.status().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('restarts a hung ffmpeg when the server freezes (stall watchdog) and resumes', async () => {
    const { handle } = await startCamera(streams({ stall_timeout_ms: 2000 }));
    expect(await waitFor(() => handle.status().state === 'streaming', 30_000)).toBe(true);
    const firstPids = ffmpegChildren().map((p) => p.pid);
    expect(firstPids).toHaveLength(1);

    server.signal('SIGSTOP');
    try {
      expect(await waitFor(() => handle.status().state === 'stalled', 30_000)).toBe(true);
      expect(handle.status().last_error).toMatch(/no frame for 2000 ms/);
      // The watchdog killed the hung ffmpeg and started a new one.
      expect(await waitFor(() => ffmpegChildren().some((p) => !firstPids.includes(p.pid)), 30_000)).toBe(true);
    } finally {
      server.signal('SIGCONT');
    }
    const frames = handle.status().frames_in;
    expect(await waitFor(() => handle.status().state === 'streaming' && handle.status().frames_in > frames, 45_000)).toBe(true);
  });

  it('streams over UDP when the camera asks for it', async () => {
    const { handle } = await startCamera(streams(), 'udp');
    expect(await waitFor(() => handle.status().state === 'streaming' && handle.status().frames_in >= 5, 30_000)).toBe(true);
    const ffmpeg = ffmpegChildren(String(server.port));
    expect(ffmpeg).toHaveLength(1);
    expect(ffmpeg[0]?.cmdline.join(' ')).toContain('-rtsp_transport udp');
  });
});
