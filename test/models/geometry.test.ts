import { describe, expect, it } from 'vitest';
import { identityTransform, inputTransform, mapBoxToSource, resizePlan } from '../../src/models/geometry.js';
import type { ModelInputSpec } from '../../src/models/types.js';

function spec(width: number, height: number, resize: ModelInputSpec['resize']): ModelInputSpec {
  return {
    name: 'x', width, height, layout: 'NCHW', color_order: 'RGB', scale: 1,
    mean: [0, 0, 0], std: [1, 1, 1], resize, pad_value: 114, dynamic_batch: false,
  };
}

describe('resizePlan / inputTransform', () => {
  it('center_crop crops the centre at the target aspect ratio, then scales only that (landscape)', () => {
    const s = spec(224, 224, 'center_crop');
    expect(resizePlan(s, 640, 480)).toEqual({
      cropLeft: 80, cropTop: 0, cropWidth: 480, cropHeight: 480, scaledWidth: 224, scaledHeight: 224, padRight: 0, padBottom: 0,
    });
    const t = inputTransform(s, 640, 480);
    expect(t.scaleX).toBeCloseTo(224 / 480, 12);
    expect(t.scaleY).toBeCloseTo(224 / 480, 12);
    expect(t.offsetX).toBeCloseTo(-80 * 224 / 480, 12);
    expect(t.offsetY).toBe(0);
  });

  it('center_crop on a portrait source crops top and bottom', () => {
    const p = resizePlan(spec(224, 224, 'center_crop'), 480, 640);
    expect(p).toMatchObject({ cropLeft: 0, cropTop: 80, cropWidth: 480, cropHeight: 480, scaledWidth: 224, scaledHeight: 224 });
  });

  it('center_crop on a non-square target keeps the whole axis that binds and rounds the other inside the source', () => {
    // 100x100 into 200x50: the full width, a centred 100x25 band (floor of the odd margin).
    expect(resizePlan(spec(200, 50, 'center_crop'), 100, 100)).toMatchObject({ cropLeft: 0, cropTop: 37, cropWidth: 100, cropHeight: 25 });
    // 641x359 into 224x224: 359 square, 141 columns each side.
    expect(resizePlan(spec(224, 224, 'center_crop'), 641, 359)).toMatchObject({ cropLeft: 141, cropTop: 0, cropWidth: 359, cropHeight: 359 });
    // A source smaller than the target is cropped the same way, then upscaled.
    expect(resizePlan(spec(224, 224, 'center_crop'), 30, 10)).toMatchObject({ cropLeft: 10, cropWidth: 10, cropHeight: 10, scaledWidth: 224 });
  });

  it('letterbox fits the whole source and pads right/bottom only', () => {
    const s = spec(416, 416, 'letterbox');
    expect(resizePlan(s, 640, 480)).toEqual({
      cropLeft: 0, cropTop: 0, cropWidth: 640, cropHeight: 480, scaledWidth: 416, scaledHeight: 312, padRight: 0, padBottom: 104,
    });
    expect(resizePlan(s, 480, 640)).toMatchObject({ scaledWidth: 312, scaledHeight: 416, padRight: 104, padBottom: 0 });
    const t = inputTransform(s, 640, 480);
    expect(t).toEqual({ sourceWidth: 640, sourceHeight: 480, scaleX: 0.65, scaleY: 0.65, offsetX: 0, offsetY: 0 });
  });

  it('letterbox of an extreme aspect ratio keeps at least one pixel', () => {
    expect(resizePlan(spec(416, 416, 'letterbox'), 10000, 1)).toMatchObject({ scaledWidth: 416, scaledHeight: 1, padBottom: 415 });
  });

  it('stretch scales each axis on its own', () => {
    const t = inputTransform(spec(416, 208, 'stretch'), 832, 832);
    expect(t.scaleX).toBe(0.5);
    expect(t.scaleY).toBe(0.25);
    expect(resizePlan(spec(416, 208, 'stretch'), 832, 832)).toMatchObject({ padRight: 0, padBottom: 0, cropLeft: 0 });
  });

  it('rejects empty or fractional sizes', () => {
    expect(() => resizePlan(spec(224, 224, 'stretch'), 0, 10)).toThrow(/source size/);
    expect(() => resizePlan(spec(224, 224, 'stretch'), 10.5, 10)).toThrow(RangeError);
  });
});

describe('mapBoxToSource', () => {
  it('inverts a letterbox and clamps the part of a box that lies in the padding', () => {
    const t = inputTransform(spec(416, 416, 'letterbox'), 640, 480);
    const box = mapBoxToSource([65, 13, 416, 416], t);
    expect(box[0]).toBeCloseTo(100, 9);
    expect(box[1]).toBeCloseTo(20, 9);
    expect(box[2]).toBeCloseTo(640, 9);
    expect(box[3]).toBe(480); // 640 in source units, clamped to the image
  });

  it('inverts a centre crop, including the crop offset', () => {
    const t = inputTransform(spec(224, 224, 'center_crop'), 640, 480);
    const [x1, y1, x2, y2] = mapBoxToSource([0, 0, 224, 224], t);
    expect(x1).toBeCloseTo(80, 9);
    expect(x2).toBeCloseTo(560, 9);
    expect(y1).toBe(0);
    expect(y2).toBeCloseTo(480, 9);
  });

  it('clamps negative coordinates to 0', () => {
    expect(mapBoxToSource([-10, -5, 5, 5], identityTransform(100, 100))).toEqual([0, 0, 5, 5]);
  });
});
