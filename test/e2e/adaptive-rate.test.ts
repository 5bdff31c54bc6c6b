/**
 * Adaptive strategy, live: a real detector on one single-threaded worker is
 * the slow engine; five heavy cameras (weight 4, 30 fps) and one light one
 * (weight 1, 4 fps) overload it. Every camera's sampling rate must drop to its
 * weighted share (ffmpeg restarted with a lower rate, counted in /metrics),
 * and once the heavy cameras are removed the light camera must get its
 * configured rate back. Only conditions are polled; no timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraStatus } from '../../src/contracts/camera.js';
import { fileCamera, SLIDESHOW_360P, startTestService, waitUntilStreaming, type TestService } from '../helpers/service.js';

const HEAVY = ['h1', 'h2', 'h3', 'h4', 'h5'];

describe('adaptive sampling rates', () => {
  let svc: TestService;
  const cameras = async (): Promise<Map<string, CameraStatus>> => {
    const body = (await (await fetch(`${svc.baseUrl}/health/stream`)).json()) as { cameras: CameraStatus[] };
    return new Map(body.cameras.map((c) => [c.id, c]));
  };
  let latest = new Map<string, CameraStatus>();
  const until = async (check: (cams: Map<string, CameraStatus>) => boolean, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      latest = await cameras();
      if (check(latest)) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  };

  beforeAll(async () => {
    svc = await startTestService({
      model: { name: 'person_detector' },
      engine: { pool_size: 1, intra_op_threads: 1, max_batch: 1 },
      streams: {
        strategy: 'adaptive',
        rate_control: { min_change_interval_s: 2, sustain_s: 1, overload_drop_share: 0.05, target_utilization: 0.9, min_fps: 0.2, raise_factor: 2, spare_utilization: 0.75 },
      },
      cameras: [
        fileCamera('light', SLIDESHOW_360P, { fps: 4, weight: 1, decode: 'all' }),
        ...HEAVY.map((id) => fileCamera(id, SLIDESHOW_360P, { fps: 30, weight: 4, decode: 'all' })),
      ],
    });
  });
  afterAll(async () => svc?.stop());

  it('lowers every camera to its weighted share under overload, and gives the rate back when capacity returns', async () => {
    expect(await waitUntilStreaming(svc.service)).toBe(true);
    const initial = await cameras();
    expect(initial.get('light')).toMatchObject({ fps_configured: 4, fps_effective: 4, rate_reason: 'configured', rate_changes: 0 });

    const throttled = await until((cams) => [...cams.values()].every((c) => c.rate_reason === 'overload' && (c.fps_effective ?? 0) < (c.fps_configured ?? 0)), 90_000);
    expect(throttled, JSON.stringify([...latest.values()].map((c) => [c.id, c.fps_effective, c.rate_reason]))).toBe(true);
    const light = latest.get('light') as CameraStatus;
    const heavy = latest.get('h1') as CameraStatus;
    // Weight 4 gets (up to rounding) four times the share of weight 1.
    expect((heavy.fps_effective as number) / (light.fps_effective as number)).toBeGreaterThan(3);
    expect(light.rate_changes).toBeGreaterThanOrEqual(1);

    const metrics = await (await fetch(`${svc.baseUrl}/metrics`)).text();
    const changes = Number(/stream_ml_camera_rate_changes_total\{camera="light"\} (\S+)/.exec(metrics)?.[1]);
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/stream_ml_camera_fps_configured\{camera="light"\} 4\n/);

    // Capacity returns: the heavy cameras go away.
    for (const id of HEAVY) expect((await fetch(`${svc.baseUrl}/cameras/${id}`, { method: 'DELETE' })).status).toBe(204);
    const recovered = await until((cams) => cams.get('light')?.fps_effective === 4 && cams.get('light')?.rate_reason === 'configured', 90_000);
    expect(recovered, JSON.stringify(latest.get('light'))).toBe(true);
    // And frames keep flowing at the restored rate.
    const before = latest.get('light')?.frames_out ?? 0;
    expect(await until((cams) => (cams.get('light')?.frames_out ?? 0) > before + 4, 30_000)).toBe(true);
  }, 240_000);
});
