/** Classifier logits → top-k labels by softmax probability. */
import type { Prediction } from '../types.js';
import { floatData, labelFor, outputAt } from './outputs.js';
import type { OutputDecoderImpl } from './types.js';

/** Top-k (index, probability) of a numerically stable softmax over `row`. */
export function softmaxTopK(row: Float32Array, k: number): { index: number; score: number }[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const kk = Math.min(k, row.length);
  // Insertion into a short sorted list: k is small, the row is not.
  const top: { index: number; logit: number }[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (top.length === kk && v <= top[kk - 1].logit) continue;
    let j = top.length < kk ? top.length : kk - 1;
    while (j > 0 && top[j - 1].logit < v) j--;
    top.splice(j, 0, { index: i, logit: v });
    if (top.length > kk) top.pop();
  }
  return top.map((t) => ({ index: t.index, score: Math.exp(t.logit - max) / sum }));
}

export const softmaxDecoder: OutputDecoderImpl = {
  decode(outputs, batchIndex, ctx) {
    const t = outputAt(outputs, ctx.spec.outputs, 0);
    const data = floatData(t, 'classifier output');
    const classes = t.dims[t.dims.length - 1];
    const rows = data.length / classes;
    if (!(batchIndex >= 0 && batchIndex < rows)) throw new RangeError(`batch index ${batchIndex} outside ${rows} rows`);
    const row = data.subarray(batchIndex * classes, (batchIndex + 1) * classes);
    const predictions: Prediction[] = softmaxTopK(row, ctx.options.topK).map((p) => ({
      label: labelFor(ctx.labels, p.index),
      score: p.score,
    }));
    return { predictions };
  },
};
