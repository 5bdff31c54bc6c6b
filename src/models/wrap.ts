/**
 * Pre-processing inside the model graph: derives from an ONNX model a wrapped
 * one whose input is packed RGB `uint8 [N,H,W,3]` (what the frame ring holds)
 * and whose first nodes do what `preprocessInto` does in JavaScript (colour
 * order, scale, mean/std, layout) in the model's own precision (float32 or
 * float16), feeding the original input. float16 outputs are cast to float32
 * at the end so post-processing reads Float32Array whatever the precision.
 *
 * Works on the protobuf with onnx-proto (protobufjs code generated from
 * onnx.proto). A model that cannot be wrapped throws UnwrappableModelError
 * with the reason; callers then keep the JavaScript pre-processing path.
 */
import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS: its namespace comes through the default export.
const { onnx } = onnxProto;
import type { ModelInputSpec } from './types.js';

export class UnwrappableModelError extends Error {
  override name = 'UnwrappableModelError';
}

/** Bumped whenever the wrapped graph changes, so cached wraps are rebuilt. */
export const WRAP_VERSION = 3;

const { DataType } = onnx.TensorProto;
const PREFIX = '__u8pre_';
/** The IR version of the onnx.proto that onnx-proto is generated from. */
const MAX_IR_VERSION = onnx.Version.IR_VERSION as number;

export type ModelPrecision = 'float32' | 'float16';

export interface WrappedModel {
  bytes: Uint8Array;
  /** Name of the new uint8 input. */
  inputName: string;
  /** Element type the original input had. */
  precision: ModelPrecision;
  /** Shape of the new input; -1 = dynamic batch. */
  dims: number[];
}

type PreprocessInput = Pick<ModelInputSpec, 'name' | 'width' | 'height' | 'layout' | 'color_order' | 'scale' | 'mean' | 'std' | 'dynamic_batch' | 'unbatched'>;

/** The fields of an input spec the wrapped graph bakes in (part of the cache key). */
export function wrapKey(input: PreprocessInput): string {
  const { name, width, height, layout, color_order, scale, mean, std, dynamic_batch } = input;
  return JSON.stringify({ v: WRAP_VERSION, name, width, height, layout, color_order, scale, mean, std, dynamic_batch, unbatched: input.unbatched === true });
}

function decodeModel(bytes: Uint8Array): Onnx.ModelProto {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new UnwrappableModelError(`not a readable ONNX model: ${(err as Error).message}`);
  }
  if (model.graph === null || model.graph === undefined || (model.graph.node ?? []).length === 0) {
    throw new UnwrappableModelError('not a readable ONNX model: no graph');
  }
  // Fields newer than the onnx.proto onnx-proto was generated from would be dropped on re-encoding.
  const ir = Number(model.irVersion);
  if (ir > MAX_IR_VERSION) {
    throw new UnwrappableModelError(`IR version ${ir} is newer than onnx-proto's onnx.proto (${MAX_IR_VERSION}): re-encoding could drop fields`);
  }
  return model;
}

function defaultOpset(model: Onnx.ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => o.domain === '' || o.domain === 'ai.onnx' || o.domain == null);
  return entry ? Number(entry.version) : 0;
}

function floatTensor(name: string, values: readonly number[], dims: number[]): Onnx.TensorProto {
  return onnx.TensorProto.create({ name, dataType: DataType.FLOAT, dims, floatData: [...values] });
}

function int64Tensor(name: string, values: readonly number[]): Onnx.TensorProto {
  return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: [values.length], int64Data: [...values] });
}

function attrInt(name: string, i: number): Onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
}

function attrFloat(name: string, f: number): Onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });
}

function attrInts(name: string, ints: number[]): Onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
}

function node(op: string, inputs: string[], output: string, attribute: Onnx.AttributeProto[] = []): Onnx.NodeProto {
  return onnx.NodeProto.create({ opType: op, input: inputs, output: [output], name: `${PREFIX}${output}`, attribute });
}

/** Per-channel out = pixel × mul + add, in the model's channel order (same as preprocessInto). */
function coefficients(input: PreprocessInput): { mul: number[]; add: number[] } {
  const mul: number[] = [];
  const add: number[] = [];
  for (let c = 0; c < 3; c++) {
    const std = input.std[c]!;
    if (!(std !== 0 && Number.isFinite(std))) throw new UnwrappableModelError(`input.std[${c}] must be a non-zero number`);
    mul.push(input.scale / std);
    add.push(-input.mean[c]! / std);
  }
  return { mul, add };
}

/** Wraps `bytes` (an ONNX model) so that `input.name` is fed from uint8 NHWC pixels. */
export function wrapWithUint8Input(bytes: Uint8Array, input: PreprocessInput): WrappedModel {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const opset = defaultOpset(model);
  // Broadcasting Add/Mul needs opset 7; IR < 4 would need initializers listed as inputs.
  if (opset < 7) throw new UnwrappableModelError(`default-domain opset ${opset} < 7`);
  if (Number(model.irVersion) < 4) throw new UnwrappableModelError(`IR version ${String(model.irVersion)} < 4`);

  const inputs = graph.input ?? [];
  const index = inputs.findIndex((v) => v.name === input.name);
  if (index < 0) throw new UnwrappableModelError(`the graph has no input '${input.name}' (it has ${inputs.map((v) => v.name).join(', ')})`);
  const original = inputs[index]!;
  const elemType = original.type?.tensorType?.elemType;
  let precision: ModelPrecision;
  if (elemType === DataType.FLOAT) precision = 'float32';
  else if (elemType === DataType.FLOAT16) precision = 'float16';
  else throw new UnwrappableModelError(`input '${input.name}' has element type ${String(elemType)}, not float32 or float16`);
  const rank = original.type?.tensorType?.shape?.dim?.length;
  const unbatched = input.unbatched === true;
  if (rank !== (unbatched ? 3 : 4)) throw new UnwrappableModelError(`input '${input.name}' has rank ${String(rank)}, the manifest says ${unbatched ? 3 : 4}`);

  const used = new Set<string>();
  for (const v of [...inputs, ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) used.add(v.name ?? '');
  for (const t of graph.initializer ?? []) used.add(t.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) used.add(o);
  const fresh = (base: string): string => {
    let name = `${PREFIX}${base}`;
    for (let i = 1; used.has(name); i++) name = `${PREFIX}${base}_${i}`;
    used.add(name);
    return name;
  };

  const pixels = fresh('pixels');
  const dims = unbatched ? [input.height, input.width, 3] : [input.dynamic_batch ? -1 : 1, input.height, input.width, 3];
  const shapeDims = dims.map((d) => (d === -1 ? onnx.TensorShapeProto.Dimension.create({ dimParam: 'batch' }) : onnx.TensorShapeProto.Dimension.create({ dimValue: d })));
  const pixelsInfo = onnx.ValueInfoProto.create({
    name: pixels,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: DataType.UINT8, shape: onnx.TensorShapeProto.create({ dim: shapeDims }) }) }),
  });

  const pre: Onnx.NodeProto[] = [];
  const inits: Onnx.TensorProto[] = [];
  let current = pixels;
  // Colour order and layout on the bytes (a quarter of the memory traffic of
  // floats); the ring holds RGB, the model may want BGR.
  const nchw = input.layout === 'NCHW';
  const channelAxis = nchw ? dims.length - 3 : dims.length - 1;
  if (nchw) {
    const out = fresh('nchw');
    pre.push(node('Transpose', [current], out, [attrInts('perm', unbatched ? [2, 0, 1] : [0, 3, 1, 2])]));
    current = out;
  }
  if (input.color_order === 'BGR') {
    const order = fresh('bgr_order');
    inits.push(int64Tensor(order, [2, 1, 0]));
    const out = fresh('bgr');
    pre.push(node('Gather', [current, order], out, [attrInt('axis', channelAxis)]));
    current = out;
  }
  // Computed in float32 (exact for 0..255), then the result takes the model's precision.
  const cast = fresh('float');
  pre.push(node('Cast', [current], cast, [attrInt('to', DataType.FLOAT)]));
  current = cast;
  const { mul, add } = coefficients(input);
  const affine = mul.some((m) => m !== 1) || add.some((v) => v !== 0);
  if (affine && nchw) {
    // x × mul + add per channel as an inference BatchNormalization (mean 0, var 1,
    // epsilon 0): one pass, and onnxruntime's CPU kernel for it is several times
    // faster than a broadcasting Mul and Add over [3,1,1] (profiled: 23 ms → a few
    // per batch of 8 at 224²).
    const k = (base: string, values: number[]): string => {
      const name = fresh(base);
      inits.push(floatTensor(name, values, [3]));
      return name;
    };
    const inputs = [current, k('scale', mul), k('bias', add), k('mean', [0, 0, 0]), k('var', [1, 1, 1])];
    const out = fresh('normalised');
    pre.push(node('BatchNormalization', inputs, out, [attrFloat('epsilon', 0)]));
    current = out;
  } else if (affine) {
    // NHWC: channels last, constants of shape [3] broadcast over N, H, W.
    const mulK = fresh('mul_k');
    const addK = fresh('add_k');
    inits.push(floatTensor(mulK, mul, [3]), floatTensor(addK, add, [3]));
    const scaled = fresh('scaled');
    const out = fresh('normalised');
    pre.push(node('Mul', [current, mulK], scaled), node('Add', [scaled, addK], out));
    current = out;
  }
  if (precision === 'float16') {
    const out = fresh('half');
    pre.push(node('Cast', [current], out, [attrInt('to', DataType.FLOAT16)]));
    current = out;
  }
  // The last step writes the original input's name, so the model's own nodes are untouched.
  const last = pre[pre.length - 1]!;
  last.output = [input.name];

  // float16 outputs become float32 under their own names.
  const post: Onnx.NodeProto[] = [];
  for (const out of graph.output ?? []) {
    if (out.type?.tensorType?.elemType !== DataType.FLOAT16) continue;
    const inner = fresh(`${out.name ?? 'out'}_half`);
    for (const n of graph.node ?? []) n.output = (n.output ?? []).map((o) => (o === out.name ? inner : o));
    for (const n of graph.node ?? []) n.input = (n.input ?? []).map((i) => (i === out.name ? inner : i));
    post.push(node('Cast', [inner], out.name ?? '', [attrInt('to', DataType.FLOAT)]));
    out.type.tensorType.elemType = DataType.FLOAT;
  }

  graph.input = [...inputs.slice(0, index), pixelsInfo, ...inputs.slice(index + 1)];
  // The original input is now an internal value; the graph gets the new nodes around its own.
  graph.node = [...pre, ...(graph.node ?? []), ...post];
  graph.initializer = [...(graph.initializer ?? []), ...inits];
  model.producerName = `${model.producerName ?? ''}+stream-ml-service-uint8`;
  return { bytes: onnx.ModelProto.encode(model).finish(), inputName: pixels, precision, dims };
}

/** Operators of int8/uint8 quantized models (QOperator and QDQ formats, integer ops). */
const QUANTIZED_OPS = new Set(['QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul', 'QLinearAdd', 'QLinearMul', 'QLinearGlobalAveragePool', 'QLinearConcat', 'QLinearSigmoid', 'QLinearLeakyRelu', 'QLinearAveragePool', 'QGemm', 'ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear']);

/** The quantized operator types a model uses (empty for a float model, or bytes that are not a model). */
export function quantizedOps(bytes: Uint8Array): string[] {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return [];
  }
  const found = new Set<string>();
  for (const n of model.graph?.node ?? []) if (QUANTIZED_OPS.has(n.opType ?? '')) found.add(n.opType ?? '');
  return [...found].sort();
}

/** sha256 of bytes (hex). */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
