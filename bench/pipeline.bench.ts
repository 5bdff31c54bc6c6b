/**
 * Cameras per CPU core, in one run, on a held-out 720p H.264 clip (25 fps,
 * keyframe every 20 frames; made from the COCO slideshow with noise):
 *  1. ceiling: per-frame CPU of decoding, of scaling and of inference
 *     (ffmpeg -threads 1 and bare onnxruntime, measured now), the
 *     decode+inference ceiling (frames/s when every decoded frame is
 *     inferred) and the 5 fps cameras the cores allow;
 *  2. overload: 16 cameras × 25 fps, per strategy;
 *  3. SLO: N cameras × 5 fps stepping up until the SLO breaks (p95 < 150 ms and
 *     ≥ 99 % of the configured frames inferred), bisected to one camera between
 *     the last count held and the first broken, then 2× and 3× the last count
 *     held, per strategy (no congestion collapse: inferred/s stays ≥ 0.9 of the best);
 *  4. keyframes: N cameras at 1 fps (0.8 s GOP) and 0.5 fps (2 s GOP), decode auto vs all,
 *     ffmpeg CPU per camera.
 * Each point: inferred/s, share of offered frames dropped by reason, ffmpeg CPU
 * per inferred frame, latency p50/p95/p99, and how busy the whole machine was
 * (it may be shared). Prints tables, then one JSON line.
 *
 *   npm run bench:pipeline [-- --sections ceiling,overload,slo,keyframes --strategies drop_latest,adaptive --seconds 6]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { defaultConfig, type CameraConfig, type DecodeMode, type StreamStrategy } from '../src/config/schema.js';
import { DROP_REASONS } from '../src/contracts/drops.js';
import { geometryFilter } from '../src/ingest/ffmpeg-args.js';
import type { StreamEvent } from '../src/contracts/events.js';
import { cocoPicture, loadModel } from '../test/engine/helpers.js';
import { fileCamera, PROJECT_ROOT, testConfig, waitUntilStreaming, withModelFiles } from '../test/helpers/service.js';
import { heldOutClip } from './lib/clips.js';
import { compiled } from './lib/compiled.js';
import { ffmpegCpuSeconds, machineTimes } from './lib/cpu.js';
import { bareRate } from './lib/rates.js';
import { flags, sleep, table } from './lib/report.js';

const opts = flags({
  model: 'mobilenet_v2_int8',
  sections: 'ceiling,overload,slo,keyframes',
  strategies: 'drop_latest,adaptive',
  seconds: 6,
  warmup_seconds: 3,
  /** Extra settling time for the adaptive strategy before measuring (its first cut needs sustain_s, then min_change_interval_s). */
  adapt_seconds: 20,
  batch: 8,
  overload_cameras: 16,
  overload_fps: 25,
  slo_fps: 5,
  slo_start: 16,
  slo_step: 8,
  slo_p95_ms: 150,
  max_cameras: 128,
  keyframe_cameras: 8,
  /** Overrides streams.decoder_nice (-1 = the configured default). */
  decoder_nice: -1,
  /** Overrides streams.rate_control.target_utilization (-1 = the configured default). */
  target_utilization: -1,
  /** Overrides engine.max_wait_ms (-1 = the configured default). */
  max_wait_ms: -1,
  /** Only these points, e.g. `drop_latest:96:5,adaptive:64:5` (strategy:cameras:fps); skips the sections. */
  points: '',
});
const sections = new Set(opts.points ? [] : opts.sections.split(','));
const strategies = opts.strategies.split(',') as StreamStrategy[];
const { startService } = await compiled<typeof import('../src/app/service.js')>('app/service.js');
const cores = os.availableParallelism();
const model = await loadModel(opts.model);
const spec = model.spec;
const batch = spec.input.dynamic_batch ? opts.batch : 1;
const clip = await heldOutClip(20);
const clip2s = await heldOutClip(50);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** CPU seconds per frame of one ffmpeg run on the clip (single-threaded, as many cameras on few cores run). */
function ffmpegCpuPerFrame(args: string[], frames: number): number {
  const before = ffmpegCpuSeconds();
  const res = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-threads', '1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (res.status !== 0) throw new Error(`ffmpeg failed: ${res.stderr.toString()}`);
  return (ffmpegCpuSeconds() - before) / frames;
}

interface Point {
  strategy: StreamStrategy;
  cameras: number;
  fps: number;
  decode: DecodeMode;
  inferredPerS: number;
  /** Frames that reached the rings per second: below cameras × fps, the decoders lag behind the sources. */
  offeredPerS: number;
  /** inferred / (cameras × fps): the share of what the cameras ask for that was inferred. */
  delivered: number;
  /** Dropped frames by reason, as a share of frames that reached the rings. */
  dropShare: Record<string, number>;
  ffmpegCpuMsPerInferred: number;
  ffmpegCpuPerCamera: number;
  machineBusy: number;
  meanEffectiveFps: number;
  keyframeCameras: number;
  rateChanges: number;
  p50: number;
  p95: number;
  p99: number;
}

async function run(strategy: StreamStrategy, n: number, fps: number, source = clip, decode: DecodeMode = 'auto'): Promise<Point> {
  const cameras: CameraConfig[] = Array.from({ length: n }, (_, i) => fileCamera(`cam${i}`, source, { fps, realtime: true, decode }));
  const defaults = defaultConfig().streams;
  const streams = {
    strategy,
    max_cameras: Math.max(16, n),
    decoder_nice: opts.decoder_nice >= 0 ? opts.decoder_nice : defaults.decoder_nice,
    rate_control: { ...defaults.rate_control, ...(opts.target_utilization > 0 ? { target_utilization: opts.target_utilization } : {}) },
  };
  const config = await withModelFiles(testConfig({ model: { name: opts.model }, engine: { max_batch: batch, ...(opts.max_wait_ms >= 0 ? { max_wait_ms: opts.max_wait_ms } : {}) }, cameras, streams }));
  const service = await startService(config, { projectRoot: PROJECT_ROOT });
  const totals = () => {
    const t = { in: 0, out: 0, drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<string, number>, changes: 0 };
    for (const handle of service.cameras.list()) {
      const ingest = handle.status();
      const engine = service.engine.cameraStats(handle.id);
      t.in += ingest.frames_in;
      t.out += engine?.frames_out ?? 0;
      t.changes += ingest.rate_changes ?? 0;
      for (const [reason, count] of Object.entries({ ...ingest.drops, ...(engine?.drops ?? {}) })) t.drops[reason] = (t.drops[reason] ?? 0) + count;
    }
    return t;
  };
  await waitUntilStreaming(service, 120_000);
  await sleep((opts.warmup_seconds + (strategy === 'adaptive' ? opts.adapt_seconds : 0)) * 1000);
  const latencies: number[] = [];
  const stop = service.events.subscribe((e: StreamEvent) => latencies.push(e.latency_ms));
  const start = totals();
  const cpu0 = ffmpegCpuSeconds();
  const m0 = machineTimes();
  const t0 = performance.now();
  await sleep(opts.seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const end = totals();
  const cpu = ffmpegCpuSeconds() - cpu0;
  const m1 = machineTimes();
  stop();
  const statuses = service.cameras.list().map((h) => h.status());
  await service.stop();
  latencies.sort((a, b) => a - b);
  const arrived = Math.max(1, end.in - start.in);
  const inferred = latencies.length;
  return {
    strategy,
    cameras: n,
    fps,
    decode,
    inferredPerS: inferred / elapsed,
    offeredPerS: (end.in - start.in) / elapsed,
    delivered: inferred / (n * fps * elapsed),
    dropShare: Object.fromEntries(DROP_REASONS.map((r) => [r, ((end.drops[r] ?? 0) - (start.drops[r] ?? 0)) / arrived])),
    ffmpegCpuMsPerInferred: inferred > 0 ? (cpu * 1000) / inferred : Number.NaN,
    ffmpegCpuPerCamera: cpu / elapsed / n,
    machineBusy: (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total),
    meanEffectiveFps: statuses.reduce((s, c) => s + (c.fps_effective ?? fps), 0) / n,
    keyframeCameras: statuses.filter((c) => c.decode?.keyframes_only).length,
    rateChanges: end.changes,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const dropText = (d: Record<string, number>): string =>
  Object.entries(d).filter(([, v]) => v > 0.0005).map(([k, v]) => `${k} ${pct(v)}`).join(', ') || '-';
const row = (p: Point): Record<string, string | number> => ({
  strategy: p.strategy,
  cameras: p.cameras,
  'fps/cam': p.fps,
  decode: p.decode,
  'offered/s': p.offeredPerS,
  'inferred/s': p.inferredPerS,
  delivered: pct(p.delivered),
  'drops (of offered)': dropText(p.dropShare),
  'ffmpeg ms/inferred': p.ffmpegCpuMsPerInferred,
  'eff fps': p.meanEffectiveFps,
  'kf cams': p.keyframeCameras,
  'p50 ms': p.p50,
  'p95 ms': p.p95,
  'p99 ms': p.p99,
  'machine busy': pct(p.machineBusy),
});
const heldSlo = (p: Point): boolean => p.p95 < opts.slo_p95_ms && p.delivered >= 0.99;
const log = (text: string): void => console.error(text);
const summary: Record<string, unknown> = { bench: 'pipeline', model: spec.name, batch, cores, clip: 'held-out 720p H.264 25 fps, GOP 20', loadavg_start: os.loadavg() };

let ceiling: { decodeMs: number; scaleMs: number; inferMs: number; framesPerS: number; cameras5fps: number } | null = null;
if (sections.has('ceiling')) {
  const frames = 500; // 20 s at 25 fps
  const decode = ffmpegCpuPerFrame(['-i', clip, '-f', 'null', '-'], frames);
  // The service's own geometry filter (for a centre-crop model: crop, then scale).
  const decodeScale = ffmpegCpuPerFrame(['-i', clip, '-vf', geometryFilter(spec.input), '-f', 'rawvideo', '-y', '/dev/null'], frames);
  const pictures = await Promise.all(['000000000139.jpg', '000000000776.jpg', '000000000802.jpg', '000000000885.jpg'].map((f) => cocoPicture(f, spec.input)));
  const bare = await bareRate(model, pictures, { seconds: opts.seconds, warmupSeconds: opts.warmup_seconds, batch, threads: cores });
  const infer = cores / bare; // CPU seconds per inferred frame with every core busy
  const scale = Math.max(0, decodeScale - decode);
  ceiling = {
    decodeMs: decode * 1000,
    scaleMs: scale * 1000,
    inferMs: infer * 1000,
    framesPerS: cores / (decodeScale + infer),
    cameras5fps: cores / (25 * decode + opts.slo_fps * (scale + infer)),
  };
  summary.ceiling = ceiling;
  log('done: ceiling');
}

const overload: Point[] = [];
if (sections.has('overload')) {
  for (const strategy of strategies) {
    overload.push(await run(strategy, opts.overload_cameras, opts.overload_fps));
    log(`done: overload ${strategy}`);
  }
  summary.overload = overload;
}

const slo: Record<string, { points: Point[]; held: number; best: number; at2x?: Point; at3x?: Point }> = {};
if (sections.has('slo')) {
  for (const strategy of strategies) {
    const points: Point[] = [];
    let held = 0;
    let broken = 0;
    for (let n = opts.slo_start; n <= opts.max_cameras; n += opts.slo_step) {
      const p = await run(strategy, n, opts.slo_fps);
      points.push(p);
      log(`done: slo ${strategy} ${n} cameras (${heldSlo(p) ? 'held' : 'broken'})`);
      if (!heldSlo(p)) {
        broken = n;
        break;
      }
      held = n;
    }
    // Between the last count held and the first broken one, bisect down to one camera.
    while (held > 0 && broken - held > 1) {
      const n = Math.floor((held + broken) / 2);
      const p = await run(strategy, n, opts.slo_fps);
      points.push(p);
      log(`done: slo ${strategy} ${n} cameras (${heldSlo(p) ? 'held' : 'broken'})`);
      if (heldSlo(p)) held = n;
      else broken = n;
    }
    points.sort((a, b) => a.cameras - b.cameras);
    // Broken at the first step (a busy machine): halve until a count holds, so 2× and 3× still mean something.
    for (let n = Math.floor(opts.slo_start / 2); held === 0 && n >= 1; n = Math.floor(n / 2)) {
      const p = await run(strategy, n, opts.slo_fps);
      points.unshift(p);
      log(`done: slo ${strategy} ${n} cameras (${heldSlo(p) ? 'held' : 'broken'})`);
      if (heldSlo(p)) held = n;
    }
    const entry: (typeof slo)[string] = { points, held, best: 0 };
    if (held > 0) {
      for (const k of [2, 3] as const) {
        const n = Math.min(opts.max_cameras, held * k);
        const p = await run(strategy, n, opts.slo_fps);
        points.push(p);
        if (k === 2) entry.at2x = p;
        else entry.at3x = p;
        log(`done: slo ${strategy} ${k}× = ${n} cameras`);
      }
    }
    entry.best = Math.max(...points.map((p) => p.inferredPerS));
    slo[strategy] = entry;
  }
  summary.slo = slo;
}

const extra: Point[] = [];
for (const point of opts.points ? opts.points.split(',') : []) {
  const [strategy, cameras, fps] = point.split(':');
  extra.push(await run(strategy as StreamStrategy, Number(cameras), Number(fps ?? opts.slo_fps)));
  log(`done: ${point}`);
}
if (extra.length > 0) summary.points = extra;

const keyframes: Point[] = [];
if (sections.has('keyframes')) {
  for (const [source, fps] of [[clip, 1], [clip2s, 0.5]] as const) {
    for (const decode of ['all', 'auto'] as const) {
      keyframes.push(await run('adaptive', opts.keyframe_cameras, fps, source, decode));
      log(`done: keyframes ${fps} fps ${decode}`);
    }
  }
  summary.keyframes = keyframes;
}

console.log(`model ${spec.name}, batch ${batch}, ${cores} cores, ${opts.seconds}s per point; load average at start ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('(ffmpeg, inference and the service share the same cores; "machine busy" is the whole machine, other users included)\n');
if (ceiling) {
  console.log(`ceiling, per 720p frame (ffmpeg -threads 1, bare onnxruntime on ${cores} threads): decode ${ceiling.decodeMs.toFixed(2)} ms, scale to ${spec.input.width}² rgb24 ${ceiling.scaleMs.toFixed(2)} ms, inference ${ceiling.inferMs.toFixed(2)} ms CPU`);
  console.log(`  decode+inference ceiling: ${ceiling.framesPerS.toFixed(1)} frames/s; ${opts.slo_fps} fps cameras the cores allow: ${ceiling.cameras5fps.toFixed(1)}\n`);
}
if (overload.length > 0) {
  console.log(`overload: ${opts.overload_cameras} cameras × ${opts.overload_fps} fps (${opts.overload_cameras * opts.overload_fps} fps offered)`);
  console.log(table(overload.map(row)));
  if (ceiling) for (const p of overload) console.log(`  ${p.strategy}: ${(p.inferredPerS / ceiling.framesPerS).toFixed(2)} of the ceiling (target ≥ 0.8)`);
  console.log('');
}
for (const [strategy, entry] of Object.entries(slo)) {
  console.log(`SLO steps, ${strategy}: cameras × ${opts.slo_fps} fps; held = p95 < ${opts.slo_p95_ms} ms and ≥ 99 % of configured frames inferred`);
  console.log(table(entry.points.map(row)));
  const allowed = ceiling ? ` = ${(entry.held / ceiling.cameras5fps).toFixed(2)} of the ${ceiling.cameras5fps.toFixed(1)} the ceiling allows (target ≥ 0.8)` : '';
  console.log(`  held at the SLO: ${entry.held} cameras${allowed}`);
  for (const [k, p] of [['2×', entry.at2x], ['3×', entry.at3x]] as const) {
    if (p) console.log(`  at ${k} (${p.cameras} cameras): ${p.inferredPerS.toFixed(1)} inferred/s = ${(p.inferredPerS / entry.best).toFixed(2)} of the best ${entry.best.toFixed(1)} (target ≥ 0.9)`);
  }
  console.log('');
}
if (extra.length > 0) console.log(`${table(extra.map(row))}\n`);
if (keyframes.length > 0) {
  console.log(`keyframe-only decoding: ${opts.keyframe_cameras} cameras, ffmpeg CPU per camera (share of one core)`);
  console.log(table(keyframes.map((p) => ({ ...row(p), 'ffmpeg CPU/camera': pct(p.ffmpegCpuPerCamera) }))));
  for (let i = 0; i + 1 < keyframes.length; i += 2) {
    const all = keyframes[i] as Point;
    const auto = keyframes[i + 1] as Point;
    console.log(`  ${all.fps} fps: decode all ${pct(all.ffmpegCpuPerCamera)} vs auto ${pct(auto.ffmpegCpuPerCamera)} of a core per camera = ${(all.ffmpegCpuPerCamera / auto.ffmpegCpuPerCamera).toFixed(1)}× less`);
  }
}
summary.loadavg_end = os.loadavg();
const round = (_key: string, v: unknown): unknown => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v);
console.log(`\n${JSON.stringify(summary, round)}`);
process.exit(0);
