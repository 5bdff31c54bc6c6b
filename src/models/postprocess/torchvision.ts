/**
 * torchvision detection exports (Faster R-CNN and friends): one image per run,
 * outputs `boxes [N,4]` (xyxy, input pixels), `labels [N]` (int64 COCO ids)
 * and `scores [N]`, already thresholded and NMS'd inside the graph.
 */
import { detectorOutput } from './detections.js';
import type { Candidate } from './nms.js';
import { floatData, outputAt } from './outputs.js';
import type { OutputDecoderImpl } from './types.js';

export const torchvisionDetectionDecoder: OutputDecoderImpl = {
  decode(outputs, batchIndex, ctx) {
    if (batchIndex !== 0) throw new RangeError('torchvision detection models take one image per run (batch index 0)');
    const boxes = floatData(outputAt(outputs, ctx.spec.outputs, 0), 'boxes');
    const labels = outputAt(outputs, ctx.spec.outputs, 1).data;
    const scores = floatData(outputAt(outputs, ctx.spec.outputs, 2), 'scores');
    const n = scores.length;
    if (boxes.length !== n * 4 || labels.length !== n) {
      throw new Error(`torchvision outputs disagree: ${boxes.length / 4} boxes, ${labels.length} labels, ${n} scores`);
    }
    const person = ctx.spec.person_class_id;
    const threshold = ctx.options.detectionScoreThreshold;
    const candidates: Candidate[] = [];
    let personScore = 0;
    for (let i = 0; i < n; i++) {
      const classId = Number(labels[i]);
      const score = scores[i];
      if (classId === person && score > personScore) personScore = score;
      if (score < threshold) continue;
      candidates.push({
        classId,
        score,
        box: [boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]],
      });
    }
    return detectorOutput(candidates, personScore, ctx);
  },
};
