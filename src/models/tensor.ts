/** Input tensor shape for a batch, from the input spec (the engine allocates from this). */
import type { ModelInputSpec } from './types.js';

export function inputDims(input: ModelInputSpec, batch: number): number[] {
  if (input.unbatched === true) {
    if (batch !== 1) throw new RangeError(`model input '${input.name}' takes one image per run, not ${batch}`);
    return input.layout === 'NCHW' ? [3, input.height, input.width] : [input.height, input.width, 3];
  }
  if (!input.dynamic_batch && batch !== 1) {
    throw new RangeError(`model input '${input.name}' has a fixed batch of 1, not ${batch}`);
  }
  return input.layout === 'NCHW' ? [batch, 3, input.height, input.width] : [batch, input.height, input.width, 3];
}
