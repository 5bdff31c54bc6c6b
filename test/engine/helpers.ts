/** Shared set-up for engine tests: real models, real COCO pictures in real rings. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defaultConfig, type EngineConfig } from '../../src/config/schema.js';
import type { FrameArena } from '../../src/frames/ring.js';
import { decodeImageForModel } from '../../src/models/image.js';
import { findSpec, loadManifest, resolveModel } from '../../src/models/registry.js';
import type { ModelInputSpec, PostprocessOptions, ResolvedModel } from '../../src/models/types.js';
import type { EngineResult, InferenceEngine } from '../../src/engine/engine.js';
import { fixturePath } from '../helpers/fixtures.js';

export const projectRoot = path.resolve(import.meta.dirname, '../..');

/** A manifest model, its files found (or fetched and verified) by the shared fixtures helper. */
export async function loadModel(name: string): Promise<ResolvedModel> {
  const cfg = defaultConfig().model;
  const spec = findSpec(loadManifest(), name, cfg.aliases);
  const modelFile = await fixturePath('model', spec.file);
  await fixturePath('model', spec.labels_file);
  return resolveModel(name, { ...cfg, models_dir: path.dirname(modelFile) }, { projectRoot });
}

export const postprocess: PostprocessOptions = { topK: 3, personScoreThreshold: 0.6, detectionScoreThreshold: 0.3, nmsIouThreshold: 0.45 };

export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return { ...defaultConfig().engine, provider: 'cpu', pool_size: 1, intra_op_threads: 1, ...overrides };
}

export interface Picture {
  name: string;
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** A COCO photo scaled to the model geometry exactly as ingest would deliver it. */
export async function cocoPicture(file: string, input: ModelInputSpec): Promise<Picture> {
  const bytes = await readFile(await fixturePath('coco', file));
  const { rgb, transform } = await decodeImageForModel(bytes, input, { maxPixels: 40_000_000 });
  return { name: file, rgb: new Uint8Array(rgb), width: transform.sourceWidth, height: transform.sourceHeight };
}

/** Writes one frame into a ring as the decoder worker would; returns its frame number (-1 when no slot was free). */
export function writeFrame(arena: FrameArena, ringIndex: number, picture: Picture, capturedAtMs = Date.now()): number {
  const ring = arena.ring(ringIndex);
  const slot = ring.beginWrite();
  if (slot < 0) return -1;
  ring.pixels(slot).set(picture.rgb);
  ring.setSourceSize(picture.width, picture.height);
  return ring.commitWrite(slot, capturedAtMs);
}

/** Collects results per camera until `done` says enough (or the test times out). */
export function collect(engine: InferenceEngine, done: (all: EngineResult[]) => boolean): { results: EngineResult[]; finished: Promise<EngineResult[]>; stop: () => void } {
  const results: EngineResult[] = [];
  let resolve!: (r: EngineResult[]) => void;
  const finished = new Promise<EngineResult[]>((r) => (resolve = r));
  const stop = engine.onResult((e) => {
    results.push(e);
    if (done(results)) resolve(results);
  });
  return { results, finished, stop };
}

export function byCamera(results: readonly EngineResult[], camera: string): EngineResult[] {
  return results.filter((r) => r.camera === camera);
}
