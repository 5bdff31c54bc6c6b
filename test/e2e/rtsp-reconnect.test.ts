/**
 * A real RTSP server on 127.0.0.1 feeds the service; the server is killed and
 * restarted on the same port: /health/stream shows `reconnecting` in between
 * and events resume within 10 s, with no restart of the service and no ffmpeg
 * left afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/contracts/events.js';
import type { CameraStatus } from '../../src/contracts/camera.js';
import { RtspTestServer } from '../helpers/rtsp.js';
import { ffmpegChildren } from '../helpers/processes.js';
import { collectSse, startTestService, type TestService } from '../helpers/service.js';

async function cameraState(baseUrl: string, id: string): Promise<CameraStatus | undefined> {
  const body = (await (await fetch(`${baseUrl}/health/stream`)).json()) as { cameras: CameraStatus[] };
  return body.cameras.find((c) => c.id === id);
}

describe('RTSP camera survives its server dying', () => {
  let rtsp: RtspTestServer;
  let svc: TestService;

  beforeAll(async () => {
    rtsp = await RtspTestServer.start('test', '640x480');
    svc = await startTestService({
      cameras: [{ id: 'cam', url: rtsp.url, fps: 5, transport: 'tcp', loop: true, realtime: true }],
      // Fast first retry so the test measures the service, not a long backoff.
      // The test server sends still colour bars: frozen-picture detection off so the state stays 'streaming'.
      streams: { reconnect: { initial_ms: 300, max_ms: 2000, multiplier: 2, jitter: 0.2, reset_after_ms: 60_000 }, stall_timeout_ms: 4000, frozen_after_ms: 0 } as never,
    });
  });

  afterAll(async () => {
    await svc?.stop();
    await rtsp?.stop();
    expect(ffmpegChildren()).toEqual([]);
  });

  it('streams, reports reconnecting while the server is gone, and resumes within 10 s of its return', async () => {
    const first = await collectSse<StreamEvent>(`${svc.baseUrl}/stream?camera=cam`, 15_000, (evs) => evs.length >= 5);
    expect(first.length).toBeGreaterThanOrEqual(5);
    expect((await cameraState(svc.baseUrl, 'cam'))?.state).toBe('streaming');

    await rtsp.kill9();
    let sawReconnecting = false;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !sawReconnecting) {
      const state = (await cameraState(svc.baseUrl, 'cam'))?.state;
      sawReconnecting = state === 'reconnecting';
      if (!sawReconnecting) await new Promise((r) => setTimeout(r, 100));
    }
    expect(sawReconnecting).toBe(true);

    await rtsp.restart();
    const restartedAt = Date.now();
    const lastId = first[first.length - 1]?.id ?? 0;
    const resumed = await collectSse<StreamEvent>(`${svc.baseUrl}/stream?camera=cam`, 10_000, (evs) => evs.some((e) => e.id > lastId && Date.parse(e.captured_at) > restartedAt));
    const fresh = resumed.filter((e) => Date.parse(e.captured_at) > restartedAt);
    expect(fresh.length).toBeGreaterThan(0);
    expect(Date.parse((fresh[0] as StreamEvent).captured_at) - restartedAt).toBeLessThan(10_000);

    const status = await cameraState(svc.baseUrl, 'cam');
    expect(status?.state).toBe('streaming');
    expect(status?.reconnects).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
