import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CAMERA_DEFAULTS, defaultConfig, type CameraConfig } from '../../src/config/schema.js';
import { StreamSupervisor, type SupervisorStreams } from '../../src/ingest/supervisor.js';
import type { CameraState } from '../../src/contracts/camera.js';
import { sampledHash } from '../../src/ingest/frozen.js';
import { fixturePath } from '../helpers/fixtures.js';
import { gopClip } from '../helpers/gop-clip.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';

const base = defaultConfig().streams;
const streams = (over: Partial<SupervisorStreams> = {}): SupervisorStreams => ({
  ...base,
  frozen_after_ms: 0,
  reconnect: { ...base.reconnect, initial_ms: 200, max_ms: 1000 },
  ...over,
});
const camera = (url: string, over: Partial<CameraConfig> = {}): CameraConfig => ({ ...CAMERA_DEFAULTS, id: 'cam', url, fps: 10, ...over });

const running: StreamSupervisor[] = [];
/** A supervisor on this thread whose frames land in one reused buffer. */
function supervise(cam: CameraConfig, s: SupervisorStreams) {
  const memory = new Uint8Array(64 * 48 * 3);
  const states: CameraState[] = [];
  const sup = new StreamSupervisor({
    camera: cam,
    streams: s,
    ffmpegPath: 'ffmpeg',
    output: { width: 64, height: 48, resize: 'stretch', pad_value: 0 },
    frames: { acquire: () => memory, commit: () => undefined, abort: () => undefined },
    events: { onState: (state) => states.push(state) },
  });
  running.push(sup);
  sup.start();
  return { sup, states };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  expect(ffmpegChildren()).toEqual([]);
});

describe('StreamSupervisor', () => {
  it('treats exit code 0 of a live source as a disconnect, not the end', async () => {
    // lavfi with a duration: ffmpeg exits 0 after 1 s, as it does when an RTSP server goes away.
    const { sup, states } = supervise(camera('lavfi:testsrc2=size=160x120:rate=25:duration=1'), streams());
    expect(await waitFor(() => sup.stats().reconnects >= 2, 30_000)).toBe(true);
    expect(states).toContain('streaming');
    expect(states).toContain('reconnecting');
    expect(states).not.toContain('ended');
  });

  it('resets the backoff after a connection that stayed healthy for reset_after_ms', async () => {
    // Each run streams for about 1 s, then ffmpeg exits.
    const url = 'lavfi:testsrc2=size=160x120:rate=25:duration=1';
    const healthy = supervise(camera(url), streams({ reconnect: { ...streams().reconnect, reset_after_ms: 300 } }));
    const brief = supervise(camera(url), streams({ reconnect: { ...streams().reconnect, reset_after_ms: 60_000 } }));
    expect(await waitFor(() => healthy.sup.stats().reconnects >= 3 && brief.sup.stats().reconnects >= 3, 40_000)).toBe(true);
    expect(healthy.sup.stats().backoffAttempts).toBe(1);
    expect(brief.sup.stats().backoffAttempts).toBeGreaterThanOrEqual(3);
  });

  it('reports a source that connects but never sends a frame as stalled, and keeps retrying', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const { sup } = supervise(camera(`rtsp://127.0.0.1:${port}/live`), streams({ stall_timeout_ms: 1000 }));
      expect(await waitFor(() => sup.state === 'stalled', 30_000)).toBe(true);
      // An ffmpeg still starting up on a loaded machine counts as working for a while: the wording says which.
      expect(sup.stats().lastError).toMatch(/^no frame for \d+ ms( although ffmpeg kept working)?; restarting ffmpeg$/);
      expect(await waitFor(() => sup.stats().reconnects >= 2, 30_000)).toBe(true);
      expect(ffmpegChildren().length).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('gives a silent ffmpeg that keeps working (starved, not stalled) more time before restarting it', async () => {
    // 1080p generated as fast as it can, one frame kept per 50 s of stream time: ffmpeg is busy and silent.
    const { sup } = supervise(camera('lavfi:testsrc2=size=1920x1080:rate=25', { fps: 0.02 }), streams({ stall_timeout_ms: 1000 }));
    expect(await waitFor(() => sup.state === 'stalled', 30_000)).toBe(true);
    const message = sup.stats().lastError ?? '';
    expect(message).toMatch(/^no frame for (\d+) ms although ffmpeg kept working; restarting ffmpeg$/);
    expect(Number(/(\d+) ms/.exec(message)?.[1])).toBeGreaterThan(1000);
  });

  it('a new sampling rate restarts a (non-looping) file camera where it was, not from the start', async () => {
    const clip = gopClip({ gopFrames: 25, seconds: 20 });
    /** A supervisor on the clip that records each frame's hash, tagged with the ffmpeg run it came from (replans so far). */
    const play = (fps: number) => {
      const memory = new Uint8Array(64 * 48 * 3);
      const seen: { run: number; hash: number }[] = [];
      const sup: StreamSupervisor = new StreamSupervisor({
        camera: camera(clip, { fps, realtime: true, loop: false, decode: 'all' }),
        streams: streams(),
        ffmpegPath: 'ffmpeg',
        output: { width: 64, height: 48, resize: 'stretch', pad_value: 0 },
        frames: { acquire: () => memory, commit: () => void seen.push({ run: sup.stats().replans, hash: sampledHash(memory) }), abort: () => undefined },
      });
      running.push(sup);
      sup.start();
      return { sup, seen };
    };
    const moved = play(5);
    // About 3 s of the (moving, deterministic) test pattern played, then the rate changes.
    expect(await waitFor(() => moved.seen.length >= 15, 30_000)).toBe(true);
    moved.sup.setSampleFps(4);
    // What the file's start looks like at 4 fps: where the new run would begin if it started over.
    const fresh = play(4);
    expect(await waitFor(() => moved.seen.some((f) => f.run === 1) && fresh.seen.length >= 2, 30_000)).toBe(true);
    const resumed = moved.seen.find((f) => f.run === 1)?.hash;
    expect(fresh.seen.slice(0, 2).map((f) => f.hash)).not.toContain(resumed);
    expect(moved.sup.stats()).toMatchObject({ replans: 1, reconnects: 0, sampleFps: 4 });
  });

  it('keeps looking for a missing file and streams once it appears', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'late-file-'));
    const path = join(dir, 'clip.mp4');
    try {
      const { sup, states } = supervise(camera(path), streams());
      expect(await waitFor(() => sup.state === 'error', 40_000)).toBe(true);
      expect(sup.stats().lastError).toBe(`video file not found: ${path}`);
      symlinkSync(await fixturePath('media', 'coco_slideshow_360p.mp4'), path);
      expect(await waitFor(() => sup.state === 'streaming', 30_000)).toBe(true);
      expect(states.slice(0, 2)).toEqual(['error', 'streaming']);
      expect(sup.stats().sourceWidth).toBe(640);
    } finally {
      await Promise.all(running.splice(0).map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() leaves state stopped and no ffmpeg, from any state', async () => {
    const { sup } = supervise(camera('lavfi:testsrc2=size=160x120:rate=25'), streams());
    expect(await waitFor(() => sup.state === 'streaming', 30_000)).toBe(true);
    await sup.stop();
    expect(sup.state).toBe('stopped');
    expect(ffmpegChildren()).toEqual([]);
    const framesAfterStop = sup.stats().framesIn;
    await new Promise((r) => setTimeout(r, 300));
    expect(sup.stats().framesIn).toBe(framesAfterStop);
  });
});

describe('HLS over HTTP (node:http on 127.0.0.1)', () => {
  let dir: string;
  let http: HttpServer;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hls-'));
    const media = await fixturePath('media', 'coco_slideshow_360p.mp4');
    const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', media, '-t', '6', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', join(dir, 'index.m3u8')]);
    expect(r.status).toBe(0);
    http = createHttpServer((req, res) => {
      const file = normalize(join(dir, (req.url ?? '/').split('?')[0] as string));
      if (!file.startsWith(dir)) return res.writeHead(403).end();
      createReadStream(file)
        .on('error', () => res.writeHead(404).end())
        .on('open', () => res.writeHead(200))
        .pipe(res);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as { port: number }).port}/index.m3u8`;
  });

  afterAll(async () => {
    // Absent when beforeAll failed (a fixture that could not be fetched): that error is the one to read.
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('streams an HLS playlist and reconnects when it runs out (HTTP is live)', async () => {
    const { sup, states } = supervise(camera(url, { realtime: false }), streams());
    expect(await waitFor(() => sup.state === 'streaming', 30_000)).toBe(true);
    expect([sup.stats().sourceWidth, sup.stats().sourceHeight]).toEqual([640, 360]);
    expect(await waitFor(() => sup.stats().framesIn >= 20, 30_000)).toBe(true);
    expect(await waitFor(() => states.includes('reconnecting'), 30_000)).toBe(true);
    expect(states).not.toContain('ended');
  });
});
