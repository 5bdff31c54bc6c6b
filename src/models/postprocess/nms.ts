/** Greedy, class-aware non-maximum suppression over candidate boxes. */

export interface Candidate {
  classId: number;
  score: number;
  /** [x1, y1, x2, y2] */
  box: [number, number, number, number];
}

export function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Keeps the best-scoring boxes; a box is dropped when a kept box of the SAME
 * class overlaps it by more than `iouThreshold`. Returns at most `maxKeep`,
 * best first. Boxes of different classes never suppress each other.
 */
export function nms(candidates: readonly Candidate[], iouThreshold: number, maxKeep = Infinity): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    let suppressed = false;
    for (const k of kept) {
      if (k.classId === c.classId && iou(k.box, c.box) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push(c);
  }
  return kept;
}
