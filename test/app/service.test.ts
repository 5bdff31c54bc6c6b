/**
 * The wired service over real HTTP: camera control answers from typed error
 * codes, cameras added at run time survive a restart (and a corrupt store is
 * set aside), and /health/ready follows what the service can do.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CAMERAS_FILE } from '../../src/app/camera-store.js';
import { findSpec, loadManifest } from '../../src/models/registry.js';
import { fixturePath } from '../helpers/fixtures.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';
import { SLIDESHOW_360P, startTestService, type ConfigOverrides, type TestService } from '../helpers/service.js';

// Configured cameras may use ffmpeg's test source; cameras from the API may not (source policy): they read a
// copy of the slideshow from the one directory the tests allow.
const LAVFI = 'lavfi:testsrc2=size=160x120:rate=5';
const CLIP_DIR = mkdtempSync(join(tmpdir(), 'service-clips-'));
const CLIP = join(CLIP_DIR, 'clip.mp4');
copyFileSync(SLIDESHOW_360P, CLIP);
const SOURCES = { file_dirs: [CLIP_DIR] };
const running: TestService[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
  expect(ffmpegChildren()).toEqual([]);
});

async function start(overrides: ConfigOverrides): Promise<TestService> {
  const svc = await startTestService({ sources: SOURCES, ...overrides });
  running.push(svc);
  return svc;
}

async function post(svc: TestService, body: unknown): Promise<{ status: number; body: { error?: { code: string; message: string }; id?: string } }> {
  const res = await fetch(`${svc.baseUrl}/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

async function ids(svc: TestService): Promise<string[]> {
  const body = (await (await fetch(`${svc.baseUrl}/cameras`)).json()) as { cameras: { id: string }[] };
  return body.cameras.map((c) => c.id).sort();
}

async function ready(svc: TestService): Promise<{ status: number; body: { status: string; problems: string[] } }> {
  const res = await fetch(`${svc.baseUrl}/health/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; problems: string[] } };
}

describe('camera control', () => {
  it('answers 400/409/503 from typed codes', async () => {
    const svc = await start({ streams: { max_cameras: 1 } });
    expect((await post(svc, { id: 'a', url: CLIP })).status).toBe(201);
    const duplicate = await post(svc, { id: 'a', url: CLIP });
    expect(duplicate).toMatchObject({ status: 409, body: { error: { code: 'camera_exists' } } });
    const full = await post(svc, { id: 'b', url: CLIP });
    expect(full).toMatchObject({ status: 503, body: { error: { code: 'no_free_ring' } } });
    const invalid = await post(svc, { id: 'a b', url: CLIP });
    expect(invalid).toMatchObject({ status: 400, body: { error: { code: 'invalid_camera' } } });
    const refused = await post(svc, { id: 'c', url: LAVFI });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'source_not_allowed' } } });
  });

  it('lets the operator remove a configured camera that could not start', async () => {
    const svc = await start({ streams: { max_cameras: 1 }, cameras: ['a', 'b'].map((id) => ({ id, url: LAVFI, fps: 2, transport: 'tcp' as const, loop: true, realtime: true })) });
    expect(svc.service.control.startFailures.has('b')).toBe(true);
    expect((await fetch(`${svc.baseUrl}/cameras/b`, { method: 'DELETE' })).status).toBe(204);
    expect(svc.service.control.startFailures.has('b')).toBe(false);
    expect((await fetch(`${svc.baseUrl}/cameras/b`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('persistent cameras', () => {
  it('restores cameras added and removed at run time; the stored list wins over the configured one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'persist-'));
    const configured = { data_dir: dataDir, cameras: [{ id: 'yaml', url: LAVFI, fps: 2, transport: 'tcp' as const, loop: true, realtime: true }] };
    const first = await start(configured);
    expect(existsSync(join(dataDir, CAMERAS_FILE))).toBe(false); // nothing changed yet: the configuration rules
    expect((await post(first, { id: 'added', url: CLIP, fps: 2 })).status).toBe(201);
    expect((await fetch(`${first.baseUrl}/cameras/yaml`, { method: 'DELETE' })).status).toBe(204);
    expect(await ids(first)).toEqual(['added']);
    await first.stop();

    const second = await start(configured);
    expect(await ids(second)).toEqual(['added']);
    await second.stop();

    // Persistence off: the configured list, and the file is left alone.
    const third = await start({ ...configured, streams: { persist: false } });
    expect(await ids(third)).toEqual(['yaml']);
    expect(JSON.parse(readFileSync(join(dataDir, CAMERAS_FILE), 'utf8')).cameras.map((c: { id: string }) => c.id)).toEqual(['added']);
  });

  it('sets a corrupt stored list aside and starts the configured cameras', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'persist-'));
    writeFileSync(join(dataDir, CAMERAS_FILE), '{"version": 1, "cameras": [');
    const svc = await start({ data_dir: dataDir, cameras: [{ id: 'yaml', url: LAVFI, fps: 2, transport: 'tcp', loop: true, realtime: true }] });
    expect(await ids(svc)).toEqual(['yaml']);
    const kept = readdirSync(dataDir).filter((f) => f.startsWith(`${CAMERAS_FILE}.corrupt-`));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(dataDir, kept[0]!), 'utf8')).toBe('{"version": 1, "cameras": [');
  });
});

describe('GET /health/ready and /health/live', () => {
  it('503 while no camera could start, 200 once one streams, 503 when the model file goes', async () => {
    const spec = findSpec(loadManifest(), 'mobilenet_v2_int8');
    const models = mkdtempSync(join(tmpdir(), 'ready-models-'));
    copyFileSync(await fixturePath('model', spec.file), join(models, spec.file));
    copyFileSync(await fixturePath('model', spec.labels_file), join(models, spec.labels_file));
    const missing = join(models, 'no-such-clip.mp4');
    const svc = await start({ model: { models_dir: models }, cameras: [{ id: 'gone', url: missing, fps: 2, transport: 'tcp', loop: true, realtime: true }] });

    expect((await fetch(`${svc.baseUrl}/health/live`)).status).toBe(200);
    // The camera ends in `error` (file not found) without ever streaming: not ready.
    expect(await waitFor(() => svc.service.control.list()[0]?.state === 'error', 30_000)).toBe(true);
    const notReady = await ready(svc);
    expect(notReady.status).toBe(503);
    expect(notReady.body.problems.join('\n')).toContain(`no camera could start (gone error: video file not found: ${missing}`);
    // /health keeps answering 200 with its own shape.
    const health = await fetch(`${svc.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(Object.keys((await health.json()) as object).sort()).toEqual(['cameras', 'model', 'problems', 'provider', 'status', 'task', 'uptime_s', 'version']);

    expect((await post(svc, { id: 'live', url: CLIP, fps: 2 })).status).toBe(201);
    expect(await waitFor(() => (svc.service.control.status('live')?.frames_in ?? 0) > 0, 30_000)).toBe(true);
    expect(await ready(svc)).toEqual({ status: 200, body: { status: 'ready', problems: [] } });

    rmSync(join(models, spec.file));
    const noModel = await ready(svc);
    expect(noModel.status).toBe(503);
    expect(noModel.body.problems).toEqual([`model mobilenet_v2_int8: file ${join(models, spec.file)} is missing`]);
    expect((await fetch(`${svc.baseUrl}/health/live`)).status).toBe(200);
  });
});
