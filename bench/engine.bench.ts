/**
 * Images/s of the inference pool against bare onnxruntime-node, same model,
 * same batch size, same total thread count, in one run.
 *
 * Pool path: frames already in the rings (pre-decoded at model geometry) →
 * dispatcher → Piscina worker (pre-process from the shared ring, run,
 * decode) → result published. Rings are refilled from the result listener,
 * and there are batch × in-flight cameras, so a full batch is always waiting.
 * Bare path: one session, pre-process the same pictures into a tensor, run,
 * in a loop. Rounds alternate bare/pool (the machine is shared and noisy):
 * the median and the best round of each are reported, and both ratios.
 *
 *   npm run bench:engine [-- --model mobilenet_v2_int8 --batch 8 --seconds 3 --rounds 4 --pool-size 0 --threads 0]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultSizes } from '../src/engine/provider.js';
import { cocoPicture, loadModel, type Picture } from '../test/engine/helpers.js';
import { bareRate, poolRate } from './lib/rates.js';
import { flags, median, table } from './lib/report.js';

const opts = flags({ model: 'mobilenet_v2_int8', batch: 8, seconds: 3, warmup_seconds: 1, rounds: 4, pool_size: 0, threads: 0 });
const cores = os.availableParallelism();
const totalThreads = opts.threads > 0 ? opts.threads : cores;
const sizes = defaultSizes('cpu', totalThreads, { pool_size: opts.pool_size, intra_op_threads: 0 });
const intra = Math.max(1, Math.floor(totalThreads / sizes.poolSize));
const inFlight = Math.max(2, sizes.poolSize * 2);

const model = await loadModel(opts.model);
const input = model.spec.input;
const files = ['000000000139.jpg', '000000000776.jpg', '000000000802.jpg', '000000000885.jpg'];
const pictures: Picture[] = await Promise.all(files.map((f) => cocoPicture(f, input)));
const batch = input.dynamic_batch ? opts.batch : 1;
const timing = { seconds: opts.seconds, warmupSeconds: opts.warmup_seconds };

let poolBatchMean = 0;
const bareRates: number[] = [];
const poolRates: number[] = [];
for (let r = 0; r < opts.rounds; r++) {
  bareRates.push(await bareRate(model, pictures, { ...timing, batch, threads: totalThreads }));
  const pool = await poolRate(model, pictures, { ...timing, batch, poolSize: sizes.poolSize, intraOpThreads: intra, inFlight });
  poolRates.push(pool.imagesPerS);
  poolBatchMean = pool.meanBatch;
}
const bareIps = median(bareRates);
const poolIps = median(poolRates);
const bareBest = Math.max(...bareRates);
const poolBest = Math.max(...poolRates);
const rows = [
  { path: 'bare onnxruntime', workers: 1, intra_op: totalThreads, batch, 'median img/s': bareIps, 'best img/s': bareBest, rounds: bareRates.map((v) => v.toFixed(0)).join(' ') },
  { path: 'pool (ring+dispatch)', workers: sizes.poolSize, intra_op: intra, batch, 'median img/s': poolIps, 'best img/s': poolBest, rounds: poolRates.map((v) => v.toFixed(0)).join(' ') },
];
console.log(`model ${model.spec.name}, ${cores} cores, ${opts.seconds}s x ${opts.rounds} rounds (shared machine: numbers are noisy)\n`);
console.log(table(rows));
const summary = {
  bench: 'engine',
  model: model.spec.name,
  cores,
  total_threads: totalThreads,
  batch,
  pool_size: sizes.poolSize,
  intra_op_threads: intra,
  bare_images_per_s: Math.round(bareIps * 10) / 10,
  pool_images_per_s: Math.round(poolIps * 10) / 10,
  pool_mean_batch: Math.round(poolBatchMean * 100) / 100,
  bare_best_images_per_s: Math.round(bareBest * 10) / 10,
  pool_best_images_per_s: Math.round(poolBest * 10) / 10,
  ratio_pool_over_bare: Math.round((poolIps / bareIps) * 1000) / 1000,
  ratio_best: Math.round((poolBest / bareBest) * 1000) / 1000,
  target: 0.9,
};
console.log(`\n${JSON.stringify(summary)}`);
// Kept for comparison between runs (bench/results is git-ignored).
const resultsDir = path.resolve(import.meta.dirname, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(path.join(resultsDir, 'engine.json'), `${JSON.stringify({ at: new Date().toISOString(), ...summary, bare_rounds: bareRates, pool_rounds: poolRates }, null, 2)}\n`);
