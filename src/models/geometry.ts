/**
 * How a source image of any size becomes the model's input rectangle.
 * The ffmpeg filters (ingest) and the still-image path (image.ts) both follow
 * these exact semantics, so a box maps back the same way whichever path
 * produced the pixels:
 * - center_crop: scale so the SHORTER side equals the target, crop the centre;
 * - letterbox:   scale to fit keeping aspect, pad right and bottom only;
 * - stretch:     scale each axis independently to the target.
 */
import type { InputTransform, ModelInputSpec } from './types.js';

/** Integer resize/crop/pad steps, as a resizer or an ffmpeg filter chain would run them. */
export interface ResizePlan {
  /** Size after the resize step, before crop or pad. */
  scaledWidth: number;
  scaledHeight: number;
  /** Crop offsets into the scaled image (center_crop only, else 0). */
  cropLeft: number;
  cropTop: number;
  /** Padding added on the right and bottom (letterbox only, else 0). */
  padRight: number;
  padBottom: number;
}

type Geometry = Pick<ModelInputSpec, 'width' | 'height' | 'resize'>;

function checkSize(what: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) {
    throw new RangeError(`${what} size must be positive integers, got ${w}x${h}`);
  }
}

export function resizePlan(input: Geometry, sourceWidth: number, sourceHeight: number): ResizePlan {
  checkSize('source', sourceWidth, sourceHeight);
  checkSize('model input', input.width, input.height);
  const tw = input.width;
  const th = input.height;
  switch (input.resize) {
    case 'center_crop': {
      const s = Math.max(tw / sourceWidth, th / sourceHeight);
      // Rounded, but never below the target, so the crop always fits.
      const sw = Math.max(tw, Math.round(sourceWidth * s));
      const sh = Math.max(th, Math.round(sourceHeight * s));
      return {
        scaledWidth: sw,
        scaledHeight: sh,
        cropLeft: Math.floor((sw - tw) / 2),
        cropTop: Math.floor((sh - th) / 2),
        padRight: 0,
        padBottom: 0,
      };
    }
    case 'letterbox': {
      const s = Math.min(tw / sourceWidth, th / sourceHeight);
      // At least one pixel, at most the target, whatever the aspect ratio.
      const sw = Math.min(tw, Math.max(1, Math.round(sourceWidth * s)));
      const sh = Math.min(th, Math.max(1, Math.round(sourceHeight * s)));
      return { scaledWidth: sw, scaledHeight: sh, cropLeft: 0, cropTop: 0, padRight: tw - sw, padBottom: th - sh };
    }
    case 'stretch':
      return { scaledWidth: tw, scaledHeight: th, cropLeft: 0, cropTop: 0, padRight: 0, padBottom: 0 };
    default: {
      const never: never = input.resize;
      throw new RangeError(`unknown resize mode ${String(never)}`);
    }
  }
}

export function inputTransform(input: ModelInputSpec, sourceWidth: number, sourceHeight: number): InputTransform {
  const plan = resizePlan(input, sourceWidth, sourceHeight);
  return {
    sourceWidth,
    sourceHeight,
    scaleX: plan.scaledWidth / sourceWidth,
    scaleY: plan.scaledHeight / sourceHeight,
    offsetX: 0 - plan.cropLeft, // 0 - 0 is +0, not -0
    offsetY: 0 - plan.cropTop,
  };
}

/** The transform of a frame already at model geometry (identity). */
export function identityTransform(width: number, height: number): InputTransform {
  return { sourceWidth: width, sourceHeight: height, scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** A box [x1,y1,x2,y2] in model-input pixels → source pixels, clamped to the source. */
export function mapBoxToSource(
  box: readonly [number, number, number, number],
  t: InputTransform,
): [number, number, number, number] {
  return [
    clamp((box[0] - t.offsetX) / t.scaleX, 0, t.sourceWidth),
    clamp((box[1] - t.offsetY) / t.scaleY, 0, t.sourceHeight),
    clamp((box[2] - t.offsetX) / t.scaleX, 0, t.sourceWidth),
    clamp((box[3] - t.offsetY) / t.scaleY, 0, t.sourceHeight),
  ];
}
