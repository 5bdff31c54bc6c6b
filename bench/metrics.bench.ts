/**
 * Time to render GET /metrics (Prometheus text) for N cameras, from a
 * realistic snapshot. Rounds alternate nothing else: the machine is shared,
 * so the median and best of several rounds are reported.
 *
 *   npm run bench:metrics [-- --cameras 64 --renders 2000 --rounds 5]
 */
import { toPrometheus } from '../src/telemetry/prometheus.js';
import { realisticSnapshot } from '../test/telemetry/snapshot-fixture.js';
import { flags, median, table } from './lib/report.js';

const opts = flags({ cameras: 64, renders: 2000, rounds: 5 });
const snapshot = realisticSnapshot();
const templates = snapshot.cameras;
snapshot.cameras = Array.from({ length: opts.cameras }, (_, i) => ({ ...templates[i % templates.length]!, id: `cam-${i}` }));

// Warm up the JIT (and any lazily built state) before timing.
for (let i = 0; i < 200; i++) await toPrometheus(snapshot);
const perRender: number[] = [];
let bytes = 0;
for (let r = 0; r < opts.rounds; r++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < opts.renders; i++) bytes = (await toPrometheus(snapshot)).length;
  perRender.push(Number(process.hrtime.bigint() - start) / 1e6 / opts.renders);
}
const result = { cameras: opts.cameras, bytes, median_ms: median(perRender), best_ms: Math.min(...perRender) };
console.log(table([{ cameras: result.cameras, bytes: result.bytes, 'median ms/render': result.median_ms.toFixed(3), 'best ms/render': result.best_ms.toFixed(3) }]));
console.log(JSON.stringify(result));
