/**
 * YOLOX raw head output `[batch, anchors, 5 + classes]` → detections.
 * Each anchor is a cell of the stride-8/16/32 grids, row-major, finest first:
 * cx = (x + gx)·s, cy = (y + gy)·s, w = e^w·s, h = e^h·s; score = obj × cls.
 */
import type { ModelSpec } from '../types.js';
import { detectorOutput } from './detections.js';
import type { Candidate } from './nms.js';
import { floatData, outputAt } from './outputs.js';
import type { OutputDecoderImpl } from './types.js';

interface Grid {
  gx: Int32Array;
  gy: Int32Array;
  stride: Int32Array;
}

const grids = new WeakMap<ModelSpec, Grid>();

function gridFor(spec: ModelSpec): Grid {
  let g = grids.get(spec);
  if (g === undefined) {
    const strides = spec.strides ?? [8, 16, 32];
    let n = 0;
    for (const s of strides) n += Math.floor(spec.input.width / s) * Math.floor(spec.input.height / s);
    g = { gx: new Int32Array(n), gy: new Int32Array(n), stride: new Int32Array(n) };
    let i = 0;
    for (const s of strides) {
      const w = Math.floor(spec.input.width / s);
      const h = Math.floor(spec.input.height / s);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++, i++) {
          g.gx[i] = x;
          g.gy[i] = y;
          g.stride[i] = s;
        }
      }
    }
    grids.set(spec, g);
  }
  return g;
}

export const yoloxDecoder: OutputDecoderImpl = {
  decode(outputs, batchIndex, ctx) {
    const t = outputAt(outputs, ctx.spec.outputs, 0);
    const data = floatData(t, 'YOLOX output');
    const [batch, anchors, width] = t.dims.length === 3 ? t.dims : [1, t.dims[0], t.dims[1]];
    const grid = gridFor(ctx.spec);
    if (anchors !== grid.stride.length) {
      throw new Error(
        `YOLOX output has ${anchors} anchors, but strides ${String(ctx.spec.strides)} on ` +
          `${ctx.spec.input.width}x${ctx.spec.input.height} give ${grid.stride.length}`,
      );
    }
    if (!(batchIndex >= 0 && batchIndex < batch)) throw new RangeError(`batch index ${batchIndex} outside batch ${batch}`);
    const classes = width - 5;
    const person = ctx.spec.person_class_id;
    const threshold = ctx.options.detectionScoreThreshold;
    const candidates: Candidate[] = [];
    let personScore = 0;
    for (let a = 0, o = batchIndex * anchors * width; a < anchors; a++, o += width) {
      const obj = data[o + 4];
      if (person >= 0 && person < classes) {
        const ps = obj * data[o + 5 + person];
        if (ps > personScore) personScore = ps;
      }
      // Scores are ≤ obj: skip the class scan for anchors that cannot pass.
      if (obj < threshold) continue;
      let box: [number, number, number, number] | undefined;
      for (let c = 0; c < classes; c++) {
        const score = obj * data[o + 5 + c];
        if (score < threshold) continue;
        if (box === undefined) {
          const s = grid.stride[a];
          const cx = (data[o] + grid.gx[a]) * s;
          const cy = (data[o + 1] + grid.gy[a]) * s;
          const w = Math.exp(data[o + 2]) * s;
          const h = Math.exp(data[o + 3]) * s;
          box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
        }
        candidates.push({ classId: c, score, box });
      }
    }
    return detectorOutput(candidates, personScore, ctx);
  },
};
