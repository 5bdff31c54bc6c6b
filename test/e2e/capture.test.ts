/**
 * Inference capture through the whole service: the detector on the slideshow,
 * every 5th inferred frame saved in the date layout with its JSON, has_person
 * in the JSON matching the picture, and the pairs uploaded to a real
 * S3-protocol server (s3rver) under the configured prefix.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaptureRecord } from '../../src/capture/inference-capture.js';
import { slideshowPhotoAt } from '../helpers/fixtures.js';
import { fileCamera, SLIDESHOW_720P, startTestService, type TestService } from '../helpers/service.js';
import { listFiles, removeDir, tempDir, TestS3, waitUntil } from '../capture/support.js';

const photoOf = (frame: number): string => slideshowPhotoAt(frame, 5);
const PERSON = new Set(['000000000885.jpg', '000000004134.jpg']);
const NO_PERSON = new Set(['000000000632.jpg', '000000000776.jpg', '000000002592.jpg']);

describe('inference capture (detector, every 5th frame, S3)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('writes image + JSON pairs in the date layout that match the pictures, and uploads them', async () => {
    const dir = await tempDir('e2e-capture');
    const store = await tempDir('e2e-s3rver');
    const s3 = new TestS3(store, 'captures');
    await s3.start();
    cleanup.push(async () => {
      await s3.stop();
      await removeDir(dir);
      await removeDir(store);
    });
    const svc: TestService = await startTestService({
      model: { name: 'person_detector' },
      cameras: [fileCamera('slides', SLIDESHOW_720P, { fps: 5 })],
      capture: {
        inference: true,
        dir,
        every_n: 5,
        max_side: 640,
        s3: { bucket: 'captures', prefix: 'inference/e2e', region: 'us-east-1', endpoint: s3.endpoint, force_path_style: true, access_key_id: 'S3RVER', secret_access_key: 'S3RVER', concurrency: 2, max_retries: 0, delete_after_upload: false },
      } as never,
    });
    let stopped = false;
    cleanup.push(async () => {
      if (!stopped) await svc.stop();
    });

    // Frames 1..~100 cover photos 0..24 at 5 fps: wait for a capture of each checked photo kind.
    await waitUntil('captures of photos with and without people', async () => {
      const jsons = (await listFiles(dir)).filter((f) => f.endsWith('.json'));
      const records = await Promise.all(jsons.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as CaptureRecord));
      return records.filter((r) => photoOf(r.frame) === '000000000885.jpg' || photoOf(r.frame) === '000000004134.jpg').length > 0 && records.length >= 6;
    }, 45_000);
    const metric = (text: string, name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const before = await (await fetch(`${svc.baseUrl}/metrics`)).text();
    await svc.stop();
    stopped = true;

    const files = await listFiles(dir);
    const jsons = files.filter((f) => f.endsWith('.json'));
    expect(jsons.length).toBeGreaterThanOrEqual(6);
    const frames: number[] = [];
    for (const rel of jsons) {
      expect(rel).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{9}Z_[0-9a-f-]{36}\.json$/);
      const record = JSON.parse(await readFile(join(dir, rel), 'utf8')) as CaptureRecord;
      const image = rel.replace(/\.json$/, '.jpg');
      expect(files).toContain(image);
      expect(record).toMatchObject({ camera_id: 'slides', model: 'yolox_nano', source_url: SLIDESHOW_720P, source_width: 1280, source_height: 720 });
      expect(record.model_sha256).toMatch(/^[0-9a-f]{64}$/);
      const meta = await sharp(join(dir, image)).metadata();
      expect([meta.width, meta.height]).toEqual([record.width, record.height]);
      expect(record.width).toBe(640);
      expect(typeof record.has_person).toBe('boolean');
      const photo = photoOf(record.frame);
      if (PERSON.has(photo)) expect({ photo, has_person: record.has_person }).toEqual({ photo, has_person: true });
      if (NO_PERSON.has(photo)) expect({ photo, has_person: record.has_person }).toEqual({ photo, has_person: false });
      frames.push(record.frame);
    }
    // Every 5th inferred frame is offered: saved + skipped = inferred / 5 (± the frames in flight at the snapshot).
    const inferred = metric(before, 'stream_ml_camera_frames_out_total');
    const offered = metric(before, 'stream_ml_capture_captured_total') + metric(before, 'stream_ml_capture_skipped_total');
    expect(Math.abs(offered - Math.floor(inferred / 5))).toBeLessThanOrEqual(1);
    expect(new Set(frames).size).toBe(frames.length);

    const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const keys = ((await client.send(new ListObjectsV2Command({ Bucket: 'captures' }))).Contents ?? []).map((o) => o.Key).sort();
    client.destroy();
    const localKeys = files.map((f) => `inference/e2e/${f}`).sort();
    // The service drains its uploads on stop; anything not yet uploaded would be resumed at the next start.
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(localKeys).toContain(key);
  }, 90_000);
});
