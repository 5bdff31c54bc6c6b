/**
 * End to end with real ffmpeg, the real detector and real HTTP clients: the
 * COCO slideshow played as a camera gives events whose has_person follows the
 * pictures; two cameras at once; WebSocket clients get the same events.
 */
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/contracts/events.js';
import { slideshowPhotoAt } from '../helpers/fixtures.js';
import { collectSse, fileCamera, SLIDESHOW_360P, SLIDESHOW_720P, startTestService, type TestService } from '../helpers/service.js';
import { ffmpegChildren, waitFor } from '../helpers/processes.js';

// MODELS.md: person score > 0.6 on these, < 0.05 on those (as still photos).
// 139 shows one small, distant person; in the 1280×720 slideshow the photo is
// pillarboxed and then letterboxed to 416 px, about 16 % smaller than the
// still, and YOLOX-Nano scores it near 0.33: below the 0.6 threshold but far
// above the empty scenes, which is what the test checks for it.
const SMALL_PERSON = '000000000139.jpg';
const WITH_PERSON = ['000000000885.jpg', '000000004134.jpg'];
const WITHOUT_PERSON = ['000000000632.jpg', '000000000776.jpg', '000000002592.jpg'];
const FPS = 5;

/** At 5 fps each photo (0.8 s) spans 4 ring frames: frame k shows photo floor((k-1)/4). */
const photoOf = (frame: number): string => slideshowPhotoAt(frame, FPS);

describe('live video end to end (person detector)', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({
      model: { name: 'person_detector' },
      cameras: [fileCamera('slides', SLIDESHOW_720P, { fps: FPS })],
    });
  });

  afterAll(async () => {
    await svc?.stop();
    expect(ffmpegChildren()).toEqual([]);
  });

  it('SSE events follow the pictures: has_person on the photos with people, not on the others', async () => {
    const wanted = new Set([SMALL_PERSON, ...WITH_PERSON, ...WITHOUT_PERSON]);
    // Last-Event-ID 0 replays the held history, so frames from before this request count too.
    const events = await collectSse<StreamEvent>(
      `${svc.baseUrl}/stream?camera=slides`,
      45_000,
      (evs) => [...wanted].every((photo) => evs.some((e) => photoOf(e.frame) === photo)),
      { 'Last-Event-ID': '0' },
    );
    expect(events.length).toBeGreaterThan(10);
    for (const e of events) {
      expect(e.camera).toBe('slides');
      expect(e.model).toBe('yolox_nano');
      expect(typeof e.latency_ms).toBe('number');
      expect(Number.isNaN(Date.parse(e.captured_at))).toBe(false);
    }
    const verdicts = new Map<string, boolean[]>();
    const personScores = new Map<string, number[]>();
    for (const e of events) {
      const photo = photoOf(e.frame);
      if (!wanted.has(photo)) continue;
      verdicts.set(photo, [...(verdicts.get(photo) ?? []), e.has_person as boolean]);
      const person = e.predictions.find((p) => p.label === 'person')?.score ?? 0;
      personScores.set(photo, [...(personScores.get(photo) ?? []), person]);
    }
    const small = personScores.get(SMALL_PERSON) ?? [];
    expect(small.length).toBeGreaterThan(0);
    expect(Math.min(...small)).toBeGreaterThan(0.2);
    for (const photo of WITHOUT_PERSON) expect(Math.max(...(personScores.get(photo) ?? [1]))).toBeLessThan(0.05);
    for (const photo of WITH_PERSON) expect({ photo, has_person: verdicts.get(photo) }).toEqual({ photo, has_person: expect.arrayContaining([true]) });
    for (const photo of WITHOUT_PERSON) expect({ photo, has_person: verdicts.get(photo) }).toEqual({ photo, has_person: expect.not.arrayContaining([true]) });
    for (const photo of WITH_PERSON) expect(verdicts.get(photo)?.every(Boolean)).toBe(true);
    const withBoxes = events.find((e) => e.has_person);
    expect(withBoxes?.detections?.some((d) => d.label === 'person' && d.box[2] > d.box[0] && d.box[2] <= 1280)).toBe(true);
  }, 60_000);

  it('runs two cameras at once and a WebSocket client receives the same events as SSE', async () => {
    const res = await fetch(`${svc.baseUrl}/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'small', url: SLIDESHOW_360P, fps: FPS }),
    });
    expect(res.status).toBe(201);

    const ws = new WebSocket(`${svc.baseUrl.replace('http', 'ws')}/ws`);
    const wsEvents: StreamEvent[] = [];
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        const msg = JSON.parse(String(data)) as StreamEvent;
        if (typeof msg.id === 'number' && msg.camera) wsEvents.push(msg);
      }
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));

    const sse = await collectSse<StreamEvent>(`${svc.baseUrl}/stream`, 30_000, (evs) => new Set(evs.map((e) => e.camera)).size === 2 && evs.length >= 20);
    // The WebSocket sees the same events; wait for it to catch up with the SSE stream rather than for a fixed time.
    const lastSseId = sse[sse.length - 1]?.id ?? 0;
    await waitFor(() => wsEvents.some((e) => e.id >= lastSseId), 15_000);
    ws.close();

    expect(new Set(sse.map((e) => e.camera))).toEqual(new Set(['slides', 'small']));
    const wsById = new Map(wsEvents.map((e) => [e.id, e]));
    const overlap = sse.filter((e) => wsById.has(e.id));
    expect(overlap.length).toBeGreaterThan(10);
    for (const e of overlap) expect(wsById.get(e.id)).toEqual(e);

    const health = (await (await fetch(`${svc.baseUrl}/health/stream`)).json()) as { cameras: { id: string; state: string; fps_out: number }[] };
    expect(health.cameras.map((c) => c.id).sort()).toEqual(['slides', 'small']);
    for (const camera of health.cameras) expect(camera.state).toBe('streaming');

    // The preview is a real JPEG of the source's aspect ratio, tagged with the frame it shows.
    const preview = await fetch(`${svc.baseUrl}/cameras/slides/preview.jpg`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toBe('image/jpeg');
    const frame = Number(preview.headers.get('x-frame'));
    expect(frame).toBeGreaterThan(0);
    const meta = await sharp(Buffer.from(await preview.arrayBuffer())).metadata();
    expect(Math.abs((meta.width as number) / (meta.height as number) - 16 / 9)).toBeLessThan(0.02);

    expect((await fetch(`${svc.baseUrl}/cameras/small`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${svc.baseUrl}/cameras/small`, { method: 'DELETE' })).status).toBe(404);
  }, 60_000);
});
