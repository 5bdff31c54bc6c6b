/**
 * The two throughputs every comparison is made of, measured the same way by
 * bench:engine and bench:pipeline:
 *  - bare: one onnxruntime session, the same model, batch and thread count,
 *    pre-process + run + decode in a tight loop — no pool, ring or dispatcher;
 *  - pool: frames already decoded in the rings → dispatcher → Piscina worker
 *    (pre-process from the shared ring, run, decode) → result published.
 * Each either way pixels can enter the model: `js` (preprocessInto into a
 * float32 tensor, the original graph) or `uint8` (bytes copied into the
 * uint8 input of the wrapped graph that pre-processes itself).
 */
import * as ort from 'onnxruntime-node';
import { defaultConfig } from '../../src/config/schema.js';
import type { ResolvedProvider } from '../../src/engine/provider.js';
import { sessionOptions } from '../../src/engine/session-options.js';
import { FrameArena } from '../../src/frames/ring.js';
import { identityTransform } from '../../src/models/geometry.js';
import { getDecoder } from '../../src/models/postprocess/index.js';
import { projectRoot } from '../../src/models/paths.js';
import { preparePixelInput } from '../../src/models/pixel-input.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { inputDims } from '../../src/models/tensor.js';
import type { ResolvedModel } from '../../src/models/types.js';
import { logger } from '../../src/telemetry/logger.js';
import { postprocess, type Picture } from '../../test/engine/helpers.js';
import { compiled } from './compiled.js';
import { sleep } from './report.js';

export interface Timing {
  seconds: number;
  warmupSeconds: number;
}

export type PixelPath = 'js' | 'uint8';

/** Where wrapped models are cached for benchmarks (the project's default model cache). */
export const BENCH_CACHE_DIR = `${projectRoot()}/.cache/models`;

/** Images/s of bare onnxruntime. */
export async function bareRate(
  model: ResolvedModel,
  pictures: readonly Picture[],
  o: Timing & { batch: number; threads: number; provider?: ResolvedProvider; pixels?: PixelPath },
): Promise<number> {
  const input = model.spec.input;
  const imageSize = input.width * input.height * 3;
  let modelPath = model.modelPath;
  let feeds: Record<string, ort.Tensor>;
  let fill: (rgb: Uint8Array, i: number) => void;
  if (o.pixels === 'uint8') {
    const wrapped = await preparePixelInput(model, { cacheDir: BENCH_CACHE_DIR });
    if (wrapped.kind !== 'uint8') throw new Error(`model ${model.spec.name} cannot take uint8 pixels: ${wrapped.reason}`);
    modelPath = wrapped.modelPath;
    const data = new Uint8Array(o.batch * imageSize);
    const dims = input.unbatched === true ? [input.height, input.width, 3] : [o.batch, input.height, input.width, 3];
    feeds = { [wrapped.inputName]: new ort.Tensor('uint8', data, dims) };
    fill = (rgb, i) => data.set(rgb, i * imageSize);
  } else {
    const data = new Float32Array(o.batch * imageSize);
    feeds = { [input.name]: new ort.Tensor('float32', data, inputDims(input, o.batch)) };
    fill = (rgb, i) => preprocessInto(input, rgb, data, i);
  }
  const session = await ort.InferenceSession.create(modelPath, sessionOptions(o.provider ?? 'cpu', o.threads));
  const decoder = getDecoder(model.spec.decoder);
  const ctx = { spec: model.spec, labels: model.labels, transform: identityTransform(input.width, input.height), options: postprocess };
  const step = async (): Promise<void> => {
    for (let i = 0; i < o.batch; i++) fill(pictures[i % pictures.length]!.rgb, i);
    const out = await session.run(feeds);
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

const benchLog = logger().child({ component: 'bench' });
benchLog.level = 'warn';

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
  o: Timing & { batch: number; poolSize: number; intraOpThreads: number; inFlight: number; provider?: ResolvedProvider; pixels?: PixelPath; deviceIds?: string },
): Promise<PoolRate> {
  const input = model.spec.input;
  const cameras = o.batch * o.inFlight;
  const arena = FrameArena.create({ width: input.width, height: input.height, channels: 3 }, 3, cameras);
  // Compiled, as the service runs it: under tsx each pool worker would get its own polling module-hooks thread.
  const { InferenceEngine } = await compiled<typeof import('../../src/engine/engine.js')>('engine/engine.js');
  const engine = await InferenceEngine.create({
    model,
    engine: {
      ...defaultConfig().engine,
      provider: o.provider ?? 'cpu',
      pool_size: o.poolSize,
      intra_op_threads: o.intraOpThreads,
      device_ids: o.deviceIds ?? '',
      max_batch: o.batch,
      max_in_flight_batches: o.inFlight,
      max_frame_age_ms: 0,
    },
    postprocess,
    arena,
    maxImagePixels: 40_000_000,
    pixelInput: o.pixels === 'js' ? 'js' : 'auto',
    modelCacheDir: BENCH_CACHE_DIR,
    // Quiet: the bench prints its own table.
    log: benchLog,
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
