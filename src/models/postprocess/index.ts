/** Decoder lookup by the manifest's `decoder` field. */
import type { OutputDecoder } from '../types.js';
import { softmaxDecoder } from './softmax.js';
import { torchvisionDetectionDecoder } from './torchvision.js';
import type { OutputDecoderImpl } from './types.js';
import { yolov8Decoder } from './yolov8.js';
import { yoloxDecoder } from './yolox.js';

export type { DecodeContext, ModelOutputs, OutputDecoderImpl, OutputTensor } from './types.js';
export { nms, iou, type Candidate } from './nms.js';
export { softmaxTopK } from './softmax.js';
export { MAX_DETECTIONS } from './detections.js';

const DECODERS: Record<OutputDecoder, OutputDecoderImpl> = {
  softmax: softmaxDecoder,
  yolox: yoloxDecoder,
  yolov8: yolov8Decoder,
  torchvision_detection: torchvisionDetectionDecoder,
};

export function getDecoder(name: OutputDecoder): OutputDecoderImpl {
  const d = DECODERS[name] as OutputDecoderImpl | undefined;
  if (d === undefined) throw new Error(`unknown decoder '${String(name)}'; known: ${Object.keys(DECODERS).join(', ')}`);
  return d;
}
