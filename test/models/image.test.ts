import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImageForModel, ImageInputError, sniffImageFormat } from '../../src/models/image.js';
import type { ModelInputSpec } from '../../src/models/types.js';
import { fixturePath } from '../helpers/fixtures.js';

function spec(width: number, height: number, resize: ModelInputSpec['resize'], pad = 114): ModelInputSpec {
  return {
    name: 'x', width, height, layout: 'NCHW', color_order: 'RGB', scale: 1,
    mean: [0, 0, 0], std: [1, 1, 1], resize, pad_value: pad, dynamic_batch: false,
  };
}
const limits = { maxPixels: 40_000_000 };

function solid(width: number, height: number, rgb: [number, number, number]): Sharp {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
}

function px(rgb: Buffer, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 3;
  return [rgb[i], rgb[i + 1], rgb[i + 2]];
}

async function rejection(p: Promise<unknown>): Promise<ImageInputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageInputError);
  return err as ImageInputError;
}

/** A valid 1x1 PNG whose IHDR then claims width × height (CRC fixed, pixels absent). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solid(1, 1, [0, 0, 0]).png().toBuffer());
  // Signature (8) + IHDR length (4) + 'IHDR' (4) → width at 16, height at 20, CRC at 29.
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

let cocoJpeg: Buffer;
beforeAll(async () => {
  cocoJpeg = await readFile(await fixturePath('coco', '000000000139.jpg'));
});

describe('sniffImageFormat', () => {
  it('recognises JPEG, PNG and WebP by content only', async () => {
    expect(sniffImageFormat(cocoJpeg)).toBe('jpeg');
    expect(sniffImageFormat(await solid(2, 2, [1, 2, 3]).png().toBuffer())).toBe('png');
    expect(sniffImageFormat(await solid(2, 2, [1, 2, 3]).webp().toBuffer())).toBe('webp');
    expect(sniffImageFormat(await solid(2, 2, [1, 2, 3]).gif().toBuffer())).toBeUndefined();
    expect(sniffImageFormat(Buffer.from('hello'))).toBeUndefined();
  });
});

describe('decodeImageForModel', () => {
  it('letterboxes: image at the top left, pad_value on the right and bottom', async () => {
    const png = await solid(100, 50, [200, 10, 20]).png().toBuffer();
    const { rgb, transform } = await decodeImageForModel(png, spec(64, 64, 'letterbox', 114), limits);
    expect(rgb.length).toBe(64 * 64 * 3);
    expect(px(rgb, 64, 0, 0)).toEqual([200, 10, 20]);
    expect(px(rgb, 64, 63, 31)).toEqual([200, 10, 20]);
    expect(px(rgb, 64, 0, 32)).toEqual([114, 114, 114]);
    expect(px(rgb, 64, 63, 63)).toEqual([114, 114, 114]);
    expect(transform).toEqual({ sourceWidth: 100, sourceHeight: 50, scaleX: 0.64, scaleY: 0.64, offsetX: 0, offsetY: 0 });
  });

  it('center-crops: keeps the middle of the longer side', async () => {
    // 300x100: blue | green | red thirds; the centred 100x100 crop is green only.
    const thirds = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#0000ff' } })
      .composite([
        { input: await solid(100, 100, [0, 255, 0]).png().toBuffer(), left: 100, top: 0 },
        { input: await solid(100, 100, [255, 0, 0]).png().toBuffer(), left: 200, top: 0 },
      ])
      .png()
      .toBuffer();
    const { rgb, transform } = await decodeImageForModel(thirds, spec(32, 32, 'center_crop'), limits);
    // The crop comes before the resize, so not even the edge columns blend in blue or red.
    for (let x = 0; x < 32; x++) {
      const [r, g, b] = px(rgb, 32, x, 16);
      expect(g, `column ${x}`).toBeGreaterThan(240);
      expect(Math.max(r, b), `column ${x}`).toBeLessThan(15);
    }
    expect(transform.offsetX).toBeCloseTo(-32, 12);
    expect(transform.scaleX).toBeCloseTo(32 / 100, 12);
  });

  it('center-crops the upright picture when EXIF rotates it', async () => {
    // Stored 300x100 (blue | green | red), orientation 6: upright it is 100x300 with the green third in the middle.
    const thirds = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#0000ff' } })
      .composite([
        { input: await solid(100, 100, [0, 255, 0]).png().toBuffer(), left: 100, top: 0 },
        { input: await solid(100, 100, [255, 0, 0]).png().toBuffer(), left: 200, top: 0 },
      ])
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const { rgb, transform } = await decodeImageForModel(thirds, spec(32, 32, 'center_crop'), limits);
    expect(transform).toMatchObject({ sourceWidth: 100, sourceHeight: 300 });
    expect(transform.offsetY).toBeCloseTo(-32, 12);
    for (let y = 2; y < 30; y++) expect(px(rgb, 32, 16, y)[1], `row ${y}`).toBeGreaterThan(200);
  });

  it('applies the EXIF orientation before sizing', async () => {
    const jpeg = await solid(200, 100, [90, 90, 90]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { transform } = await decodeImageForModel(jpeg, spec(32, 32, 'stretch'), limits);
    expect([transform.sourceWidth, transform.sourceHeight]).toEqual([100, 200]);
  });

  it('flattens transparency and always returns 3 channels', async () => {
    const rgba = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const { rgb } = await decodeImageForModel(rgba, spec(8, 8, 'stretch'), limits);
    expect(rgb.length).toBe(8 * 8 * 3);
    expect(px(rgb, 8, 4, 4)).toEqual([255, 255, 255]);
  });

  it('decodes a real COCO photo and a WebP', async () => {
    const { rgb, transform } = await decodeImageForModel(cocoJpeg, spec(416, 416, 'letterbox'), limits);
    expect(rgb.length).toBe(416 * 416 * 3);
    expect([transform.sourceWidth, transform.sourceHeight]).toEqual([640, 426]);
    const webp = await sharp(cocoJpeg).webp().toBuffer();
    expect((await decodeImageForModel(webp, spec(32, 32, 'center_crop'), limits)).rgb.length).toBe(32 * 32 * 3);
  });

  it('415 for something that is not an image', async () => {
    const err = await rejection(decodeImageForModel(Buffer.from('{"not":"an image"}'), spec(8, 8, 'stretch'), limits));
    expect(err.status).toBe(415);
  });

  it('415 for a GIF, a real image in a format we do not accept', async () => {
    const gif = await solid(8, 8, [1, 2, 3]).gif().toBuffer();
    const err = await rejection(decodeImageForModel(gif, spec(8, 8, 'stretch'), limits));
    expect(err.status).toBe(415);
    expect(err.message).toMatch(/JPEG, PNG or WebP/);
  });

  it('422 for a truncated JPEG', async () => {
    const cut = cocoJpeg.subarray(0, Math.floor(cocoJpeg.length / 2));
    const err = await rejection(decodeImageForModel(cut, spec(224, 224, 'center_crop'), limits));
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/unreadable jpeg/);
  });

  it('422 for a PNG whose header claims 20000x20000, refused from the header alone', async () => {
    const bomb = await pngClaiming(20000, 20000);
    expect(bomb.length).toBeLessThan(200);
    const err = await rejection(decodeImageForModel(bomb, spec(224, 224, 'center_crop'), limits));
    expect(err.status).toBe(422);
    // The size message, not a decode error: the pixels were never decoded.
    expect(err.message).toBe('image is 20000x20000 = 400000000 pixels, more than the limit of 40000000');
  });

  it('422 for an image just over a small pixel limit, and accepts one at the limit', async () => {
    const png = await solid(10, 10, [5, 5, 5]).png().toBuffer();
    expect((await rejection(decodeImageForModel(png, spec(8, 8, 'stretch'), { maxPixels: 99 }))).status).toBe(422);
    expect((await decodeImageForModel(png, spec(8, 8, 'stretch'), { maxPixels: 100 })).rgb.length).toBe(8 * 8 * 3);
  });
});
