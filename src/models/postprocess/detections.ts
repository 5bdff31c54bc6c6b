/**
 * What every detector decoder returns once it has candidate boxes: NMS, boxes
 * mapped to source pixels, and the person summary (`person`/`no_person`
 * predictions and `has_person`) that the service's clients rely on.
 */
import { mapBoxToSource } from '../geometry.js';
import type { Detection, InferenceOutput } from '../types.js';
import { nms, type Candidate } from './nms.js';
import { labelFor } from './outputs.js';
import type { DecodeContext } from './types.js';

/** Most detections reported per image. */
export const MAX_DETECTIONS = 100;

/**
 * @param candidates boxes in model-input pixels with score ≥ the detection threshold
 * @param personScore the best person score over ALL boxes (also below the threshold)
 */
export function detectorOutput(candidates: readonly Candidate[], personScore: number, ctx: DecodeContext): InferenceOutput {
  const kept = nms(candidates, ctx.options.nmsIouThreshold, MAX_DETECTIONS);
  const detections: Detection[] = kept.map((c) => ({
    label: labelFor(ctx.labels, c.classId),
    class_id: c.classId,
    score: c.score,
    box: mapBoxToSource(c.box, ctx.transform),
  }));
  const s = Math.max(0, Math.min(1, personScore));
  return {
    predictions: [
      { label: 'person', score: s },
      { label: 'no_person', score: 1 - s },
    ],
    has_person: s >= ctx.options.personScoreThreshold,
    detections,
  };
}
