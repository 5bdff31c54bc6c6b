import { describe, expect, it } from 'vitest';
import { iou, nms, type Candidate } from '../../src/models/postprocess/nms.js';

const c = (classId: number, score: number, box: [number, number, number, number]): Candidate => ({ classId, score, box });

describe('iou', () => {
  it('is 1 for equal boxes, 0 for disjoint or touching ones, and exact for partial overlap', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    // Overlap 5x10 = 50; union 100 + 100 - 50 = 150.
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 12);
  });
});

describe('nms', () => {
  it('suppresses a lower-scoring box of the same class that overlaps above the threshold', () => {
    const kept = nms([c(0, 0.5, [1, 0, 11, 10]), c(0, 0.9, [0, 0, 10, 10])], 0.45);
    expect(kept).toEqual([c(0, 0.9, [0, 0, 10, 10])]);
  });

  it('keeps overlapping boxes of different classes', () => {
    const kept = nms([c(0, 0.9, [0, 0, 10, 10]), c(1, 0.8, [0, 0, 10, 10])], 0.45);
    expect(kept.map((k) => k.classId)).toEqual([0, 1]);
  });

  it('keeps same-class boxes whose overlap is at or below the threshold', () => {
    const kept = nms([c(0, 0.9, [0, 0, 10, 10]), c(0, 0.8, [5, 0, 15, 10])], 0.34);
    expect(kept).toHaveLength(2);
    expect(nms([c(0, 0.9, [0, 0, 10, 10]), c(0, 0.8, [5, 0, 15, 10])], 0.3)).toHaveLength(1);
  });

  it('returns best first and at most maxKeep, leaving the input untouched', () => {
    const input = [c(0, 0.1, [0, 0, 1, 1]), c(0, 0.3, [10, 10, 11, 11]), c(0, 0.2, [20, 20, 21, 21])];
    const kept = nms(input, 0.5, 2);
    expect(kept.map((k) => k.score)).toEqual([0.3, 0.2]);
    expect(input.map((k) => k.score)).toEqual([0.1, 0.3, 0.2]);
  });
});
