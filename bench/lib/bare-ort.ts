/**
 * The baseline every pipeline number is compared with: one onnxruntime-node
 * session, the same model, batch and thread count, fed the same pre-processing
 * in a tight loop with no pool, ring or dispatcher.
 */
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../../src/engine/session-options.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { inputDims } from '../../src/models/tensor.js';
import type { ModelSpec } from '../../src/models/types.js';

export interface BareOptions {
  modelPath: string;
  spec: ModelSpec;
  batch: number;
  threads: number;
  seconds: number;
  warmupSeconds: number;
}

/** Images per second of bare onnxruntime (pre-processing included, decoding of outputs excluded). */
export async function bareOrtRate(o: BareOptions): Promise<number> {
  const input = o.spec.input;
  const session = await ort.InferenceSession.create(o.modelPath, sessionOptions('cpu', o.threads));
  const pixels = new Uint8Array(input.width * input.height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0xff;
  const data = new Float32Array(o.batch * pixels.length);
  const tensor = new ort.Tensor('float32', data, inputDims(input, o.batch));
  const step = async (): Promise<void> => {
    for (let i = 0; i < o.batch; i++) preprocessInto(input, pixels, data, i);
    await session.run({ [input.name]: tensor });
  };
  const warmEnd = performance.now() + o.warmupSeconds * 1000;
  while (performance.now() < warmEnd) await step();
  let images = 0;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  while (performance.now() < end) {
    await step();
    images += o.batch;
  }
  const rate = images / ((performance.now() - t0) / 1000);
  await session.release();
  return rate;
}
