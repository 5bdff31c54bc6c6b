/**
 * Images/s of the inference pool against bare onnxruntime-node, same model,
 * same batch size, same total thread count, in one run — each with both ways
 * pixels enter the model:
 *  - js:    preprocessInto (JavaScript, per pixel) into a float32 tensor for the original graph;
 *  - uint8: ring bytes copied into the uint8 input of the wrapped graph that
 *           pre-processes itself (what the engine uses when the model wraps).
 * "bare uint8" is the ceiling: onnxruntime alone, nothing of ours around it.
 *
 * Pool path: frames already in the rings (pre-decoded at model geometry) →
 * dispatcher → Piscina worker (copy/pre-process from the shared ring, run,
 * decode) → result published. Rings are refilled from the result listener,
 * and there are batch × in-flight cameras, so a full batch is always waiting.
 * Rounds alternate the four paths (the machine may be shared and noisy): the
 * median and the best round of each are reported, and the ratios.
 *
 *   npm run bench:engine [-- --provider cpu|cuda --model NAME --batch N --seconds 3 --rounds 4 --pool-size 0 --threads 0 --device-ids 0,1 --pictures DIR]
 *
 * --provider cuda: defaults become MobileNetV3-Small (float; a torchvision
 * export in model.cache_dir or APP_MODELS_DIR), batch 64, the CUDA pool size.
 * --pictures DIR: raw packed-RGB files at model geometry (`*.rgb`) instead of
 * decoding the COCO photos with sharp (for machines without sharp; see
 * bench/gpu/run-on-device.sh).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultSizes, parseDeviceIds, type ResolvedProvider } from '../src/engine/provider.js';
import { benchModel, benchPictures } from './lib/inputs.js';
import { bareRate, poolRate, type PixelPath } from './lib/rates.js';
import { flags, median, table } from './lib/report.js';

const opts = flags({ provider: 'cpu', model: '', batch: 0, seconds: 3, warmup_seconds: 1, rounds: 4, pool_size: 0, threads: 0, device_ids: '', pictures: '' });
if (opts.provider !== 'cpu' && opts.provider !== 'cuda') throw new Error(`--provider must be cpu or cuda, got ${opts.provider}`);
const provider = opts.provider as ResolvedProvider;
const gpu = provider === 'cuda';
const cores = os.availableParallelism();
const totalThreads = opts.threads > 0 ? opts.threads : cores;
// The engine's own sizing for the provider (on CUDA per GPU, times the GPUs).
const gpus = gpu ? parseDeviceIds(opts.device_ids).length : 1;
const sizes = defaultSizes(provider, totalThreads, { pool_size: opts.pool_size, intra_op_threads: 0 });
const poolSize = sizes.poolSize * gpus;
const intra = gpu ? sizes.intraOpThreads : Math.max(1, Math.floor(totalThreads / sizes.poolSize));
const inFlight = Math.max(2, poolSize * 2);

const model = await benchModel(opts.model !== '' ? opts.model : gpu ? 'mobilenet_v3_small' : 'mobilenet_v2_int8');
const input = model.spec.input;
const pictures = await benchPictures(input, opts.pictures);
const batch = input.dynamic_batch ? (opts.batch > 0 ? opts.batch : gpu ? 64 : 8) : 1;
const timing = { seconds: opts.seconds, warmupSeconds: opts.warmup_seconds };
// On CUDA the bare session gets the same intra-op threads as one pool session (the GPU does the work).
const bareThreads = gpu ? intra : totalThreads;

const PATHS: PixelPath[] = ['js', 'uint8'];
const rounds: Record<string, number[]> = { 'bare js': [], 'bare uint8': [], 'pool js': [], 'pool uint8': [] };
const meanBatch: Record<string, number> = {};
for (let r = 0; r < opts.rounds; r++) {
  for (const pixels of PATHS) {
    rounds[`bare ${pixels}`]!.push(await bareRate(model, pictures, { ...timing, batch, threads: bareThreads, provider, pixels }));
    const pool = await poolRate(model, pictures, { ...timing, batch, poolSize, intraOpThreads: intra, inFlight, provider, pixels, deviceIds: opts.device_ids });
    rounds[`pool ${pixels}`]!.push(pool.imagesPerS);
    meanBatch[`pool ${pixels}`] = pool.meanBatch;
  }
}
const med = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, median(v)]));
const best = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, Math.max(...v)]));
const rows = Object.keys(rounds).map((k) => ({
  path: k,
  workers: k.startsWith('bare') ? 1 : poolSize,
  intra_op: k.startsWith('bare') ? bareThreads : intra,
  batch,
  'median img/s': med[k]!,
  'best img/s': best[k]!,
  rounds: rounds[k]!.map((v) => v.toFixed(0)).join(' '),
}));
const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
console.log(`model ${model.spec.name} on ${provider}${gpu ? ` (${gpus} GPU)` : ''}, ${cores} cores, ${opts.seconds}s x ${opts.rounds} rounds (shared machine: numbers are noisy)\n`);
console.log(table(rows));
const summary = {
  bench: 'engine',
  provider,
  model: model.spec.name,
  cores,
  total_threads: totalThreads,
  batch,
  pool_size: poolSize,
  intra_op_threads: intra,
  bare_js_images_per_s: Math.round(med['bare js']! * 10) / 10,
  bare_uint8_images_per_s: Math.round(med['bare uint8']! * 10) / 10,
  pool_js_images_per_s: Math.round(med['pool js']! * 10) / 10,
  pool_uint8_images_per_s: Math.round(med['pool uint8']! * 10) / 10,
  pool_mean_batch: Math.round((meanBatch['pool uint8'] ?? 0) * 100) / 100,
  // The engine (uint8 path) against the bare onnxruntime uint8 ceiling: target ≥ 0.8 on a GPU.
  ratio_pool_uint8_over_bare_uint8: ratio(med['pool uint8']!, med['bare uint8']!),
  // What moving pre-processing into the graph gains, same model/batch/threads.
  ratio_pool_uint8_over_pool_js: ratio(med['pool uint8']!, med['pool js']!),
  ratio_bare_uint8_over_bare_js: ratio(med['bare uint8']!, med['bare js']!),
  ratio_pool_js_over_bare_js: ratio(med['pool js']!, med['bare js']!),
  ratio_best_pool_uint8_over_bare_uint8: ratio(best['pool uint8']!, best['bare uint8']!),
  target: gpu ? 0.8 : 0.9,
};
console.log(`\n${JSON.stringify(summary)}`);
// Kept for comparison between runs (bench/results is git-ignored).
const resultsDir = path.resolve(import.meta.dirname, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, `engine-${provider}.json`), `${JSON.stringify({ at: new Date().toISOString(), ...summary, rounds }, null, 2)}\n`);
process.exit(0);
