/**
 * Piscina worker: one onnxruntime session per thread, created once from
 * `workerData`. Frame tasks read pixels straight from the shared ring into
 * one reused input buffer (a byte copy into the uint8 input of a model that
 * pre-processes itself, else preprocessInto into floats), give the slots
 * back, run the model once per task and decode each image. The dispatcher
 * already splits batches for fixed-batch models into one-frame tasks.
 */
import { threadId, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { FrameArena, SLOT_READING } from '../frames/ring.js';
import { identityTransform, inputTransform } from '../models/geometry.js';
import { getDecoder } from '../models/postprocess/index.js';
import { preprocessInto } from '../models/preprocess.js';
import { inputDims } from '../models/tensor.js';
import type { InferenceOutput, InputTransform } from '../models/types.js';
import { sessionOptions } from './session-options.js';
import { nowMs, type FramesResult, type FramesTask, type FrameResult, type ImageResult, type ImageTask, type WarmupResult, type WorkerInit, type WorkerResult, type WorkerTask } from './protocol.js';

const init = workerData as WorkerInit;
const { spec, labels, postprocess } = init;
const input = spec.input;
const arena = new FrameArena(init.arena);
const decoder = getDecoder(spec.decoder);
/** One packed RGB image at model geometry: as many bytes as the tensor has floats per image. */
const imageSize = input.width * input.height * 3;
const decodeContext = { spec, labels, transform: identityTransform(input.width, input.height), options: postprocess };

const pixelInput = init.pixelInput;
const uint8Input = pixelInput.kind === 'uint8';
/** The graph input the pixels feed: the wrapped model's uint8 one, or the model's own. */
const feedName = pixelInput.kind === 'uint8' ? pixelInput.inputName : input.name;
const newInputBuffer = (length: number): Float32Array | Uint8Array => (uint8Input ? new Uint8Array(length) : new Float32Array(length));

interface BatchTensor {
  data: Float32Array | Uint8Array;
  feeds: Record<string, ort.Tensor>;
}

/** Writes packed RGB `rgb` as image `index` of `data`: a plain byte copy on the uint8 path. */
function fill(data: Float32Array | Uint8Array, rgb: Uint8Array, index: number): void {
  if (data instanceof Uint8Array) data.set(rgb, index * imageSize);
  else preprocessInto(input, rgb, data, index);
}

/**
 * One input buffer, sized for the largest batch seen so far; each batch
 * size gets a tensor over a view of it, made once. Growing replaces the
 * buffer and forgets the views (batch sizes only grow up to max_batch).
 */
let inputBuffer = newInputBuffer(imageSize);
const tensors = new Map<number, BatchTensor>();

function tensorFor(batch: number): BatchTensor {
  let t = tensors.get(batch);
  if (t === undefined) {
    if (batch * imageSize > inputBuffer.length) {
      inputBuffer = newInputBuffer(batch * imageSize);
      tensors.clear();
    }
    const data = inputBuffer.subarray(0, batch * imageSize);
    const tensor = uint8Input
      ? new ort.Tensor('uint8', data as Uint8Array, input.unbatched === true ? [input.height, input.width, 3] : [batch, input.height, input.width, 3])
      : new ort.Tensor('float32', data as Float32Array, inputDims(input, batch));
    t = { data, feeds: { [feedName]: tensor } };
    tensors.set(batch, t);
  }
  return t;
}

/** Per ring: the transform for the ring's current source size, recomputed only when it changes. */
const ringTransforms: { width: number; height: number; transform: InputTransform }[] = [];

function transformOfRing(ringIndex: number): InputTransform {
  const ring = arena.ring(ringIndex);
  const w = ring.sourceWidth();
  const h = ring.sourceHeight();
  let cached = ringTransforms[ringIndex];
  if (cached === undefined || cached.width !== w || cached.height !== h) {
    // Size 0 means the writer has not said; the frame is then at model geometry.
    const transform = w > 0 && h > 0 ? inputTransform(input, w, h) : identityTransform(input.width, input.height);
    cached = { width: w, height: h, transform };
    ringTransforms[ringIndex] = cached;
  }
  return cached.transform;
}

// Sessions spread over the GPUs in start order (a restarted worker takes the next turn).
const ordinal = Atomics.add(new Int32Array(init.workerCounter), 0, 1);
const deviceId = init.deviceIds.length > 0 ? init.deviceIds[ordinal % init.deviceIds.length]! : 0;
const session: Promise<ort.InferenceSession> = ort.InferenceSession.create(init.modelPath, sessionOptions(init.provider, init.intraOpThreads, deviceId)).then(
  checkFloatInput,
);
// A failed load surfaces in the first task (the engine's warm-up), not as an
// unhandled rejection that would kill the thread and make Piscina respawn it.
session.catch(() => undefined);

/** The JavaScript path makes float32 tensors: say so clearly for a model that wants another type (float16). */
function checkFloatInput(s: ort.InferenceSession): ort.InferenceSession {
  if (pixelInput.kind !== 'js') return s;
  const meta = s.inputMetadata.find((m) => m.name === input.name);
  if (meta !== undefined && meta.isTensor && meta.type !== 'float32') {
    throw new TypeError(
      `model ${spec.name} takes ${meta.type} input '${input.name}' and could not be wrapped to take uint8 pixels (see the log); ` +
        'JavaScript pre-processing makes float32 only',
    );
  }
  return s;
}

/** Which images of the current run were read, and how each maps to its source (reused). */
let liveFlags = new Uint8Array(8);
const runTransforms: InputTransform[] = [];

function decode(outputs: ort.InferenceSession.OnnxValueMapType, batchIndex: number, transform: InputTransform): InferenceOutput {
  decodeContext.transform = transform;
  return decoder.decode(outputs as Parameters<typeof decoder.decode>[0], batchIndex, decodeContext);
}

async function runFrames(task: FramesTask, started: number): Promise<FramesResult> {
  const s = await session;
  const refs = task.refs;
  const count = refs.length;
  const frames: FrameResult[] = refs.map((r) => ({ ring: r.ring, frameNo: r.frameNo, output: null }));
  const t0 = performance.now();
  // Slots no longer holding this frame (released after an error) are skipped, not read.
  let live = 0;
  if (liveFlags.length < count) liveFlags = new Uint8Array(count);
  liveFlags.fill(0, 0, count);
  const { data, feeds } = tensorFor(count);
  for (let i = 0; i < count; i++) {
    const ref = refs[i]!;
    const hook = init.testHooks?.exitOnFrame;
    if (hook && hook.ring === ref.ring && hook.frameNo === ref.frameNo) process.exit(70);
    const ring = arena.ring(ref.ring);
    if (ring.slotState(ref.slot) !== SLOT_READING || ring.frameNo(ref.slot) !== ref.frameNo) continue;
    fill(data, ring.pixels(ref.slot), i);
    // Taken with the pixels: the source size may change once the slot is given back.
    runTransforms[i] = transformOfRing(ref.ring);
    // The pixels are copied into the tensor: the writer may reuse the slot now.
    ring.release(ref.slot, ref.frameNo);
    liveFlags[i] = 1;
    live++;
  }
  const t1 = performance.now();
  const timing = { queueMs: started - task.submittedAt, preMs: t1 - t0, inferMs: 0, postMs: 0 };
  if (live === 0) return { kind: 'frames', frames, timing };
  const outputs = await s.run(feeds);
  const t2 = performance.now();
  for (let i = 0; i < count; i++) {
    if (liveFlags[i] === 1) frames[i]!.output = decode(outputs, i, runTransforms[i]!);
  }
  timing.inferMs = t2 - t1;
  timing.postMs = performance.now() - t2;
  return { kind: 'frames', frames, timing };
}

async function runImage(task: ImageTask, started: number): Promise<ImageResult> {
  const s = await session;
  const t0 = performance.now();
  if (task.rgb.length !== imageSize) {
    throw new RangeError(`image task holds ${task.rgb.length} bytes, model ${spec.name} needs ${imageSize}`);
  }
  const { data, feeds } = tensorFor(1);
  fill(data, task.rgb, 0);
  const t1 = performance.now();
  const outputs = await s.run(feeds);
  const t2 = performance.now();
  const output = decode(outputs, 0, task.transform);
  const t3 = performance.now();
  return { kind: 'image', output, timing: { queueMs: started - task.submittedAt, preMs: t1 - t0, inferMs: t2 - t1, postMs: t3 - t2 } };
}

async function runWarmup(): Promise<WarmupResult> {
  const s = await session;
  // One run at batch 1 so the first real frame does not pay for lazy initialisation.
  await s.run(tensorFor(1).feeds);
  return { kind: 'warmup', threadId, inputNames: s.inputNames, outputNames: s.outputNames };
}

function runTask(task: WorkerTask, started: number): Promise<WorkerResult> {
  switch (task.kind) {
    case 'frames':
      return runFrames(task, started);
    case 'image':
      return runImage(task, started);
    case 'warmup':
      return runWarmup();
    default: {
      const never: never = task;
      throw new TypeError(`unknown task ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The pool hands each worker its next task while one still runs (so the next
 * batch starts without a round trip to the main thread); tasks run one after
 * the other here, as they share the session and the reused tensors.
 */
let previous: Promise<unknown> = Promise.resolve();

export default function handle(task: WorkerTask): Promise<WorkerResult> {
  // Queue time ends when this task's turn comes, not when it reached the thread.
  const run = previous.then(() => runTask(task, nowMs()));
  previous = run.catch(() => undefined);
  return run;
}
