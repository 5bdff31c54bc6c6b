/**
 * Model metadata: what the registry knows about a model, from the manifest.
 * Everything downstream (ffmpeg scaling, pre-processing, decoding) is chosen
 * from these fields, never from the file name.
 */

export type ModelTask = 'classification' | 'detection';
export type OutputDecoder = 'softmax' | 'yolox' | 'yolov8' | 'torchvision_detection';
export type ColorOrder = 'RGB' | 'BGR';
export type ResizeMode = 'center_crop' | 'letterbox' | 'stretch';

export interface ModelInputSpec {
  /** Name of the input tensor in the ONNX graph. */
  name: string;
  width: number;
  height: number;
  layout: 'NCHW' | 'NHWC';
  color_order: ColorOrder;
  /** Pixels are multiplied by this first (1/255 → 0..1; 1 → 0..255). */
  scale: number;
  /** Per channel, in the model's colour order, applied after scale: (x - mean) / std. */
  mean: [number, number, number];
  std: [number, number, number];
  resize: ResizeMode;
  /** Pad value (0..255) for letterbox. */
  pad_value: number;
  /** A batch axis the model accepts at any size (true) or fixed at 1 (false). */
  dynamic_batch: boolean;
  /**
   * The graph takes ONE image with no batch axis (`[3,H,W]`, torchvision
   * detection exports). Absent = false. Build tensor dims with `inputDims()`.
   */
  unbatched?: boolean;
}

/** A model file published inside a .tar/.tar.gz, verified by the archive's sha256. */
export interface ArchiveSource {
  /** Archive file name as downloaded. */
  file: string;
  /** sha256 of the archive (what upstream publishes). */
  sha256: string;
  /** Member to extract: a path inside the archive, or a bare file name matched against each entry's last component. */
  member: string;
}

export interface ModelSpec {
  /** Manifest key, e.g. `mobilenet_v2_int8`. */
  name: string;
  description: string;
  task: ModelTask;
  file: string;
  /** sha256 of `file`; may be empty for a file extracted from `archive` (its record then holds it). */
  sha256: string;
  /** Where `file` (or, with `archive`, the archive) can be downloaded. */
  urls: string[];
  /** `file` is a member of this archive: `urls` download the archive. */
  archive?: ArchiveSource;
  input: ModelInputSpec;
  decoder: OutputDecoder;
  /** Output tensor names in the order the decoder expects; empty = graph order. */
  outputs: string[];
  labels_file: string;
  /** `json_array`, `keras_index` (imagenet_class_index.json) or `lines`. */
  labels_format: 'json_array' | 'keras_index' | 'lines';
  /** sha256 of the labels file as stored; absent = not verified (files shipped in the repo). */
  labels_sha256?: string;
  /** Where `models:fetch` can download the labels file. */
  labels_urls?: string[];
  /** Class index (decoder output space) that means "person"; -1 for classifiers. */
  person_class_id: number;
  /** YOLOX/YOLOv8 strides. */
  strides?: number[];
  license?: string;
}

/** A model resolved to files on disk, with its labels loaded. */
export interface ResolvedModel {
  spec: ModelSpec;
  modelPath: string;
  labelsPath: string;
  labels: string[];
}

export type { Detection, InferenceOutput, Prediction } from '../contracts/results.js';

/** How a source image was mapped onto the model input, to map boxes back. */
export interface InputTransform {
  sourceWidth: number;
  sourceHeight: number;
  /** Model-input pixels per source pixel. */
  scaleX: number;
  scaleY: number;
  /** Offset of the source's top-left in model-input pixels (negative for a centre crop). */
  offsetX: number;
  offsetY: number;
}

export interface PostprocessOptions {
  topK: number;
  personScoreThreshold: number;
  detectionScoreThreshold: number;
  nmsIouThreshold: number;
}
