/**
 * Fixtures on a machine without ../shared: FIXTURES_SHARED_DIR points at an
 * empty temp dir and FIXTURES_MIRROR at a loopback HTTP server that serves
 * the upstream URLs (model, Keras-format labels, COCO photos) from the real
 * copies, so the whole resolver runs: download, sha256 check, cache, and the
 * slideshows generated from the downloaded photos.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchItems } from '../../src/models/fetch.js';
import { loadManifest } from '../../src/models/manifest.js';
import { resolveFfmpegPath } from '../../src/ingest/ffmpeg-path.js';
import { sha256File } from '../../src/models/sha256.js';
import {
  COCO_PHOTOS,
  FIXTURE_SHA256,
  fixtureCacheDir,
  fixturePath,
  forgetResolvedFixtures,
  FRAMES_PER_PHOTO,
  probeVideo,
  sharedDir,
} from './fixtures.js';

const ENV_KEYS = ['FIXTURES_SHARED_DIR', 'FIXTURES_CACHE_DIR', 'FIXTURES_DOWNLOAD_TIMEOUT_MS', 'FIXTURES_MIRROR'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
let tmp = '';

/** The upstream files by mirror path (/<host>/<path>), and how often each was asked for. */
const mirrorFiles = new Map<string, Buffer>();
const mirrorHits = new Map<string, number>();
let mirror: Server | undefined;

/** The first upstream URL of a model-kind fixture, as a mirror path. */
function mirrorPathOf(name: string): string {
  const item = loadManifest().flatMap((spec) => fetchItems(spec)).find((i) => i.file === name);
  const u = new URL(item!.urls[0]!);
  return `/${u.host}${u.pathname}`;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fixtures-noshared-'));
  // Read before the switch: the real copies (../shared or the cache).
  for (const name of ['mobilenetv2-12-int8.onnx', 'yolox_nano.onnx']) mirrorFiles.set(mirrorPathOf(name), readFileSync(await fixturePath('model', name)));
  // Upstream serves the ImageNet names as a Keras index; the resolver converts it to our array before the sha256 check.
  const names = JSON.parse(readFileSync(await fixturePath('model', 'imagenet_labels.json'), 'utf8')) as string[];
  const keras = Object.fromEntries(names.map((n, i) => [String(i), [`n${String(i).padStart(8, '0')}`, n]]));
  mirrorFiles.set(mirrorPathOf('imagenet_labels.json'), Buffer.from(JSON.stringify(keras)));
  for (const name of COCO_PHOTOS) mirrorFiles.set(`/images.cocodataset.org/val2017/${name}`, readFileSync(await fixturePath('coco', name)));
  mirror = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    mirrorHits.set(path, (mirrorHits.get(path) ?? 0) + 1);
    const body = mirrorFiles.get(path);
    if (body === undefined) return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => mirror!.listen(0, '127.0.0.1', resolve));
  process.env.FIXTURES_MIRROR = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
  const fake = join(tmp, 'shared');
  mkdirSync(fake, { recursive: true });
  process.env.FIXTURES_SHARED_DIR = fake;
  process.env.FIXTURES_CACHE_DIR = join(tmp, 'cache');
}, 300_000);

afterAll(async () => {
  await new Promise<void>((resolve) => (mirror ? mirror.close(() => resolve()) : resolve()));
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Decoded RGB of the given frame numbers of a video, in order. */
async function decodeFrames(file: string, frames: number[], width: number, height: number): Promise<Buffer[]> {
  const ffmpeg = await resolveFfmpegPath();
  const select = frames.map((n) => `eq(n\\,${n})`).join('+');
  const child = spawn(ffmpeg, ['-v', 'error', '-i', file, '-vf', `select=${select}`, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  for await (const c of child.stdout) chunks.push(c as Buffer);
  const all = Buffer.concat(chunks);
  const size = width * height * 3;
  expect(all.length).toBe(size * frames.length);
  return frames.map((_, i) => all.subarray(i * size, (i + 1) * size));
}

/** A COCO photo fitted into width×height, centred on black — what a slideshow frame should show. */
async function fitted(photo: string, width: number, height: number): Promise<Buffer> {
  return sharp(await fixturePath('coco', photo))
    .removeAlpha()
    .resize(width, height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

describe('fixtures without ../shared', () => {
  it('generates the slideshows from the COCO photos into the cache', async () => {
    expect(sharedDir()).toBe(join(tmp, 'shared'));
    const path = await fixturePath('media', 'coco_slideshow_360p.mp4');
    expect(path).toBe(join(fixtureCacheDir(), 'media', 'coco_slideshow_360p.mp4'));
    // The sha256 recorded at generation, checked on reuse by later tests.
    expect(existsSync(`${path}.sha256`)).toBe(true);

    const frames = COCO_PHOTOS.length * FRAMES_PER_PHOTO;
    expect(await probeVideo(path)).toEqual({ width: 640, height: 360, frames, durationS: 40 });
    const hd = await fixturePath('media', 'coco_slideshow_720p.mp4');
    expect(await probeVideo(hd)).toEqual({ width: 1280, height: 720, frames, durationS: 40 });

    // Photo i is on screen in frame 20·i+10, and it is not its neighbour.
    const photos = [0, 1, 2, 17, 39, 40, 49];
    const decoded = await decodeFrames(path, photos.map((i) => i * FRAMES_PER_PHOTO + 10), 640, 360);
    for (const [k, i] of photos.entries()) {
      const frame = decoded[k] as Buffer;
      const own = meanAbsDiff(frame, await fitted(COCO_PHOTOS[i] as string, 640, 360));
      const other = meanAbsDiff(frame, await fitted(COCO_PHOTOS[(i + 1) % COCO_PHOTOS.length] as string, 640, 360));
      expect(own, `photo ${i} in frame ${i * FRAMES_PER_PHOTO + 10}`).toBeLessThan(8);
      expect(own * 3, `photo ${i} against photo ${i + 1}`).toBeLessThan(other);
    }
  }, 600_000);

  it('downloads models and labels from the upstream URLs into the cache, verified, and reuses the cache', async () => {
    for (const name of ['mobilenetv2-12-int8.onnx', 'imagenet_labels.json']) {
      const path = await fixturePath('model', name);
      expect(path).toBe(join(fixtureCacheDir(), 'models', name));
      expect(await sha256File(path)).toBe(FIXTURE_SHA256[`model/${name}`]);
      expect(mirrorHits.get(mirrorPathOf(name))).toBe(1);
    }
    // A fresh resolution (as in the next test run) uses the verified cached copy: no second download.
    forgetResolvedFixtures();
    expect(await fixturePath('model', 'mobilenetv2-12-int8.onnx')).toBe(join(fixtureCacheDir(), 'models', 'mobilenetv2-12-int8.onnx'));
    expect(mirrorHits.get(mirrorPathOf('mobilenetv2-12-int8.onnx'))).toBe(1);
    // The shared labels file with Darknet's spellings is made from the shipped list, no network.
    expect(await sha256File(await fixturePath('model', 'coco_labels.txt'))).toBe(FIXTURE_SHA256['model/coco_labels.txt']);
  });

  it('rejects a download whose sha256 does not match and re-fetches a corrupted cache entry', async () => {
    const name = 'yolox_nano.onnx';
    const good = mirrorFiles.get(mirrorPathOf(name))!;
    const cached = join(fixtureCacheDir(), 'models', name);
    mirrorFiles.set(mirrorPathOf(name), Buffer.concat([good, Buffer.from('tampered')]));
    const message = await fixturePath('model', name).then(
      () => 'resolved',
      (err: unknown) => (err as Error).message,
    );
    expect(message).toContain(`model/${name}`);
    expect(message).toMatch(/sha256 [0-9a-f]{64} does not match/);
    expect(message).toContain(process.env.FIXTURES_MIRROR!);
    expect(existsSync(cached)).toBe(false);

    mirrorFiles.set(mirrorPathOf(name), good);
    expect(await fixturePath('model', name)).toBe(cached);
    // A cached copy that no longer matches its sha256 is not trusted: it is fetched again.
    writeFileSync(cached, 'not a model');
    forgetResolvedFixtures();
    const before = mirrorHits.get(mirrorPathOf(name)) ?? 0;
    expect(await sha256File(await fixturePath('model', name))).toBe(FIXTURE_SHA256[`model/${name}`]);
    expect(mirrorHits.get(mirrorPathOf(name))).toBe(before + 1);
  });

  it('names the missing model and every URL it tried when it cannot be downloaded', async () => {
    delete process.env.FIXTURES_MIRROR;
    process.env.FIXTURES_SHARED_DIR = join(tmp, 'empty-shared');
    process.env.FIXTURES_CACHE_DIR = join(tmp, 'empty-cache');
    process.env.FIXTURES_DOWNLOAD_TIMEOUT_MS = '3000';
    const name = 'mobilenetv2-12-int8.onnx';
    const urls = loadManifest()
      .flatMap((spec) => fetchItems(spec))
      .filter((item) => item.file === name)
      .flatMap((item) => item.urls);
    expect(urls.length).toBeGreaterThan(0);
    const outcome = await fixturePath('model', name).then(
      (path) => ({ ok: true as const, path }),
      (err: unknown) => ({ ok: false as const, message: err instanceof Error ? err.message : String(err) }),
    );
    if (outcome.ok) {
      // A machine with internet: the download must then be the verified file.
      expect(outcome.path).toBe(join(tmp, 'empty-cache', 'models', name));
      expect(await sha256File(outcome.path)).toBe(FIXTURE_SHA256[`model/${name}`]);
    } else {
      expect(outcome.message).toContain(`model/${name}`);
      for (const url of urls) expect(outcome.message).toContain(url);
      expect(existsSync(join(tmp, 'empty-cache', 'models', name))).toBe(false);
    }
  }, 60_000);
});
