/**
 * MB/s of POST /predict body parsing: our in-memory multipart parser
 * (src/api/multipart.ts, parts are views into the body) against
 * @fastify/busboy (streaming, copies parts out), same bodies, one run.
 *
 *   npm run bench:multipart [-- --rounds 5 --megabytes 200]
 */
import { randomBytes } from 'node:crypto';
import { findFilePart } from '../src/api/multipart.js';
import { busboyParts } from '../test/api/busboy-oracle.js';
import { flags, median, table } from './lib/report.js';

const opts = flags({ rounds: 5, megabytes: 200 });
const BOUNDARY = '----formdata-bench-7d9f2a';
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

function body(fileBytes: number): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{"camera":"x"}\r\n`),
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    randomBytes(fileBytes),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

async function mbPerSecond(raw: Buffer, parse: (raw: Buffer) => Promise<number> | number): Promise<number> {
  const repeats = Math.max(1, Math.round((opts.megabytes * 1e6) / raw.length / opts.rounds));
  const rates: number[] = [];
  for (let i = 0; i < repeats; i++) await parse(raw); // warm-up round, not timed
  for (let r = 0; r < opts.rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < repeats; i++) if ((await parse(raw)) <= 0) throw new Error('no file part');
    rates.push((raw.length * repeats) / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return median(rates);
}

const rows = [];
for (const size of [64 * 1024, 1024 * 1024, 10 * 1024 * 1024]) {
  const raw = body(size);
  const ours = await mbPerSecond(raw, (b) => findFilePart(b, CONTENT_TYPE).data.length);
  const busboy = await mbPerSecond(raw, async (b) => (await busboyParts(b, CONTENT_TYPE)).find((p) => p.name === 'file')?.data.length ?? 0);
  rows.push({ body_kb: Math.round(raw.length / 1024), ours_mb_s: Math.round(ours), busboy_mb_s: Math.round(busboy), ratio: Number((ours / busboy).toFixed(1)) });
}
console.log(table(rows));
console.log(JSON.stringify(rows));
