/**
 * What benchmarks run on: a model from the registry (APP_MODELS_DIR, the
 * model cache, ../shared) or the test fixtures, and COCO pictures at model
 * geometry — decoded with sharp, or read as raw packed RGB from a directory
 * (machines without sharp: the GPU test machine).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/schema.js';
import { resolveModel } from '../../src/models/registry.js';
import type { ModelInputSpec, ResolvedModel } from '../../src/models/types.js';
import { cocoPicture, loadModel, type Picture } from '../../test/engine/helpers.js';

export const BENCH_PHOTOS = ['000000000139.jpg', '000000000776.jpg', '000000000802.jpg', '000000000885.jpg'];

export async function benchModel(name: string): Promise<ResolvedModel> {
  const cfg = { ...defaultConfig().model, models_dir: process.env.APP_MODELS_DIR ?? '' };
  try {
    return await resolveModel(name, cfg);
  } catch (err) {
    // Not on disk: the test fixtures can fetch the downloadable ones.
    try {
      return await loadModel(name);
    } catch {
      throw err;
    }
  }
}

/** Subdirectory of a pictures directory for one model geometry. */
export function picturesSubdir(input: Pick<ModelInputSpec, 'width' | 'height' | 'resize'>): string {
  return `${input.width}x${input.height}-${input.resize}`;
}

export async function benchPictures(input: ModelInputSpec, dir: string): Promise<Picture[]> {
  if (dir === '') return Promise.all(BENCH_PHOTOS.map((f) => cocoPicture(f, input)));
  const sub = join(dir, picturesSubdir(input));
  const files = readdirSync(sub).filter((f) => f.endsWith('.rgb')).sort();
  const size = input.width * input.height * 3;
  const pictures = files.map((f) => ({ name: f, rgb: new Uint8Array(readFileSync(join(sub, f))), width: input.width, height: input.height }));
  if (pictures.length === 0 || pictures.some((p) => p.rgb.length !== size)) {
    throw new Error(`${sub} must hold .rgb files of ${input.width}x${input.height}x3 = ${size} bytes each`);
  }
  return pictures;
}
