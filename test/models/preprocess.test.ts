import { describe, expect, it } from 'vitest';
import { preprocessInto } from '../../src/models/preprocess.js';
import { inputDims } from '../../src/models/tensor.js';
import type { ModelInputSpec } from '../../src/models/types.js';

function spec(over: Partial<ModelInputSpec>): ModelInputSpec {
  return {
    name: 'input', width: 2, height: 1, layout: 'NCHW', color_order: 'RGB', scale: 1,
    mean: [0, 0, 0], std: [1, 1, 1], resize: 'stretch', pad_value: 0, dynamic_batch: true, ...over,
  };
}

// Two pixels: (10, 20, 30) and (40, 50, 60).
const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60]);

describe('preprocessInto', () => {
  it('writes NCHW planes in RGB order', () => {
    const out = new Float32Array(6);
    preprocessInto(spec({}), rgb, out, 0);
    expect(Array.from(out)).toEqual([10, 40, 20, 50, 30, 60]);
  });

  it('swaps to BGR when the model wants BGR', () => {
    const out = new Float32Array(6);
    preprocessInto(spec({ color_order: 'BGR' }), rgb, out, 0);
    expect(Array.from(out)).toEqual([30, 60, 20, 50, 10, 40]);
  });

  it('writes interleaved NHWC', () => {
    const out = new Float32Array(6);
    preprocessInto(spec({ layout: 'NHWC', color_order: 'BGR' }), rgb, out, 0);
    expect(Array.from(out)).toEqual([30, 20, 10, 60, 50, 40]);
  });

  it('applies scale, then per-channel mean and std in model colour order', () => {
    const s = spec({ scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    const out = new Float32Array(6);
    preprocessInto(s, rgb, out, 0);
    const expected = [
      (10 / 255 - 0.485) / 0.229, (40 / 255 - 0.485) / 0.229,
      (20 / 255 - 0.456) / 0.224, (50 / 255 - 0.456) / 0.224,
      (30 / 255 - 0.406) / 0.225, (60 / 255 - 0.406) / 0.225,
    ];
    expected.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
  });

  it('writes only the slice of image batchIndex', () => {
    const s = spec({});
    const out = new Float32Array(s.width * s.height * 3 * 3).fill(-1);
    preprocessInto(s, rgb, out, 1);
    expect(Array.from(out.subarray(0, 6))).toEqual([-1, -1, -1, -1, -1, -1]);
    expect(Array.from(out.subarray(6, 12))).toEqual([10, 40, 20, 50, 30, 60]);
    expect(Array.from(out.subarray(12))).toEqual([-1, -1, -1, -1, -1, -1]);
  });

  it('refuses a short pixel buffer or a batch index past the tensor', () => {
    expect(() => preprocessInto(spec({}), rgb.subarray(0, 5), new Float32Array(6), 0)).toThrow(/need 6/);
    expect(() => preprocessInto(spec({}), rgb, new Float32Array(6), 1)).toThrow(/no image 1/);
  });
});

describe('inputDims', () => {
  it('gives the tensor shape per layout, batch mode and unbatched exports', () => {
    expect(inputDims(spec({ width: 224, height: 200 }), 4)).toEqual([4, 3, 200, 224]);
    expect(inputDims(spec({ width: 224, height: 200, layout: 'NHWC' }), 2)).toEqual([2, 200, 224, 3]);
    expect(inputDims(spec({ width: 640, height: 480, unbatched: true, dynamic_batch: false }), 1)).toEqual([3, 480, 640]);
    expect(() => inputDims(spec({ dynamic_batch: false }), 2)).toThrow(/fixed batch/);
  });
});
