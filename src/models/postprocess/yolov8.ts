/**
 * YOLOv8-style output `[batch, 4 + classes, anchors]` (channels first):
 * cx, cy, w, h already in model-input pixels, then class scores; no objectness.
 */
import { detectorOutput } from './detections.js';
import type { Candidate } from './nms.js';
import { floatData, outputAt } from './outputs.js';
import type { OutputDecoderImpl } from './types.js';

export const yolov8Decoder: OutputDecoderImpl = {
  decode(outputs, batchIndex, ctx) {
    const t = outputAt(outputs, ctx.spec.outputs, 0);
    const data = floatData(t, 'YOLOv8 output');
    const [batch, channels, anchors] = t.dims.length === 3 ? t.dims : [1, t.dims[0], t.dims[1]];
    if (!(batchIndex >= 0 && batchIndex < batch)) throw new RangeError(`batch index ${batchIndex} outside batch ${batch}`);
    const classes = channels - 4;
    const base = batchIndex * channels * anchors;
    const person = ctx.spec.person_class_id;
    const threshold = ctx.options.detectionScoreThreshold;
    const candidates: Candidate[] = [];
    let personScore = 0;
    for (let a = 0; a < anchors; a++) {
      if (person >= 0 && person < classes) {
        const ps = data[base + (4 + person) * anchors + a];
        if (ps > personScore) personScore = ps;
      }
      let box: [number, number, number, number] | undefined;
      for (let c = 0; c < classes; c++) {
        const score = data[base + (4 + c) * anchors + a];
        if (score < threshold) continue;
        if (box === undefined) {
          const cx = data[base + a];
          const cy = data[base + anchors + a];
          const w = data[base + 2 * anchors + a];
          const h = data[base + 3 * anchors + a];
          box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
        }
        candidates.push({ classId: c, score, box });
      }
    }
    return detectorOutput(candidates, personScore, ctx);
  },
};
