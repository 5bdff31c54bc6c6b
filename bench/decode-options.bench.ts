/**
 * Cheaper decoding and scaling, and what each choice does to the model's
 * inputs, in one run (issue 14, point 4):
 *  - CPU per frame of one single-threaded ffmpeg on the held-out 720p clip,
 *    every frame scaled (as drop_latest scales them) and sampled at 5 fps;
 *  - top-1 of a centre-crop classifier and the mean byte difference of its
 *    inputs: scaling options on the COCO photos, decoding options on the
 *    clip's frames at 5 fps, each against what it would replace.
 * The yardstick for "changes the model's inputs": how much the service's own
 * two resamplers (sharp for POST /predict, ffmpeg for cameras) differ on the
 * same photos with the same geometry.
 * Prints a table, then one JSON line.
 *
 *   npm run bench:decode-options [-- --model mobilenet_v2_int8 --repeats 3 --sample-fps 5]
 */
import { spawnSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import { sessionOptions } from '../src/engine/session-options.js';
import { geometryFilter } from '../src/ingest/ffmpeg-args.js';
import { identityTransform } from '../src/models/geometry.js';
import { getDecoder } from '../src/models/postprocess/index.js';
import { preprocessInto } from '../src/models/preprocess.js';
import { inputDims } from '../src/models/tensor.js';
import { cocoPicture, loadModel, postprocess } from '../test/engine/helpers.js';
import { COCO_PHOTOS, fixturePath } from '../test/helpers/fixtures.js';
import { heldOutClip } from './lib/clips.js';
import { ffmpegCpuSeconds } from './lib/cpu.js';
import { flags, median, table } from './lib/report.js';

const opts = flags({ model: 'mobilenet_v2_int8', repeats: 3, sample_fps: 5 });
const model = await loadModel(opts.model);
const input = model.spec.input;
if (input.resize !== 'center_crop') throw new Error(`--model must be a center_crop model (the options compared are crop and scale steps), ${opts.model} is ${input.resize}`);
const { width: W, height: H } = input;
const frameBytes = W * H * 3;

interface Variant {
  name: string;
  /** Decoder options (before -i). */
  decode: string[];
  /** Model-geometry filter steps after sampling. */
  filter: string;
}

const cover = `max(${W}/iw,${H}/ih)`;
const before: Variant = {
  name: 'scale-then-crop (before)',
  decode: [],
  filter: `scale=w='max(${W},round(iw*${cover}))':h='max(${H},round(ih*${cover}))':flags=bilinear,setsar=1,format=rgb24,crop=${W}:${H}:'floor((in_w-${W})/2)':'floor((in_h-${H})/2)'`,
};
const service: Variant = { name: 'crop-then-scale (service)', decode: [], filter: geometryFilter(input) };
const withFlags = (name: string, flags: string): Variant => ({ name, decode: [], filter: service.filter.replace('flags=bilinear', `flags=${flags}`) });
/** Each variant and what it is compared with: scaling options with the path before, decoding options with the service's. */
const COMPARISONS: [Variant, Variant][] = [
  [service, before],
  [withFlags('crop-then-scale fast_bilinear', 'fast_bilinear'), before],
  [withFlags('crop-then-scale area', 'area'), before],
  [{ name: '-flags2 +fast', decode: ['-flags2', '+fast'], filter: service.filter }, service],
  [{ name: '-skip_loop_filter all', decode: ['-skip_loop_filter', 'all'], filter: service.filter }, service],
];
const CONFIDENT = 0.5;

function ffmpeg(args: string[]): Buffer {
  const res = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-threads', '1', '-filter_complex_threads', '1', ...args], { maxBuffer: 1 << 30 });
  if (res.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${res.stderr.toString()}`);
  return res.stdout;
}

const sampled = (v: Variant, fps: number): string[] => ['-filter_complex', `[0:v:0]${fps > 0 ? `fps=${fps},` : ''}${v.filter}[m]`, '-map', '[m]', '-f', 'rawvideo', '-pix_fmt', 'rgb24'];

/** Raw model-geometry frames from one ffmpeg run. */
function frames(source: string, v: Variant, fps: number): Uint8Array[] {
  const out = ffmpeg([...v.decode, '-i', source, ...sampled(v, fps), 'pipe:1']);
  if (out.length % frameBytes !== 0) throw new Error(`ffmpeg (${v.name}) wrote ${out.length} bytes, not a multiple of ${frameBytes}`);
  return Array.from({ length: out.length / frameBytes }, (_, i) => new Uint8Array(out.buffer, out.byteOffset + i * frameBytes, frameBytes));
}

/** CPU ms per source frame of one ffmpeg run over the clip (median of the repeats). */
function cpuMs(args: string[], sourceFrames: number): number {
  const runs: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    const t0 = ffmpegCpuSeconds();
    ffmpeg(args);
    runs.push(((ffmpegCpuSeconds() - t0) * 1000) / sourceFrames);
  }
  return median(runs);
}

const session = await ort.InferenceSession.create(model.modelPath, sessionOptions('cpu', 0));
const tensorData = new Float32Array(frameBytes);
const feeds = { [input.name]: new ort.Tensor('float32', tensorData, inputDims(input, 1)) };
const decoder = getDecoder(model.spec.decoder);
const ctx = { spec: model.spec, labels: model.labels, transform: identityTransform(W, H), options: postprocess };

interface Top1 {
  label: string;
  score: number;
}
async function top1s(pictures: readonly Uint8Array[]): Promise<Top1[]> {
  const out: Top1[] = [];
  for (const rgb of pictures) {
    preprocessInto(input, rgb, tensorData, 0);
    out.push(decoder.decode((await session.run(feeds)) as never, 0, ctx).predictions[0] ?? { label: '', score: 0 });
  }
  return out;
}

/** How far one set of model inputs is from another: top-1 kept (all, and where the baseline was confident) and mean |Δ| per byte. */
interface Agreement {
  count: number;
  same: number;
  confidentSame: number;
  confident: number;
  meanAbsDiff: number;
}
async function agreement(a: readonly Uint8Array[], b: readonly Uint8Array[]): Promise<Agreement> {
  if (a.length !== b.length) throw new Error(`${a.length} frames against ${b.length}`);
  const [la, lb] = [await top1s(a), await top1s(b)];
  let sum = 0;
  for (let f = 0; f < a.length; f++) for (let i = 0; i < frameBytes; i++) sum += Math.abs(a[f]![i]! - b[f]![i]!);
  const confident = lb.filter((l) => l.score >= CONFIDENT).length;
  return {
    count: a.length,
    same: la.filter((l, i) => l.label === lb[i]!.label).length,
    confidentSame: la.filter((l, i) => lb[i]!.score >= CONFIDENT && l.label === lb[i]!.label).length,
    confident,
    meanAbsDiff: sum / (a.length * frameBytes),
  };
}

const photoFiles = await Promise.all(COCO_PHOTOS.map((f) => fixturePath('coco', f)));
const clip = await heldOutClip(20);
const clipFrames = 500; // 20 s at 25 fps
/** A variant's model inputs, made once: the reference is the baseline of several comparisons. */
function cached(cache: Map<Variant, Uint8Array[]>, make: (v: Variant) => Uint8Array[]): (v: Variant) => Uint8Array[] {
  return (v) => {
    let inputs = cache.get(v);
    if (!inputs) cache.set(v, (inputs = make(v)));
    return inputs;
  };
}
const photoInputs = cached(new Map(), (v) => photoFiles.map((p) => frames(p, v, 0)[0]!));
const clipInputs = cached(new Map(), (v) => frames(clip, v, opts.sample_fps));

// The yardstick: how much the service's own two resamplers disagree on the same photos
// (sharp for POST /predict, ffmpeg for cameras), both following resizePlan.
const sharpInputs = (await Promise.all(COCO_PHOTOS.map((f) => cocoPicture(f, input)))).map((p) => p.rgb);
const yardstick = await agreement(sharpInputs, photoInputs(service));

interface Result extends Record<string, unknown> {
  variant: string;
  against: string;
  cpuMsAll: number;
  cpuMsSampled: number;
  photos: Agreement | null;
  clip: Agreement;
}
const decodeOnly = cpuMs(['-i', clip, '-f', 'null', '-'], clipFrames);
const results: Result[] = [];
for (const [v, base] of [[before, before] as [Variant, Variant], ...COMPARISONS]) {
  const scalingOnly = v.decode.length === 0 && base.decode.length === 0;
  results.push({
    variant: v.name,
    against: base.name,
    cpuMsAll: cpuMs([...v.decode, '-i', clip, ...sampled(v, 0), '-y', '/dev/null'], clipFrames),
    cpuMsSampled: cpuMs([...v.decode, '-i', clip, ...sampled(v, opts.sample_fps), '-y', '/dev/null'], clipFrames),
    photos: scalingOnly ? await agreement(photoInputs(v), photoInputs(base)) : null,
    clip: await agreement(clipInputs(v), clipInputs(base)),
  });
}
await session.release();

const top1 = (a: Agreement | null): string => (a ? `${a.same}/${a.count}, ${a.confidentSame}/${a.confident}` : '-');
console.log(`${model.spec.name} (${W}x${H} center_crop); held-out 720p H.264 clip, ${clipFrames} frames, ffmpeg -threads 1, CPU the median of ${opts.repeats} runs`);
console.log(`decode alone: ${decodeOnly.toFixed(3)} ms per source frame`);
console.log(`yardstick, the service's two resamplers on the ${COCO_PHOTOS.length} COCO photos (sharp for POST /predict vs ffmpeg for cameras): same top-1 ${top1(yardstick)} (all, where score ≥ ${CONFIDENT}), mean |Δ| ${yardstick.meanAbsDiff.toFixed(2)} per byte\n`);
console.log(
  table(
    results.map((r) => ({
      variant: r.variant,
      against: r.against,
      'ms/frame, all scaled': r.cpuMsAll.toFixed(3),
      [`ms/source frame at ${opts.sample_fps} fps`]: r.cpuMsSampled.toFixed(3),
      'photos: same top-1 (all, confident)': top1(r.photos),
      'photos: mean |Δ|': r.photos ? r.photos.meanAbsDiff.toFixed(2) : '-',
      [`clip at ${opts.sample_fps} fps: same top-1 (all, confident)`]: top1(r.clip),
      'clip: mean |Δ|': r.clip.meanAbsDiff.toFixed(2),
    })),
  ),
);
console.log(JSON.stringify({ bench: 'decode-options', model: model.spec.name, clipFrames, photos: COCO_PHOTOS.length, decodeOnlyMs: decodeOnly, yardstick, results }));
