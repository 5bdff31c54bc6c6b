import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InferenceCapture, redactUrl, type CaptureImage, type CaptureRecord } from '../../src/capture/inference-capture.js';
import { parseCapturePath } from '../../src/capture/layout.js';
import { camera, captureConfig, listFiles, loadRgb, removeDir, streamEvent, tempDir, waitUntil } from './support.js';

const MODEL = { modelName: 'yolox_nano', modelSha256: '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14' };

let person: CaptureImage;
let teddy: CaptureImage;
const dirs: string[] = [];
const captures: InferenceCapture[] = [];

async function newDir(): Promise<string> {
  const dir = await tempDir('inference');
  dirs.push(dir);
  return dir;
}

function track(capture: InferenceCapture): InferenceCapture {
  captures.push(capture);
  return capture;
}

beforeAll(async () => {
  person = await loadRgb('000000000139.jpg');
  teddy = await loadRgb('000000000776.jpg');
});

afterEach(async () => {
  for (const c of captures.splice(0)) await c.close();
  for (const d of dirs.splice(0)) await removeDir(d);
});

describe('InferenceCapture', () => {
  it('writes a JPEG and a JSON per capture in the dated layout', async () => {
    const dir = await newDir();
    const capture = track(new InferenceCapture(captureConfig(dir, { max_side: 0, jpeg_quality: 90 }), MODEL));
    await capture.ready();
    const cam = camera('front-door');
    const when = new Date(Date.UTC(2026, 10, 24, 10, 15, 30, 123));
    const event = streamEvent(cam.id, 57, when, true);
    expect(capture.offer({ camera: cam, event, image: person })).toBe(true);
    await capture.close();

    const files = await listFiles(dir);
    expect(files).toHaveLength(2);
    const [imageRel, jsonRel] = [files.find((f) => f.endsWith('.jpg')) as string, files.find((f) => f.endsWith('.json')) as string];
    expect(imageRel).toMatch(/^2026\/11\/24\/20261124T101530123Z_[0-9a-f-]{36}\.jpg$/);
    expect(parseCapturePath(jsonRel)?.stem).toBe(parseCapturePath(imageRel)?.stem);

    const meta = await sharp(join(dir, imageRel)).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([person.width, person.height]);
    // The pixels are the picture's, not noise: compare a downscaled version.
    const saved = await sharp(join(dir, imageRel)).resize(16, 16, { fit: 'fill' }).raw().toBuffer();
    const original = await sharp(Buffer.from(person.rgb), { raw: { width: person.width, height: person.height, channels: 3 } }).resize(16, 16, { fit: 'fill' }).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < saved.length; i++) diff += Math.abs((saved[i] as number) - (original[i] as number));
    expect(diff / saved.length).toBeLessThan(6);

    const record = JSON.parse(await readFile(join(dir, jsonRel), 'utf8')) as CaptureRecord;
    expect(record).toEqual({
      camera_id: 'front-door',
      source_url: 'rtsp://user:***@127.0.0.1:8554/front-door',
      model: 'yolox_nano',
      model_sha256: MODEL.modelSha256,
      event_id: event.id,
      frame: 57,
      captured_at: '2026-11-24T10:15:30.123Z',
      inferred_at: '2026-11-24T10:15:30.165Z',
      latency_ms: 42,
      image: imageRel.split('/').pop(),
      width: person.width,
      height: person.height,
      source_width: person.width,
      source_height: person.height,
      predictions: event.predictions,
      has_person: true,
      detections: event.detections,
    });
    expect(capture.metrics()).toMatchObject({ captured: 1, skipped: 0, uploaded: 0, pending_uploads: 0 });
  });

  it('limits the saved image to max_side, keeping the aspect ratio', async () => {
    const dir = await newDir();
    const capture = track(new InferenceCapture(captureConfig(dir, { max_side: 160 }), MODEL));
    await capture.ready();
    const event = streamEvent('a', 1, new Date(), false);
    // The camera's source is twice the size of the capture frame; boxes come in source pixels.
    capture.offer({ camera: camera('a'), event, image: teddy, sourceSize: { width: teddy.width * 2, height: teddy.height * 2 } });
    await capture.close();
    const files = await listFiles(dir);
    const meta = await sharp(join(dir, files.find((f) => f.endsWith('.jpg')) as string)).metadata();
    expect(Math.max(meta.width, meta.height)).toBe(160);
    expect(meta.width / meta.height).toBeCloseTo(teddy.width / teddy.height, 1);
    const record = JSON.parse(await readFile(join(dir, files.find((f) => f.endsWith('.json')) as string), 'utf8')) as CaptureRecord;
    expect([record.width, record.height]).toEqual([meta.width, meta.height]);
    expect([record.source_width, record.source_height]).toEqual([teddy.width * 2, teddy.height * 2]);
    expect(record.has_person).toBe(false);
    // Boxes are rescaled into the saved image's pixels.
    const sx = meta.width / (teddy.width * 2);
    const sy = meta.height / (teddy.height * 2);
    const [x1, y1, x2, y2] = event.detections?.[0]?.box ?? [0, 0, 0, 0];
    const box = record.detections?.[0]?.box ?? [];
    expect(box[0]).toBeCloseTo(x1 * sx, 1);
    expect(box[1]).toBeCloseTo(y1 * sy, 1);
    expect(box[2]).toBeCloseTo(x2 * sx, 1);
    expect(box[3]).toBeCloseTo(y2 * sy, 1);
    expect(record.detections?.[0]).toMatchObject({ label: 'teddy bear', class_id: 77, score: 0.91 });
  });

  it('copies the pixels before offer returns, so the caller may reuse its buffer', async () => {
    const dir = await newDir();
    const capture = track(new InferenceCapture(captureConfig(dir, { max_side: 0 }), MODEL));
    await capture.ready();
    const reused = new Uint8Array(person.rgb);
    capture.offer({ camera: camera('a'), event: streamEvent('a', 1, new Date(), true), image: { ...person, rgb: reused } });
    reused.fill(0); // the ring slot is overwritten by the next frame
    await capture.close();
    const jpg = (await listFiles(dir)).find((f) => f.endsWith('.jpg')) as string;
    const stats = await sharp(join(dir, jpg)).stats();
    expect(stats.channels[0]?.mean).toBeGreaterThan(20);
  });

  it('selects every Nth inferred frame per camera, with per-camera overrides', async () => {
    const dir = await newDir();
    const capture = track(new InferenceCapture(captureConfig(dir, { inference: true, every_n: 3 }), MODEL));
    const plain = camera('plain');
    const dense = camera('dense', { capture: { every_n: 2 } });
    const off = camera('off', { capture: { enabled: false } });
    const picks = (cam: ReturnType<typeof camera>, frames: number[]): number[] => frames.filter((f) => capture.shouldCapture(cam.id, f, cam));
    // Frame numbers with gaps (dropped frames): selection counts inferred frames, not frame numbers.
    expect(picks(plain, [1, 2, 5, 6, 7, 9, 12])).toEqual([1, 6, 12]);
    expect(picks(dense, [1, 2, 3, 4, 5])).toEqual([1, 3, 5]);
    expect(picks(off, [1, 2, 3])).toEqual([]);
    // A camera's counter is its own.
    expect(picks(plain, [13, 14, 15])).toEqual([15]);

    const globalOff = track(new InferenceCapture(captureConfig(dir, { inference: false, every_n: 1 }), MODEL));
    const optIn = camera('opt-in', { capture: { enabled: true } });
    expect([1, 2].filter((f) => globalOff.shouldCapture(plain.id, f, plain))).toEqual([]);
    expect([1, 2].filter((f) => globalOff.shouldCapture(optIn.id, f, optIn))).toEqual([1, 2]);
  });

  it('skips and counts captures beyond max_pending and frames without pixels', async () => {
    const dir = await newDir();
    const capture = track(new InferenceCapture(captureConfig(dir, { max_pending: 2 }), MODEL));
    await capture.ready();
    const cam = camera('busy');
    const results: boolean[] = [];
    for (let i = 0; i < 6; i++) results.push(capture.offer({ camera: cam, event: streamEvent(cam.id, i, new Date(), true), image: person }));
    expect(results).toEqual([true, true, false, false, false, false]);
    expect(capture.offer({ camera: cam, event: streamEvent(cam.id, 7, new Date(), true), image: null })).toBe(false);
    expect(capture.offer({ camera: cam, event: streamEvent(cam.id, 8, new Date(), true), image: { rgb: new Uint8Array(10), width: 640, height: 480 } })).toBe(false);
    await capture.close();
    expect(capture.metrics()).toMatchObject({ captured: 2, skipped: 6 });
    expect(await listFiles(dir)).toHaveLength(4);
    // Once the pending ones are written there is room again.
    const again = track(new InferenceCapture(captureConfig(dir, { max_pending: 2 }), MODEL));
    await again.ready();
    expect(again.offer({ camera: cam, event: streamEvent(cam.id, 9, new Date(), true), image: person })).toBe(true);
  });

  it('prunes the oldest captures past retention_max_bytes', async () => {
    const dir = await newDir();
    // Measure one capture, then allow about three.
    const probe = new InferenceCapture(captureConfig(dir, { max_side: 320 }), MODEL);
    await probe.ready();
    probe.offer({ camera: camera('m'), event: streamEvent('m', 0, new Date(Date.UTC(2026, 0, 1)), true), image: person });
    await probe.close();
    let oneCapture = 0;
    for (const f of await listFiles(dir)) oneCapture += (await stat(join(dir, f))).size;
    await removeDir(join(dir, '2026'));

    const capture = track(new InferenceCapture(captureConfig(dir, { max_side: 320, retention_max_bytes: Math.floor(oneCapture * 3.5) }), MODEL));
    await capture.ready();
    const cam = camera('r');
    const base = Date.UTC(2026, 10, 24, 12, 0, 0);
    for (let i = 0; i < 6; i++) {
      capture.offer({ camera: cam, event: streamEvent(cam.id, i, new Date(base + i * 1000), true), image: person });
      await waitUntil('capture written', () => capture.metrics().captured === i + 1);
    }
    await capture.close();
    const files = await listFiles(dir);
    const frames = await Promise.all(
      files.filter((f) => f.endsWith('.json')).map(async (f) => (JSON.parse(await readFile(join(dir, f), 'utf8')) as CaptureRecord).frame),
    );
    expect(frames.sort()).toEqual([3, 4, 5]);
    expect(files.filter((f) => f.endsWith('.jpg'))).toHaveLength(3);
    expect(capture.metrics()).toMatchObject({ captured: 6, skipped: 0 });
  });

  it('prunes captures older than retention_max_age_hours, including earlier runs, and removes emptied days', async () => {
    const dir = await newDir();
    const first = new InferenceCapture(captureConfig(dir), MODEL);
    await first.ready();
    const cam = camera('aged');
    const now = Date.now();
    first.offer({ camera: cam, event: streamEvent(cam.id, 1, new Date(now - 50 * 3_600_000), true), image: teddy });
    first.offer({ camera: cam, event: streamEvent(cam.id, 2, new Date(now - 30 * 3_600_000), true), image: teddy });
    first.offer({ camera: cam, event: streamEvent(cam.id, 3, new Date(now - 60_000), true), image: teddy });
    await first.close();
    expect(await listFiles(dir)).toHaveLength(6);

    const second = track(new InferenceCapture(captureConfig(dir, { retention_max_age_hours: 24 }), MODEL));
    await second.ready();
    await second.close();
    const files = await listFiles(dir);
    expect(files).toHaveLength(2);
    const record = JSON.parse(await readFile(join(dir, files.find((f) => f.endsWith('.json')) as string), 'utf8')) as CaptureRecord;
    expect(record.frame).toBe(3);
    // The 50-hour-old capture's day directory is gone (unless it is also the kept one's day).
    const oldDay = new Date(now - 50 * 3_600_000).toISOString().slice(0, 10).replace(/-/g, '/');
    const keptDay = new Date(now - 60_000).toISOString().slice(0, 10).replace(/-/g, '/');
    if (oldDay !== keptDay) await expect(stat(join(dir, oldDay))).rejects.toThrow();
  });

  it('removes half-written captures left by a crash and keeps complete ones', async () => {
    const dir = await newDir();
    const first = new InferenceCapture(captureConfig(dir), MODEL);
    await first.ready();
    first.offer({ camera: camera('c'), event: streamEvent('c', 1, new Date(), true), image: teddy });
    await first.close();
    const complete = await listFiles(dir);
    const day = complete[0]?.slice(0, 10) as string;
    const stamp = complete[0]?.slice(11, 30) as string;
    // A crash between image and JSON, and one in the middle of a write.
    const lone = `${day}/${stamp}_00000000-0000-4000-8000-000000000000.jpg`;
    await writeFile(join(dir, lone), Buffer.from([0xff, 0xd8]));
    await mkdir(join(dir, day), { recursive: true });
    await writeFile(join(dir, day, `.${stamp}_x.jpg.tmp-deadbeef`), 'partial');

    const second = track(new InferenceCapture(captureConfig(dir), MODEL));
    await second.ready();
    expect(await listFiles(dir)).toEqual(complete);
    await expect(stat(join(dir, day, `.${stamp}_x.jpg.tmp-deadbeef`))).rejects.toThrow();
  });

  it('never writes camera credentials', () => {
    expect(redactUrl('rtsp://admin:hunter2@10.0.0.7:554/h264')).toBe('rtsp://admin:***@10.0.0.7:554/h264');
    expect(redactUrl('http://cam.local/mjpeg')).toBe('http://cam.local/mjpeg');
    expect(redactUrl('/videos/clip.mp4')).toBe('/videos/clip.mp4');
  });
});
