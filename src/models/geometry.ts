/**
 * How a source image of any size becomes the model's input rectangle.
 * The ffmpeg filters (ingest) and the still-image path (image.ts) both follow
 * these exact semantics, so a box maps back the same way whichever path
 * produced the pixels:
 * - center_crop: crop the source's centre to the target's aspect ratio, scale
 *   that to the target (no pixel is scaled that the model never sees);
 * - letterbox:   scale to fit keeping aspect, pad right and bottom only;
 * - stretch:     scale each axis independently to the target.
 */
import type { InputTransform, ModelInputSpec } from './types.js';

/** Integer resize/crop/pad steps, as a resizer or an ffmpeg filter chain would run them. */
export interface ResizePlan {
  /** The source rectangle that is resized (center_crop: its centre; else the whole source). */
  cropLeft: number;
  cropTop: number;
  cropWidth: number;
  cropHeight: number;
  /** Size after the resize step, before padding. */
  scaledWidth: number;
  scaledHeight: number;
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

function whole(width: number, height: number): Pick<ResizePlan, 'cropLeft' | 'cropTop' | 'cropWidth' | 'cropHeight'> {
  return { cropLeft: 0, cropTop: 0, cropWidth: width, cropHeight: height };
}

export function resizePlan(input: Geometry, sourceWidth: number, sourceHeight: number): ResizePlan {
  checkSize('source', sourceWidth, sourceHeight);
  checkSize('model input', input.width, input.height);
  const tw = input.width;
  const th = input.height;
  switch (input.resize) {
    case 'center_crop': {
      // The largest centred rectangle of the target's aspect ratio (rounded, inside the source).
      const cw = Math.min(sourceWidth, Math.max(1, Math.round((sourceHeight * tw) / th)));
      const ch = Math.min(sourceHeight, Math.max(1, Math.round((sourceWidth * th) / tw)));
      return {
        cropLeft: Math.floor((sourceWidth - cw) / 2),
        cropTop: Math.floor((sourceHeight - ch) / 2),
        cropWidth: cw,
        cropHeight: ch,
        scaledWidth: tw,
        scaledHeight: th,
        padRight: 0,
        padBottom: 0,
      };
    }
    case 'letterbox': {
      const s = Math.min(tw / sourceWidth, th / sourceHeight);
      // At least one pixel, at most the target, whatever the aspect ratio.
      const sw = Math.min(tw, Math.max(1, Math.round(sourceWidth * s)));
      const sh = Math.min(th, Math.max(1, Math.round(sourceHeight * s)));
      return { ...whole(sourceWidth, sourceHeight), scaledWidth: sw, scaledHeight: sh, padRight: tw - sw, padBottom: th - sh };
    }
    case 'stretch':
      return { ...whole(sourceWidth, sourceHeight), scaledWidth: tw, scaledHeight: th, padRight: 0, padBottom: 0 };
    default: {
      const never: never = input.resize;
      throw new RangeError(`unknown resize mode ${String(never)}`);
    }
  }
}

export function inputTransform(input: ModelInputSpec, sourceWidth: number, sourceHeight: number): InputTransform {
  const plan = resizePlan(input, sourceWidth, sourceHeight);
  const scaleX = plan.scaledWidth / plan.cropWidth;
  const scaleY = plan.scaledHeight / plan.cropHeight;
  return {
    sourceWidth,
    sourceHeight,
    scaleX,
    scaleY,
    offsetX: 0 - plan.cropLeft * scaleX, // 0 - 0 is +0, not -0
    offsetY: 0 - plan.cropTop * scaleY,
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
