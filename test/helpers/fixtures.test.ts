/**
 * Fixtures on a machine without ../shared: FIXTURES_SHARED_DIR points at a
 * temp dir holding only the models and the COCO photos (links to the real
 * ones), so the slideshow must be generated and a missing model fetched.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchItems } from '../../src/models/fetch.js';
import { loadManifest } from '../../src/models/manifest.js';
import { resolveFfmpegPath } from '../../src/ingest/ffmpeg-path.js';
import { sha256File } from '../../src/models/sha256.js';
import { COCO_PHOTOS, FIXTURE_SHA256, fixtureCacheDir, fixturePath, FRAMES_PER_PHOTO, probeVideo, sharedDir } from './fixtures.js';

const ENV_KEYS = ['FIXTURES_SHARED_DIR', 'FIXTURES_CACHE_DIR', 'FIXTURES_DOWNLOAD_TIMEOUT_MS'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
const MODELS = Object.keys(FIXTURE_SHA256).filter((k) => k.startsWith('model/')).map((k) => k.slice('model/'.length));
let tmp = '';

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fixtures-noshared-'));
  const fake = join(tmp, 'shared');
  mkdirSync(join(fake, 'models'), { recursive: true });
  mkdirSync(join(fake, 'media', 'coco'), { recursive: true });
  // Resolved before the switch: the real copies (../shared or the cache).
  for (const name of MODELS) symlinkSync(await fixturePath('model', name), join(fake, 'models', name));
  for (const name of COCO_PHOTOS) symlinkSync(await fixturePath('coco', name), join(fake, 'media', 'coco', name));
  process.env.FIXTURES_SHARED_DIR = fake;
}, 300_000);

afterAll(() => {
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

  it('names the missing model and every URL it tried when it cannot be downloaded', async () => {
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
