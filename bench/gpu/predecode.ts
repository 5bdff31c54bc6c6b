/**
 * Writes the benchmark's COCO photos as raw packed RGB at each manifest
 * geometry (`<out>/<W>x<H>-<resize>/<photo>.rgb`), exactly as the engine
 * gets them from the rings, for machines without sharp (bench --pictures).
 *
 *   node --import tsx bench/gpu/predecode.ts <out-dir>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifest } from '../../src/models/registry.js';
import { cocoPicture } from '../../test/engine/helpers.js';
import { BENCH_PHOTOS, picturesSubdir } from '../lib/inputs.js';

const out = process.argv[2];
if (out === undefined) throw new Error('usage: predecode.ts <out-dir>');
const seen = new Set<string>();
for (const spec of loadManifest()) {
  const sub = picturesSubdir(spec.input);
  if (seen.has(sub)) continue;
  seen.add(sub);
  mkdirSync(join(out, sub), { recursive: true });
  for (const photo of BENCH_PHOTOS) {
    const picture = await cocoPicture(photo, spec.input);
    writeFileSync(join(out, sub, `${photo}.rgb`), picture.rgb);
  }
  console.log(`${sub}: ${BENCH_PHOTOS.length} pictures`);
}
