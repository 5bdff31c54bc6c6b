/**
 * Readiness and health transitions, driven by the sources' state and an
 * explicit clock: no timer is waited on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HealthMonitor, type HealthSources } from '../../src/app/health.js';
import type { CameraState, CameraStatus } from '../../src/contracts/camera.js';

function camera(id: string, state: CameraState, frames_in: number, last_error: string | null = null): CameraStatus {
  return {
    id, url: `rtsp://x/${id}`, kind: 'rtsp', state, last_frame_age_ms: null, fps_in: 0, fps_out: 0, drops: {},
    frames_in, frames_out: 0, reconnects: 0, last_error, source_width: 0, source_height: 0, started_at: new Date(0).toISOString(),
  };
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'health-'));
  const modelPath = join(dir, 'model.onnx');
  writeFileSync(modelPath, 'weights');
  const state = {
    now: 100_000,
    engineProblems: [] as string[],
    cameras: [] as CameraStatus[],
    failures: new Map<string, string>(),
    delivery: { listenerErrors: 0, lastListenerErrorAt: 0 },
    shared: [] as string[],
  };
  const sources: HealthSources = {
    model: { name: 'm', task: 'classification', path: modelPath },
    provider: () => 'cpu',
    engineProblems: () => state.engineProblems,
    cameras: () => state.cameras,
    startFailures: () => state.failures,
    delivery: () => state.delivery,
    stageProblems: () => state.shared,
    version: '1.2.3',
    startedAt: 40_000,
    now: () => state.now,
  };
  return { state, modelPath, monitor: new HealthMonitor(sources) };
}

describe('HealthMonitor', () => {
  it('is live whatever else is wrong', () => {
    const { state, monitor, modelPath } = setup();
    state.engineProblems = ['inference stalled'];
    rmSync(modelPath);
    expect(monitor.live()).toEqual({ status: 'live', uptime_s: 60, version: '1.2.3' });
  });

  it('ready with no cameras; not ready while the engine makes no progress, ready again when it does', () => {
    const { state, monitor } = setup();
    expect(monitor.ready()).toEqual({ status: 'ready', problems: [] });
    state.engineProblems = ['inference stalled: 1 batch(es) in flight, none completed for 12.0 s'];
    expect(monitor.ready()).toEqual({ status: 'not_ready', problems: ['inference stalled: 1 batch(es) in flight, none completed for 12.0 s'] });
    state.engineProblems = [];
    expect(monitor.ready().status).toBe('ready');
  });

  it('not ready when no camera could ever start; ready once one streams, and stays so while it reconnects', () => {
    const { state, monitor } = setup();
    state.cameras = [camera('a', 'connecting', 0)];
    expect(monitor.ready().status).toBe('ready'); // may still start
    state.cameras = [camera('a', 'error', 0, 'video file not found: /x.mp4')];
    state.failures.set('b', 'no free ring');
    const notReady = monitor.ready();
    expect(notReady.status).toBe('not_ready');
    expect(notReady.problems).toEqual(['no camera could start (a error: video file not found: /x.mp4; b: no free ring)']);
    state.cameras = [camera('a', 'error', 0), camera('c', 'streaming', 10)];
    expect(monitor.ready().status).toBe('ready');
    state.cameras = [camera('c', 'reconnecting', 10)];
    expect(monitor.ready().status).toBe('ready');
  });

  it('degraded (not ready) while the cluster store is unreachable, with the reason; ready when it returns', () => {
    const { state, monitor } = setup();
    state.shared = ['cluster: redis unreachable (since 2026-12-01T00:00:00.000Z)'];
    expect(monitor.ready()).toEqual({ status: 'degraded', problems: ['cluster: redis unreachable (since 2026-12-01T00:00:00.000Z)'] });
    expect(monitor.health().status).toBe('degraded');
    state.engineProblems = ['inference stalled'];
    expect(monitor.ready().status).toBe('not_ready');
    state.engineProblems = [];
    state.shared = [];
    expect(monitor.ready()).toEqual({ status: 'ready', problems: [] });
  });

  it('not ready when the model file is gone', () => {
    const { monitor, modelPath } = setup();
    rmSync(modelPath);
    expect(monitor.ready()).toEqual({ status: 'not_ready', problems: [`model m: file ${modelPath} is missing`] });
  });

  it('/health keeps its shape: degraded for a stalled camera or failing delivery within the last minute', () => {
    const { state, monitor } = setup();
    expect(monitor.health()).toEqual({ status: 'ok', model: 'm', task: 'classification', provider: 'cpu', uptime_s: 60, cameras: 0, version: '1.2.3', problems: [] });
    state.cameras = [camera('a', 'stalled', 5, 'no frame for 10 s')];
    expect(monitor.health().problems).toEqual(['camera a stalled: no frame for 10 s']);
    state.cameras = [];
    state.delivery = { listenerErrors: 3, lastListenerErrorAt: state.now - 1000 };
    expect(monitor.health()).toMatchObject({ status: 'degraded', problems: ['result delivery failing (3 subscriber errors)'] });
    state.now += 60_000;
    expect(monitor.health().status).toBe('ok');
  });
});
