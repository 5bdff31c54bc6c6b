/**
 * Uploads cut short at 95 % (the fuzzer's case that used to be answered 200)
 * are refused as invalid images, baseline and progressive, through the same
 * decode the /predict route uses, with a model-sized resize (where libjpeg's
 * shrink-on-load could otherwise hide the missing end).
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImageForModel, ImageInputError } from '../../src/models/image.js';
import type { ModelInputSpec } from '../../src/models/types.js';
import { fixturePath } from '../helpers/fixtures.js';

const PHOTOS = ['000000000139.jpg', '000000000632.jpg', '000000000776.jpg', '000000000885.jpg', '000000004134.jpg'];
const input = { width: 224, height: 224, resize: 'center_crop', pad_value: 0 } as unknown as ModelInputSpec;

async function statusOf(bytes: Buffer): Promise<number> {
  try {
    await decodeImageForModel(bytes, input, { maxPixels: 40_000_000 });
    return 200;
  } catch (err) {
    if (err instanceof ImageInputError) return err.status;
    throw err;
  }
}

describe('truncated JPEG uploads', () => {
  it.each(PHOTOS)('%s cut at 95 percent is refused (baseline and progressive); whole, it decodes', async (name) => {
    const baseline = await readFile(await fixturePath('coco', name));
    const progressive = await sharp(baseline).jpeg({ progressive: true, quality: 90 }).toBuffer();
    for (const whole of [baseline, progressive]) {
      expect(await statusOf(whole)).toBe(200);
      expect(await statusOf(whole.subarray(0, Math.floor(whole.length * 0.95)))).toBe(422);
    }
  });
});
