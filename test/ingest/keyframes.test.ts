import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CAMERA_DEFAULTS, defaultConfig, type CameraConfig } from '../../src/config/schema.js';
import { chooseDecode, keyframeStats, keyframeTimes, probeKeyframes } from '../../src/ingest/keyframes.js';
import { StreamSupervisor, type SupervisorStreams } from '../../src/ingest/supervisor.js';
import { gopClip } from '../helpers/gop-clip.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';
import { RtspTestServer } from '../helpers/rtsp.js';

describe('chooseDecode (pure)', () => {
  const every = (s: number, count = 10) => ({ count, medianS: s, maxS: s });

  it('keyframes only when the sampling interval is at least the keyframe spacing', () => {
    expect(chooseDecode('auto', 1, every(0.8))).toMatchObject({ keyframesOnly: true, reason: expect.stringMatching(/keyframes every 0.80 s.*keyframes only/) });
    expect(chooseDecode('auto', 0.5, every(2))).toMatchObject({ keyframesOnly: true });
    expect(chooseDecode('auto', 5, every(0.8))).toMatchObject({ keyframesOnly: false });
  });

  it('falls back to all frames when keyframes are too sparse for the rate, also when keyframes were asked for', () => {
    expect(chooseDecode('keyframes', 1, every(2))).toEqual({ keyframesOnly: false, reason: 'keyframes every 2.00 s are too sparse for 1 fps: decoding all frames' });
    expect(chooseDecode('auto', 1, { count: 1, medianS: null, maxS: 6 })).toMatchObject({ keyframesOnly: false, reason: expect.stringMatching(/fewer than 2 keyframes in 6.0 s are too sparse/) });
  });

  it('all decodes all; unknown spacing: keyframes only when asked for', () => {
    expect(chooseDecode('all', 0.2, every(0.5)).keyframesOnly).toBe(false);
    expect(chooseDecode('keyframes', 1, null).keyframesOnly).toBe(true);
    expect(chooseDecode('auto', 1, null).keyframesOnly).toBe(false);
  });

  it('reads keyframe times from showinfo lines and measures the spacing', () => {
    const lines = [
      '[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0       duration:512 fmt:yuv420p iskey:1 type:I',
      '[Parsed_showinfo_0 @ 0x1] n:   1 pts:  10240 pts_time:0.8     duration:512 fmt:yuv420p iskey:1 type:I',
      '[Parsed_showinfo_0 @ 0x1] n:   2 pts:  20480 pts_time:1.6     duration:512 fmt:yuv420p iskey:0 type:P',
      '[Parsed_showinfo_0 @ 0x1] n:   3 pts:  30720 pts_time:2.8     duration:512 fmt:yuv420p iskey:1 type:I',
    ].join('\n');
    expect(keyframeTimes(lines)).toEqual([0, 0.8, 2.8]);
    const stats = keyframeStats([0, 0.8, 2.8], 6);
    expect(stats.count).toBe(3);
    expect(stats.medianS).toBeCloseTo(2, 6);
    expect(stats.maxS).toBeCloseTo(2, 6);
    expect(keyframeStats([1.5], 6)).toEqual({ count: 1, medianS: null, maxS: 6 });
  });
});

describe('GOP detection on real streams', () => {
  let server: RtspTestServer | null = null;
  afterAll(async () => server?.stop());
  afterEach(() => expect(ffmpegChildren()).toEqual([]));

  const probe = (source: Parameters<typeof probeKeyframes>[0]['source'], seconds = 4) =>
    probeKeyframes({ ffmpegPath: 'ffmpeg', source, camera: { fps: 1 }, seconds, ioTimeoutMs: 5000, timeoutMs: 30_000 }).result;

  it('files: a 10-frame GOP at 25 fps is 0.4 s, a 50-frame GOP 2 s', async () => {
    const dense = await probe({ kind: 'file', path: gopClip({ gopFrames: 10, seconds: 8 }) });
    expect(dense?.medianS).toBeCloseTo(0.4, 2);
    expect(dense?.maxS).toBeCloseTo(0.4, 2);
    const sparse = await probe({ kind: 'file', path: gopClip({ gopFrames: 50, seconds: 8 }) }, 8);
    expect(sparse?.medianS).toBeCloseTo(2, 2);
  });

  it('the RTSP test server: its live encoder puts a keyframe every 25 frames (1 s at 25 fps)', async () => {
    server = await RtspTestServer.start('test', '320x240');
    const stats = await probe({ kind: 'rtsp', url: server.url, transport: 'tcp' }, 4);
    expect(stats?.count).toBeGreaterThanOrEqual(3);
    expect(stats?.medianS).toBeCloseTo(1, 1);
  });

  it('a missing file gives no answer instead of a guess', async () => {
    expect(await probe({ kind: 'file', path: '/nonexistent/clip.mp4' })).toBeNull();
  });
});

describe('supervisor switches decoding from what it learns', () => {
  const base = defaultConfig().streams;
  const s: SupervisorStreams = { ...base, frozen_after_ms: 0 };
  const running: StreamSupervisor[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((x) => x.stop()));
    expect(ffmpegChildren()).toEqual([]);
  });
  function supervise(cam: CameraConfig) {
    const memory = new Uint8Array(64 * 48 * 3);
    let frames = 0;
    const sup = new StreamSupervisor({
      camera: cam,
      streams: s,
      ffmpegPath: 'ffmpeg',
      output: { width: 64, height: 48, resize: 'stretch', pad_value: 0 },
      frames: { acquire: () => memory, commit: () => void frames++, abort: () => undefined },
      keyframeProbeSeconds: 3,
    });
    running.push(sup);
    sup.start();
    return { sup, frames: () => frames };
  }
  const fileCam = (url: string, over: Partial<CameraConfig>): CameraConfig => ({ ...CAMERA_DEFAULTS, id: 'cam', url, ...over });

  it('auto at 1 fps on a 0.4 s GOP: keyframes only, frames keep coming', async () => {
    const { sup, frames } = supervise(fileCam(gopClip({ gopFrames: 10, seconds: 8 }), { fps: 1, decode: 'auto' }));
    expect(sup.stats().keyframesOnly).toBe(false);
    expect(await waitFor(() => sup.stats().keyframesOnly, 20_000)).toBe(true);
    expect(sup.stats().keyframeIntervalS).toBeCloseTo(0.4, 2);
    expect(sup.stats().reconnects).toBe(0);
    // ffmpeg restarted with -skip_frame nokey (a replan, not a reconnect).
    expect(await waitFor(() => sup.stats().replans >= 1, 20_000)).toBe(true);
    const after = frames();
    expect(await waitFor(() => frames() >= after + 2, 20_000)).toBe(true);
  });

  it('keyframes asked for, but a 2 s GOP cannot serve 1 fps: falls back to all frames and says why', async () => {
    const { sup } = supervise(fileCam(gopClip({ gopFrames: 50, seconds: 8 }), { fps: 1, decode: 'keyframes' }));
    expect(sup.stats().keyframesOnly).toBe(true);
    expect(await waitFor(() => sup.stats().keyframeIntervalS !== null, 20_000)).toBe(true);
    expect(sup.stats()).toMatchObject({ keyframesOnly: false, decodeReason: 'keyframes every 2.00 s are too sparse for 1 fps: decoding all frames' });
  });

  it('a rate lowered under the keyframe rate switches a running camera to keyframes only', async () => {
    const { sup, frames } = supervise(fileCam(gopClip({ gopFrames: 10, seconds: 8 }), { fps: 10, decode: 'auto' }));
    expect(await waitFor(() => frames() >= 3, 20_000)).toBe(true);
    expect(sup.stats().keyframeIntervalS).toBeNull();
    sup.setSampleFps(2);
    expect(await waitFor(() => sup.stats().keyframesOnly, 20_000)).toBe(true);
    expect(sup.stats().sampleFps).toBe(2);
  });
});
