/**
 * Packed RGB (HWC, uint8, at model geometry) → one image of a float input
 * tensor. Runs per frame on the hot path: coefficients are computed once per
 * input spec, and the loop allocates nothing.
 */
import type { ModelInputSpec } from './types.js';

/** out = pixel * mul[c] + add[c], reading source channel src[c]. */
interface Coefficients {
  mul0: number;
  mul1: number;
  mul2: number;
  add0: number;
  add1: number;
  add2: number;
  /** Which RGB channel feeds tensor channel 0/1/2 (colour order). */
  src0: number;
  src1: number;
  src2: number;
}

const cache = new WeakMap<ModelInputSpec, Coefficients>();

function coefficients(input: ModelInputSpec): Coefficients {
  let c = cache.get(input);
  if (c === undefined) {
    const { scale, mean, std } = input;
    for (let i = 0; i < 3; i++) {
      if (!(std[i] !== 0 && Number.isFinite(std[i]))) throw new RangeError(`input.std[${i}] must be a non-zero number`);
    }
    const bgr = input.color_order === 'BGR';
    c = {
      mul0: scale / std[0],
      mul1: scale / std[1],
      mul2: scale / std[2],
      add0: -mean[0] / std[0],
      add1: -mean[1] / std[1],
      add2: -mean[2] / std[2],
      src0: bgr ? 2 : 0,
      src1: 1,
      src2: bgr ? 0 : 2,
    };
    cache.set(input, c);
  }
  return c;
}

/**
 * Writes image `batchIndex` of an NCHW or NHWC float tensor from packed RGB.
 * `rgb` must hold width × height × 3 bytes; `out` at least (batchIndex+1) images.
 */
export function preprocessInto(input: ModelInputSpec, rgb: Uint8Array, out: Float32Array, batchIndex: number): void {
  const plane = input.width * input.height;
  const n = plane * 3;
  if (rgb.length < n) throw new RangeError(`rgb holds ${rgb.length} bytes, need ${n} (${input.width}x${input.height}x3)`);
  const base = batchIndex * n;
  if (!Number.isInteger(batchIndex) || batchIndex < 0 || out.length < base + n) {
    throw new RangeError(`tensor of ${out.length} floats has no image ${batchIndex} of ${n} floats`);
  }
  const { mul0, mul1, mul2, add0, add1, add2, src0, src1, src2 } = coefficients(input);
  if (input.layout === 'NCHW') {
    const p1 = base + plane;
    const p2 = p1 + plane;
    for (let i = 0, s = 0; i < plane; i++, s += 3) {
      out[base + i] = rgb[s + src0] * mul0 + add0;
      out[p1 + i] = rgb[s + src1] * mul1 + add1;
      out[p2 + i] = rgb[s + src2] * mul2 + add2;
    }
  } else {
    for (let s = 0, o = base; s < n; s += 3, o += 3) {
      out[o] = rgb[s + src0] * mul0 + add0;
      out[o + 1] = rgb[s + src1] * mul1 + add1;
      out[o + 2] = rgb[s + src2] * mul2 + add2;
    }
  }
}
