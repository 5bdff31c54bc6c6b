/** The one interface every output decoder implements. */
import type { InferenceOutput, InputTransform, ModelSpec, PostprocessOptions } from '../types.js';

/** One output tensor; an onnxruntime `Tensor` satisfies this shape. */
export interface OutputTensor {
  data: Float32Array | BigInt64Array | Int32Array;
  dims: readonly number[];
}

/** Output tensors by name, as `InferenceSession.run` returns them. */
export type ModelOutputs = Record<string, OutputTensor>;

export interface DecodeContext {
  spec: ModelSpec;
  labels: readonly string[];
  /** How this image was mapped onto the model input (boxes are mapped back through it). */
  transform: InputTransform;
  options: PostprocessOptions;
}

export interface OutputDecoderImpl {
  /** Decodes image `batchIndex` of a batch run. */
  decode(outputs: ModelOutputs, batchIndex: number, ctx: DecodeContext): InferenceOutput;
}
