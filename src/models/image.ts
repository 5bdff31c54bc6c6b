/**
 * Still images (POST /predict) → packed RGB at model geometry, with the same
 * resize semantics as the ffmpeg path (geometry.ts). The header is checked
 * before any pixel is decoded, so a small file claiming a huge size (a
 * decompression bomb) is refused without allocating its pixels.
 */
import sharp, { type OutputInfo } from 'sharp';
import { inputTransform, resizePlan } from './geometry.js';
import type { InputTransform, ModelInputSpec } from './types.js';

export class ImageInputError extends Error {
  override name = 'ImageInputError';
  /** HTTP status: 415 unsupported media type, 422 unreadable or too large. */
  readonly status: 415 | 422;
  constructor(status: 415 | 422, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** Format by magic bytes: what the content is, not what the client says it is. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (
    bytes.length >= 8 &&
    bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47 &&
    bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a
  ) {
    return 'png';
  }
  if (
    bytes.length >= 12 &&
    bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46 &&
    bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50
  ) {
    return 'webp';
  }
  return undefined;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
}

const JPEG_EOI = Buffer.from([0xff, 0xd9]);
const JPEG_SOS = Buffer.from([0xff, 0xda]);

/**
 * Whether a JPEG's last scan is followed by its end-of-image marker. Inside
 * entropy-coded data 0xFF is always stuffed (FF 00) or a restart marker, so
 * FF D9 after the last start-of-scan is the real end; embedded thumbnails end
 * before the first scan.
 */
export function hasJpegEnd(bytes: Buffer): boolean {
  return bytes.lastIndexOf(JPEG_EOI) > bytes.lastIndexOf(JPEG_SOS);
}

export interface DecodedImage {
  /** Packed RGB, HWC, input.width × input.height × 3 bytes. */
  rgb: Buffer;
  transform: InputTransform;
}

export async function decodeImageForModel(
  bytes: Buffer,
  input: ModelInputSpec,
  limits: { maxPixels: number },
): Promise<DecodedImage> {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    throw new ImageInputError(415, 'unsupported image format: send JPEG, PNG or WebP');
  }
  // libjpeg's shrink-on-load (used for model-sized resizes) can decode a cut-off
  // baseline JPEG without noticing; the missing end-of-image marker does not lie.
  if (format === 'jpeg' && !hasJpegEnd(bytes)) {
    throw new ImageInputError(422, 'unreadable jpeg image: truncated (no end-of-image marker after the last scan)');
  }
  // failOn 'truncated': a cut-off file is an error, not a half-grey image.
  const options = { limitInputPixels: limits.maxPixels, failOn: 'truncated' as const };

  let width: number;
  let height: number;
  let orientation: number | undefined;
  try {
    const meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
    if (meta.format !== format) {
      throw new ImageInputError(415, `unsupported image format ${String(meta.format)}: send JPEG, PNG or WebP`);
    }
    width = meta.width;
    height = meta.height;
    orientation = meta.orientation;
  } catch (err) {
    if (err instanceof ImageInputError) throw err;
    throw new ImageInputError(422, `unreadable ${format} image: ${reason(err)}`, { cause: err });
  }
  if (!(width > 0 && height > 0)) {
    throw new ImageInputError(422, `unreadable ${format} image: no size in header`);
  }
  if (width * height > limits.maxPixels) {
    throw new ImageInputError(
      422,
      `image is ${width}x${height} = ${width * height} pixels, more than the limit of ${limits.maxPixels}`,
    );
  }
  // EXIF orientations 5–8 rotate by 90°: the upright image has swapped sides.
  const swap = orientation !== undefined && orientation >= 5 && orientation <= 8;
  const srcW = swap ? height : width;
  const srcH = swap ? width : height;
  const plan = resizePlan(input, srcW, srcH);

  let pipeline = sharp(bytes, options)
    .autoOrient()
    // Transparent areas become white, as a viewer would show them.
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb');
  // extract before resize: sharp crops the upright source first, as ffmpeg does.
  if (input.resize === 'center_crop') pipeline = pipeline.extract({ left: plan.cropLeft, top: plan.cropTop, width: plan.cropWidth, height: plan.cropHeight });
  pipeline = pipeline.resize(plan.scaledWidth, plan.scaledHeight, { fit: 'fill' });
  if (plan.padRight > 0 || plan.padBottom > 0) {
    const v = input.pad_value;
    pipeline = pipeline.extend({ right: plan.padRight, bottom: plan.padBottom, background: { r: v, g: v, b: v } });
  }
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new ImageInputError(422, `unreadable ${format} image: ${reason(err)}`, { cause: err });
  }
  if (info.width !== input.width || info.height !== input.height || info.channels !== 3) {
    throw new ImageInputError(
      422,
      `image decoded to ${info.width}x${info.height}x${info.channels}, expected ${input.width}x${input.height}x3`,
    );
  }
  return { rgb: data, transform: inputTransform(input, srcW, srcH) };
}
