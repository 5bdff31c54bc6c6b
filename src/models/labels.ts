/** Label files in the three formats the manifest names. */
import type { ModelSpec } from './types.js';

export type LabelsFormat = ModelSpec['labels_format'];

export class LabelsError extends Error {
  override name = 'LabelsError';
}

/** Class names in model output order (index = class id). */
export function parseLabels(text: string, format: LabelsFormat, file = 'labels'): string[] {
  if (format === 'lines') {
    const lines = text.split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) throw new LabelsError(`${file}: no labels`);
    return lines.map((l) => l.trim());
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LabelsError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (format === 'json_array') {
    if (!Array.isArray(doc) || doc.length === 0 || !doc.every((x) => typeof x === 'string')) {
      throw new LabelsError(`${file}: expected a JSON array of strings (labels_format json_array)`);
    }
    return doc as string[];
  }
  return kerasIndexToArray(doc, file);
}

/** Keras `imagenet_class_index.json`: {"0": ["n01440764", "tench"], ...} → names by index. */
export function kerasIndexToArray(doc: unknown, file = 'labels'): string[] {
  const bad = (): never => {
    throw new LabelsError(`${file}: expected {"0": ["wnid", "name"], ...} (labels_format keras_index)`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad();
  const entries = Object.entries(doc as Record<string, unknown>);
  const out = new Array<string>(entries.length);
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length) bad();
    if (!Array.isArray(v) || typeof v[1] !== 'string') bad();
    out[i] = (v as string[])[1];
  }
  if (entries.length === 0) bad();
  // `some` skips holes of a sparse array: check every index.
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) bad();
  return out;
}

/** The exact text of our json_array label files: one quoted name a line, no final newline. */
export function formatJsonArrayLabels(names: readonly string[]): string {
  return `[\n${names.map((n) => JSON.stringify(n)).join(',\n')}\n]`;
}
