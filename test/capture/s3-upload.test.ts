import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InferenceCapture, type CaptureImage } from '../../src/capture/inference-capture.js';
import { s3KeyFor } from '../../src/capture/layout.js';
import { createS3Client, S3Uploader } from '../../src/capture/s3-uploader.js';
import { JOURNAL_NAME, UploadIndex } from '../../src/capture/upload-index.js';
import { defaultConfig, type CaptureConfig, type S3Config } from '../../src/config/schema.js';
import { camera, captureConfig, listFiles, loadRgb, removeDir, streamEvent, tempDir, TestS3, waitUntil } from './support.js';

const MODEL = { modelName: 'mobilenet_v2_int8', modelSha256: '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f' };
const BUCKET = 'captures';
const PREFIX = 'inference/site-a';
const FAST_RETRY = { initialMs: 40, maxMs: 200 };

let picture: CaptureImage;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  picture = await loadRgb('000000000885.jpg');
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(): Promise<{ dir: string; s3: TestS3 }> {
  const dir = await tempDir('local');
  const store = await tempDir('s3rver');
  const s3 = new TestS3(store, BUCKET);
  await s3.start();
  cleanup.push(async () => {
    await s3.stop();
    await removeDir(dir);
    await removeDir(store);
  });
  return { dir, s3 };
}

function s3Config(s3: TestS3, patch: Partial<S3Config> = {}): Partial<CaptureConfig> {
  return {
    max_side: 320,
    s3: {
      bucket: BUCKET,
      prefix: PREFIX,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      force_path_style: true,
      access_key_id: 'S3RVER',
      secret_access_key: 'S3RVER',
      concurrency: 2,
      max_retries: 0,
      delete_after_upload: false,
      ...patch,
    },
  };
}

/** Lists the bucket through a separate real client. */
async function listBucket(s3: TestS3): Promise<Map<string, Buffer>> {
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  try {
    const out = new Map<string, Buffer>();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    for (const object of listed.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: object.Key }));
      out.set(object.Key as string, Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
    }
    return out;
  } finally {
    client.destroy();
  }
}

/** Every local capture file is in the bucket under its derived key, byte for byte, and nothing else is. */
async function expectBucketMirrorsDisk(dir: string, s3: TestS3): Promise<void> {
  const local = await listFiles(dir);
  const bucket = await listBucket(s3);
  expect([...bucket.keys()].sort()).toEqual(local.map((rel) => s3KeyFor(PREFIX, rel)).sort());
  for (const rel of local) expect(bucket.get(s3KeyFor(PREFIX, rel))?.equals(await readFile(join(dir, rel)))).toBe(true);
}

function expectEachPutOnce(s3: TestS3, expected: number): void {
  expect(s3.puts.size).toBe(expected);
  for (const [path, count] of s3.puts) expect({ path, count }).toEqual({ path, count: 1 });
}

function offerMany(capture: InferenceCapture, cameraId: string, frames: number[]): void {
  const cam = camera(cameraId);
  for (const frame of frames) expect(capture.offer({ camera: cam, event: streamEvent(cam.id, frame, new Date(Date.now() + frame), true), image: picture })).toBe(true);
}

async function journalPaths(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, JOURNAL_NAME), 'utf8');
  return text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { path: string }).path);
}

describe('capture upload to S3 (real s3rver)', () => {
  it('uploads each capture under its derived key with the same bytes, image before JSON', async () => {
    const { dir, s3 } = await setup();
    const capture = new InferenceCapture(captureConfig(dir, s3Config(s3)), { ...MODEL, uploadRetry: FAST_RETRY });
    await capture.ready();
    offerMany(capture, 'cam-1', [1, 2, 3]);
    await waitUntil('uploads', () => capture.metrics().uploaded === 6);
    await capture.close();
    await expectBucketMirrorsDisk(dir, s3);
    expectEachPutOnce(s3, 6);
    expect(capture.metrics()).toMatchObject({ captured: 3, uploaded: 6, upload_failures: 0, pending_uploads: 0, pending_bytes: 0 });
    // The journal names each file once.
    const journal = await journalPaths(dir);
    expect(journal.sort()).toEqual(await listFiles(dir));
    // Within a group the image went first.
    const order = [...s3.puts.keys()];
    for (const path of order.filter((p) => p.endsWith('.json'))) expect(order.indexOf(path.replace(/\.json$/, '.jpg'))).toBeLessThan(order.indexOf(path));
  });

  it('keeps capturing through an outage and uploads everything once the store is back, none twice', async () => {
    const { dir, s3 } = await setup();
    const capture = new InferenceCapture(captureConfig(dir, s3Config(s3)), { ...MODEL, uploadRetry: FAST_RETRY });
    cleanup.push(() => capture.close());
    await capture.ready();
    offerMany(capture, 'cam-1', [1, 2]);
    await waitUntil('first uploads', () => capture.metrics().uploaded === 4);

    await s3.stop();
    offerMany(capture, 'cam-1', [3, 4, 5]);
    offerMany(capture, 'cam-2', [1]);
    await waitUntil('captures during the outage', () => capture.metrics().captured === 6);
    await waitUntil('failed attempts while down', () => capture.metrics().upload_failures >= 3);
    const during = capture.metrics();
    expect(during.pending_uploads).toBe(8);
    expect(during.pending_bytes).toBeGreaterThan(0);
    expect(during.uploaded).toBe(4);

    await s3.start(); // same port, same directory
    await waitUntil('backlog drained', () => capture.metrics().pending_uploads === 0);
    await capture.close();
    expect(capture.metrics()).toMatchObject({ captured: 6, uploaded: 12, pending_uploads: 0, pending_bytes: 0 });
    await expectBucketMirrorsDisk(dir, s3);
    expectEachPutOnce(s3, 12);
  });

  it('a new uploader after a restart finishes what the closed one left, without duplicates', async () => {
    const { dir, s3 } = await setup();
    const cfg = captureConfig(dir, s3Config(s3));
    const capture = new InferenceCapture(cfg, { ...MODEL, uploadRetry: FAST_RETRY, uploadDrainMs: 0 });
    await capture.ready();
    offerMany(capture, 'cam-1', [1]);
    await waitUntil('first upload', () => capture.metrics().uploaded === 2);
    await s3.stop();
    offerMany(capture, 'cam-1', [2, 3, 4]);
    await waitUntil('captures written', () => capture.metrics().captured === 4);
    await waitUntil('a failed attempt', () => capture.metrics().upload_failures > 0);
    await capture.close(); // "service stops" with 6 files not uploaded
    expect(capture.metrics().pending_uploads).toBe(6);

    await s3.start();
    const uploader = new S3Uploader({ dir, s3: cfg.s3, retry: FAST_RETRY });
    await uploader.start();
    expect(uploader.metrics().pending_uploads).toBe(6);
    await waitUntil('resumed uploads', () => uploader.metrics().pending_uploads === 0);
    await uploader.close();
    expect(uploader.metrics()).toMatchObject({ uploaded: 6, pending_bytes: 0 });
    await expectBucketMirrorsDisk(dir, s3);
    expectEachPutOnce(s3, 8);

    // A third start finds nothing to do.
    const third = new S3Uploader({ dir, s3: cfg.s3, retry: FAST_RETRY });
    await third.start();
    expect(third.metrics().pending_uploads).toBe(0);
    await third.close();
    expectEachPutOnce(s3, 8);
  });

  it('gives up after max_retries, keeps the files, and retries them at the next start', async () => {
    const { dir, s3 } = await setup();
    const cfg = captureConfig(dir, s3Config(s3, { max_retries: 2 }));
    await s3.stop();
    const capture = new InferenceCapture(cfg, { ...MODEL, uploadRetry: FAST_RETRY, uploadDrainMs: 0 });
    await capture.ready();
    offerMany(capture, 'cam-1', [1]);
    await waitUntil('given up', () => capture.metrics().captured === 1 && capture.metrics().pending_uploads === 0);
    expect(capture.metrics()).toMatchObject({ uploaded: 0, upload_failures: 3 });
    await capture.close();
    expect(await listFiles(dir)).toHaveLength(2);

    await s3.start();
    const uploader = new S3Uploader({ dir, s3: cfg.s3, retry: FAST_RETRY });
    await uploader.start();
    await waitUntil('retried', () => uploader.metrics().pending_uploads === 0);
    await uploader.close();
    expect(uploader.metrics().uploaded).toBe(2);
    await expectBucketMirrorsDisk(dir, s3);
  });

  it('retention deletes only uploaded captures, and skips new ones rather than fill the disk while the store is down', async () => {
    const { dir, s3 } = await setup();
    const cfg = captureConfig(dir, s3Config(s3));
    const capture = new InferenceCapture(cfg, { ...MODEL, uploadRetry: FAST_RETRY, uploadDrainMs: 0 });
    await capture.ready();
    offerMany(capture, 'first', [1]);
    await waitUntil('first uploaded', () => capture.metrics().uploaded === 2);
    await capture.close();
    const firstFiles = await listFiles(dir);
    let one = 0;
    for (const f of firstFiles) one += (await readFile(join(dir, f))).length;

    // Room for about 2.5 captures; the uploaded one on disk counts.
    const limit = Math.floor(one * 2.5);
    const limited = new InferenceCapture({ ...cfg, retention_max_bytes: limit }, { ...MODEL, uploadRetry: FAST_RETRY, uploadDrainMs: 0 });
    cleanup.push(() => limited.close());
    await limited.ready();
    await s3.stop();
    const cam = camera('ret');
    const accepted: number[] = [];
    for (let frame = 1; frame <= 6; frame++) {
      if (limited.offer({ camera: cam, event: streamEvent(cam.id, frame, new Date(Date.now() + frame), true), image: picture })) accepted.push(frame);
      await waitUntil('capture settled', () => limited.metrics().captured + limited.metrics().skipped === frame);
      await waitUntil('retention settled', async () => (await listFiles(dir)).length === 2 * (accepted.length + (frame < 2 ? 1 : 0)));
    }
    // 1 and 2 fit once the uploaded first capture is pruned; 3 goes over the limit; from then on
    // only un-uploaded files are left, so new captures are skipped instead of filling the disk.
    expect(accepted).toEqual([1, 2, 3]);
    expect(limited.metrics()).toMatchObject({ captured: 3, skipped: 3, pending_uploads: 6 });
    const files = await listFiles(dir);
    for (const f of firstFiles) expect(files).not.toContain(f);
    expect(files).toHaveLength(6);

    await s3.start();
    await waitUntil('backlog uploaded', () => limited.metrics().pending_uploads === 0);
    // Uploaded now, so retention may prune again and capture resumes.
    await waitUntil('room again', async () => (await listFiles(dir)).length === 4);
    expect(limited.offer({ camera: cam, event: streamEvent(cam.id, 7, new Date(Date.now() + 7), true), image: picture })).toBe(true);
    const bucket = await listBucket(s3);
    expect(bucket.size).toBe(8);
    for (const f of [...firstFiles, ...files]) expect(bucket.has(s3KeyFor(PREFIX, f))).toBe(true);
  });

  it('deletes local files after upload when asked', async () => {
    const { dir, s3 } = await setup();
    const capture = new InferenceCapture(captureConfig(dir, s3Config(s3, { delete_after_upload: true })), { ...MODEL, uploadRetry: FAST_RETRY });
    await capture.ready();
    offerMany(capture, 'gone', [1, 2]);
    await waitUntil('uploaded', () => capture.metrics().uploaded === 4);
    await waitUntil('deleted', async () => (await listFiles(dir)).length === 0);
    await capture.close();
    expect((await listBucket(s3)).size).toBe(4);
    // Deleted files need no journal lines: the next start compacts them away and uploads nothing.
    const next = new S3Uploader({ dir, s3: captureConfig(dir, s3Config(s3)).s3 });
    await next.start();
    expect(next.metrics().pending_uploads).toBe(0);
    await next.close();
    expect(await journalPaths(dir)).toEqual([]);
    expectEachPutOnce(s3, 4);
  });
});

describe('UploadIndex journal', () => {
  it('replays, ignores a torn last line, and keeps appending on a fresh line', async () => {
    const dir = await tempDir('journal');
    cleanup.push(() => removeDir(dir));
    const index = await UploadIndex.open(dir);
    await index.record('2026/11/24/a.jpg', 'p/2026/11/24/a.jpg', 10);
    await index.record('2026/11/24/a.json', 'p/2026/11/24/a.json', 2);
    await index.close();
    await writeFile(join(dir, JOURNAL_NAME), `${await readFile(join(dir, JOURNAL_NAME), 'utf8')}{"path":"2026/11/24/b.jp`);

    const replayed = await UploadIndex.open(dir);
    expect(replayed.has('2026/11/24/a.jpg', 'p/2026/11/24/a.jpg')).toBe(true);
    expect(replayed.has('2026/11/24/a.jpg', 'other-prefix/2026/11/24/a.jpg')).toBe(false);
    expect(replayed.has('2026/11/24/b.jpg', 'p/2026/11/24/b.jpg')).toBe(false);
    await replayed.record('2026/11/24/b.jpg', 'p/2026/11/24/b.jpg', 5);
    await replayed.retain((path) => path !== '2026/11/24/a.json');
    await replayed.close();

    const again = await UploadIndex.open(dir);
    expect(again.size).toBe(2);
    expect(again.has('2026/11/24/b.jpg', 'p/2026/11/24/b.jpg')).toBe(true);
    expect(again.has('2026/11/24/a.json', 'p/2026/11/24/a.json')).toBe(false);
    await again.close();
    expect(await journalPaths(dir)).toEqual(['2026/11/24/a.jpg', '2026/11/24/b.jpg']);
  });
});

describe('S3 client configuration', () => {
  const base: S3Config = { ...defaultConfig().capture.s3, bucket: 'b' };

  it('uses the configured endpoint, path style, region and keys', async () => {
    const client = createS3Client({ ...base, endpoint: 'http://127.0.0.1:9', force_path_style: true, region: 'eu-west-1', access_key_id: 'AK', secret_access_key: 'SK' }, 1000);
    try {
      expect(await client.config.region()).toBe('eu-west-1');
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'AK', secretAccessKey: 'SK' });
      const endpoint = await client.config.endpoint?.();
      expect(endpoint?.hostname).toBe('127.0.0.1');
    } finally {
      client.destroy();
    }
  });

  it('falls back to the AWS default chain (environment, ECS task role) when no keys are configured', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, region: process.env.AWS_REGION };
    process.env.AWS_ACCESS_KEY_ID = 'FROM-CHAIN';
    process.env.AWS_SECRET_ACCESS_KEY = 'chain-secret';
    process.env.AWS_REGION = 'ap-southeast-2';
    const client = createS3Client(base, 1000);
    try {
      expect(await client.config.region()).toBe('ap-southeast-2');
      expect(client.config.forcePathStyle).toBe(false);
      expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'FROM-CHAIN' });
    } finally {
      client.destroy();
      for (const [key, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret], ['AWS_REGION', saved.region]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
