import { describe, expect, it } from 'vitest';
import { inputTransform, identityTransform } from '../../src/models/geometry.js';
import { getDecoder, MAX_DETECTIONS, softmaxTopK, type DecodeContext } from '../../src/models/postprocess/index.js';
import type { ModelSpec, PostprocessOptions } from '../../src/models/types.js';

const options: PostprocessOptions = { topK: 3, personScoreThreshold: 0.6, detectionScoreThreshold: 0.3, nmsIouThreshold: 0.45 };

function spec(over: Partial<ModelSpec>): ModelSpec {
  return {
    name: 't', description: '', task: 'detection', file: 'x.onnx', sha256: '', urls: [],
    input: {
      name: 'images', width: 64, height: 64, layout: 'NCHW', color_order: 'BGR', scale: 1,
      mean: [0, 0, 0], std: [1, 1, 1], resize: 'letterbox', pad_value: 114, dynamic_batch: false,
    },
    decoder: 'yolox', outputs: [], labels_file: 'l.txt', labels_format: 'lines', person_class_id: 0,
    strides: [8, 16, 32], ...over,
  };
}

function ctx(s: ModelSpec, labels: string[], transform = identityTransform(s.input.width, s.input.height)): DecodeContext {
  return { spec: s, labels, transform, options };
}

describe('softmax decoder', () => {
  it('returns top-k labels with softmax probabilities for the requested batch row', () => {
    const s = spec({ task: 'classification', decoder: 'softmax', person_class_id: -1 });
    const logits = Float32Array.from([9, 0, 0, 0, /* row 1 */ 0, Math.log(2), Math.log(4), Math.log(1)]);
    const out = getDecoder('softmax').decode({ output: { data: logits, dims: [2, 4] } }, 1, ctx(s, ['a', 'b', 'c', 'd']));
    expect(out.predictions.map((p) => p.label)).toEqual(['c', 'b', 'a']);
    expect(out.predictions[0].score).toBeCloseTo(4 / 8, 6);
    expect(out.predictions[1].score).toBeCloseTo(2 / 8, 6);
    expect(out.has_person).toBeUndefined();
  });

  it('stays finite for large logits', () => {
    const top = softmaxTopK(Float32Array.from([1000, 1001, -1000]), 2);
    expect(top.map((t) => t.index)).toEqual([1, 0]);
    expect(top[0].score + top[1].score).toBeCloseTo(1, 6);
  });

  it('names a missing output', () => {
    const s = spec({ task: 'classification', decoder: 'softmax', outputs: ['logits'], person_class_id: -1 });
    expect(() => getDecoder('softmax').decode({ other: { data: new Float32Array(4), dims: [1, 4] } }, 0, ctx(s, []))).toThrow(
      /'logits' missing; the model returned: other/,
    );
  });
});

describe('yolox decoder', () => {
  // 64x64 input, strides 8/16/32 → 64 + 16 + 4 = 84 anchors; 2 classes (person, dog).
  const s = spec({});
  const anchors = 84;
  const width = 5 + 2;
  function output(): Float32Array {
    return new Float32Array(anchors * width).fill(-10).map((v, i) => (i % width >= 4 ? 0 : v));
  }
  function put(data: Float32Array, anchor: number, v: number[]): void {
    data.set(v, anchor * width);
  }

  it('decodes grid/stride boxes, applies class-aware NMS and maps boxes to the source', () => {
    const data = output();
    // Stride 8, cell (gx 3, gy 2) = anchor 19: cx = 3.5·8 = 28, cy = 20, w = 16, h = 32.
    put(data, 19, [0.5, 0.5, Math.log(2), Math.log(4), 0.9, 0.8, 0.1]);
    // Same place, lower score, same class: suppressed. Anchor 20 is cell (4, 2).
    put(data, 20, [-0.5, 0.5, Math.log(2), Math.log(4), 0.8, 0.8, 0.0]);
    // Same box, other class: kept.
    put(data, 27, [0.5, -0.5, Math.log(2), Math.log(4), 0.9, 0.0, 0.5]);
    // Stride 32 cell (1, 1) = anchor 64 + 16 + 3 = 83: person below the detection threshold.
    put(data, 83, [0, 0, 0, 0, 0.5, 0.4, 0]);
    // Source 128x64 letterboxed into 64x64: scale 0.5, bottom half padding.
    const c = ctx(s, ['person', 'dog'], inputTransform(s.input, 128, 64));
    const out = getDecoder('yolox').decode({ output: { data, dims: [1, anchors, width] } }, 0, c);
    expect(out.has_person).toBe(true);
    expect(out.predictions[0]).toEqual({ label: 'person', score: expect.closeTo(0.72, 6) as number });
    expect(out.predictions[1].score).toBeCloseTo(0.28, 6);
    expect(out.detections).toHaveLength(2);
    const [p, d] = out.detections!;
    expect(p).toMatchObject({ label: 'person', class_id: 0 });
    expect(p.box.map((v) => Math.round(v * 1000) / 1000)).toEqual([40, 8, 72, 64]); // y2 72 clamped to 64
    expect(d).toMatchObject({ label: 'dog', class_id: 1, score: expect.closeTo(0.45, 6) as number });
  });

  it('reports no person, with its low score, when none passes the threshold', () => {
    const data = output();
    put(data, 0, [0, 0, 0, 0, 0.1, 0.2, 0.9]);
    const out = getDecoder('yolox').decode({ output: { data, dims: [1, anchors, width] } }, 0, ctx(s, ['person', 'dog']));
    expect(out.has_person).toBe(false);
    expect(out.predictions).toEqual([
      { label: 'person', score: expect.closeTo(0.02, 6) as number },
      { label: 'no_person', score: expect.closeTo(0.98, 6) as number },
    ]);
    expect(out.detections).toEqual([]);
  });

  it('caps the number of detections', () => {
    const data = output();
    for (let a = 0; a < anchors; a++) put(data, a, [0, 0, -3, -3, 1, 0.9, 0.9]); // tiny boxes, no overlaps
    const out = getDecoder('yolox').decode({ output: { data, dims: [1, anchors, width] } }, 0, ctx(s, ['person', 'dog']));
    expect(out.detections).toHaveLength(Math.min(MAX_DETECTIONS, anchors * 2));
  });

  it('refuses an output whose anchor count does not match the strides', () => {
    const data = new Float32Array(10 * width);
    expect(() => getDecoder('yolox').decode({ output: { data, dims: [1, 10, width] } }, 0, ctx(s, []))).toThrow(/10 anchors/);
  });
});

describe('yolov8 decoder', () => {
  it('reads channel-first [1, 4+nc, N] boxes in input pixels without objectness', () => {
    const s = spec({ decoder: 'yolov8' });
    const n = 3;
    const nc = 2;
    const data = new Float32Array((4 + nc) * n);
    const set = (ch: number, a: number, v: number): void => void (data[ch * n + a] = v);
    // Anchor 1: cx 20, cy 30, w 10, h 20, person 0.7.
    [20, 30, 10, 20, 0.7, 0.1].forEach((v, ch) => set(ch, 1, v));
    // Anchor 2: dog 0.5 elsewhere.
    [50, 50, 4, 4, 0.05, 0.5].forEach((v, ch) => set(ch, 2, v));
    const out = getDecoder('yolov8').decode({ output0: { data, dims: [1, 4 + nc, n] } }, 0, ctx(s, ['person', 'dog']));
    expect(out.has_person).toBe(true);
    expect(out.predictions[0].score).toBeCloseTo(0.7, 6);
    expect(out.detections!.map((d) => [d.label, d.box])).toEqual([
      ['person', [15, 20, 25, 40]],
      ['dog', [48, 48, 52, 52]],
    ]);
  });
});

describe('torchvision_detection decoder', () => {
  it('reads boxes/labels/scores by name, with int64 COCO ids', () => {
    const s = spec({ decoder: 'torchvision_detection', outputs: ['boxes', 'labels', 'scores'], person_class_id: 1 });
    const labels = ['__background__', 'person', 'bicycle'];
    const outputs = {
      scores: { data: Float32Array.from([0.95, 0.5, 0.2]), dims: [3] },
      labels: { data: BigInt64Array.from([2n, 1n, 1n]), dims: [3] },
      boxes: { data: Float32Array.from([0, 0, 10, 10, 5, 5, 20, 20, 1, 1, 2, 2]), dims: [3, 4] },
    };
    const out = getDecoder('torchvision_detection').decode(outputs, 0, ctx(s, labels));
    expect(out.predictions[0]).toEqual({ label: 'person', score: expect.closeTo(0.5, 6) as number });
    expect(out.has_person).toBe(false); // 0.5 < 0.6
    expect(out.detections!.map((d) => [d.label, d.class_id])).toEqual([['bicycle', 2], ['person', 1]]);
    expect(() => getDecoder('torchvision_detection').decode(outputs, 1, ctx(s, labels))).toThrow(/one image/);
  });
});
