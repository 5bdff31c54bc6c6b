/** Picking output tensors by the manifest's names, with errors that say what the graph returned. */
import type { ModelOutputs, OutputTensor } from './types.js';

/** The i-th output the decoder expects: by name from `spec.outputs`, else in graph order. */
export function outputAt(outputs: ModelOutputs, names: readonly string[], i: number): OutputTensor {
  const name = names[i];
  const t = name !== undefined ? outputs[name] : Object.values(outputs)[i];
  if (t === undefined) {
    const want = name !== undefined ? `'${name}'` : `#${i}`;
    throw new Error(`model output ${want} missing; the model returned: ${Object.keys(outputs).join(', ') || 'nothing'}`);
  }
  return t;
}

export function floatData(t: OutputTensor, what: string): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new Error(`${what} must be a float32 tensor`);
  return t.data;
}

export function labelFor(labels: readonly string[], classId: number): string {
  return labels[classId] ?? `class_${classId}`;
}
