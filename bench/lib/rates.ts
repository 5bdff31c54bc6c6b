/**
 * The two throughputs every comparison is made of, measured the same way by
 * bench:engine and bench:pipeline:
 *  - bare: one onnxruntime session, the same model, batch and thread count,
 *    pre-process + run + decode in a tight loop — no pool, ring or dispatcher;
 *  - pool: frames already decoded in the rings → dispatcher → Piscina worker
 *    (pre-process from the shared ring, run, decode) → result published.
 */
import * as ort from 'onnxruntime-node';
import { defaultConfig } from '../../src/config/schema.js';
import { InferenceEngine } from '../../src/engine/engine.js';
import { sessionOptions } from '../../src/engine/session-options.js';
import { FrameArena } from '../../src/frames/ring.js';
import { identityTransform } from '../../src/models/geometry.js';
import { getDecoder } from '../../src/models/postprocess/index.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { inputDims } from '../../src/models/tensor.js';
import type { ResolvedModel } from '../../src/models/types.js';
import { postprocess, type Picture } from '../../test/engine/helpers.js';
import { sleep } from './report.js';

export interface Timing {
  seconds: number;
  warmupSeconds: number;
}

/** Images/s of bare onnxruntime. */
export async function bareRate(model: ResolvedModel, pictures: readonly Picture[], o: Timing & { batch: number; threads: number }): Promise<number> {
  const input = model.spec.input;
  const session = await ort.InferenceSession.create(model.modelPath, sessionOptions('cpu', o.threads));
  const data = new Float32Array(o.batch * input.width * input.height * 3);
  const tensor = new ort.Tensor('float32', data, inputDims(input, o.batch));
  const decoder = getDecoder(model.spec.decoder);
  const ctx = { spec: model.spec, labels: model.labels, transform: identityTransform(input.width, input.height), options: postprocess };
  const step = async (): Promise<void> => {
    for (let i = 0; i < o.batch; i++) preprocessInto(input, pictures[i % pictures.length]!.rgb, data, i);
    const out = await session.run({ [input.name]: tensor });
    for (let i = 0; i < o.batch; i++) decoder.decode(out as never, i, ctx);
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

export interface PoolRate {
  imagesPerS: number;
  meanBatch: number;
}

/**
 * Images/s of the engine on pre-decoded frames. There are batch × in-flight
 * rings, refilled from the result listener, so a full batch is always waiting;
 * refilling reuses pixels already in the slot, so it costs the measurement nothing.
 */
export async function poolRate(
  model: ResolvedModel,
  pictures: readonly Picture[],
  o: Timing & { batch: number; poolSize: number; intraOpThreads: number; inFlight: number },
): Promise<PoolRate> {
  const input = model.spec.input;
  const cameras = o.batch * o.inFlight;
  const arena = FrameArena.create({ width: input.width, height: input.height, channels: 3 }, 3, cameras);
  const engine = await InferenceEngine.create({
    model,
    engine: { ...defaultConfig().engine, provider: 'cpu', pool_size: o.poolSize, intra_op_threads: o.intraOpThreads, max_batch: o.batch, max_in_flight_batches: o.inFlight, max_frame_age_ms: 0 },
    postprocess,
    arena,
    maxImagePixels: 40_000_000,
  });
  const filled = Array.from({ length: cameras }, () => new Uint8Array(3));
  const feed = (ring: number): void => {
    const r = arena.ring(ring);
    const slot = r.beginWrite();
    if (slot < 0) return;
    if (filled[ring]![slot] === 0) {
      r.pixels(slot).set(pictures[ring % pictures.length]!.rgb);
      filled[ring]![slot] = 1;
    }
    r.commitWrite(slot, Date.now());
  };
  const ringOf = new Map<string, number>();
  let images = 0;
  engine.onResult((e) => {
    images++;
    feed(ringOf.get(e.camera)!);
  });
  for (let i = 0; i < cameras; i++) {
    ringOf.set(`cam${i}`, i);
    engine.attachCamera(`cam${i}`, i);
    feed(i);
  }
  await sleep(o.warmupSeconds * 1000);
  const before = images;
  const t0 = performance.now();
  await sleep(o.seconds * 1000);
  const imagesPerS = (images - before) / ((performance.now() - t0) / 1000);
  const m = engine.metrics();
  await engine.close();
  if (m.errors > 0) throw new Error(`pool run had ${m.errors} errors`);
  return { imagesPerS, meanBatch: m.mean_batch_size };
}
