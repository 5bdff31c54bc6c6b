/**
 * The real models end to end through our code: COCO photos → image.ts →
 * preprocess → bare onnxruntime-node → our decoders. Expected results are the
 * sanity results in ../shared/models/MODELS.md.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { decodeImageForModel } from '../../src/models/image.js';
import { getDecoder, type ModelOutputs } from '../../src/models/postprocess/index.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { resolveModel } from '../../src/models/registry.js';
import { inputDims } from '../../src/models/tensor.js';
import type { InferenceOutput, InputTransform, PostprocessOptions, ResolvedModel } from '../../src/models/types.js';
import { fixturePath } from '../helpers/fixtures.js';

const options: PostprocessOptions = { topK: 3, personScoreThreshold: 0.6, detectionScoreThreshold: 0.3, nmsIouThreshold: 0.45 };
const coco = (id: number): string => `${String(id).padStart(12, '0')}.jpg`;

interface Loaded {
  model: ResolvedModel;
  session: ort.InferenceSession;
}

async function load(name: string, file: string, labels: string): Promise<Loaded> {
  const dir = dirname(await fixturePath('model', file));
  await fixturePath('model', labels);
  const cfg = { ...defaultConfig().model, models_dir: dir, cache_dir: '' };
  const model = await resolveModel(name, cfg);
  const session = await ort.InferenceSession.create(model.modelPath, { intraOpNumThreads: 1 });
  return { model, session };
}

async function prepare(m: ResolvedModel, id: number): Promise<{ rgb: Buffer; transform: InputTransform }> {
  const bytes = await readFile(await fixturePath('coco', coco(id)));
  return decodeImageForModel(bytes, m.spec.input, { maxPixels: 40_000_000 });
}

async function infer(l: Loaded, ids: number[]): Promise<InferenceOutput[]> {
  const { spec } = l.model;
  const images = await Promise.all(ids.map((id) => prepare(l.model, id)));
  const tensor = new Float32Array(ids.length * spec.input.width * spec.input.height * 3);
  images.forEach((img, i) => preprocessInto(spec.input, img.rgb, tensor, i));
  const out = await l.session.run({ [spec.input.name]: new ort.Tensor('float32', tensor, inputDims(spec.input, ids.length)) });
  const decoder = getDecoder(spec.decoder);
  return images.map((img, i) =>
    decoder.decode(out as unknown as ModelOutputs, i, { spec, labels: l.model.labels, transform: img.transform, options }),
  );
}

describe('mobilenet_v2_int8 (classifier alias)', () => {
  let l: Loaded;
  beforeAll(async () => {
    l = await load('classifier', 'mobilenetv2-12-int8.onnx', 'imagenet_labels.json');
  });

  it.each([
    [776, 'teddy'],
    [802, 'refrigerator'],
    [885, 'racket'],
  ])('top-1 of %i is %s', async (id, label) => {
    const [r] = await infer(l, [id]);
    expect(r.predictions).toHaveLength(3);
    expect(r.predictions[0].label).toBe(label);
    expect(r.predictions[0].score).toBeGreaterThan(r.predictions[1].score);
  });

  it('gives each image of a dynamic batch the same answer as alone', async () => {
    const batch = await infer(l, [776, 802, 885]);
    expect(batch.map((r) => r.predictions[0].label)).toEqual(['teddy', 'refrigerator', 'racket']);
    const [alone] = await infer(l, [802]);
    expect(batch[1].predictions[0].score).toBeCloseTo(alone.predictions[0].score, 4);
  });
});

describe('yolox_nano (person_detector alias)', () => {
  let l: Loaded;
  beforeAll(async () => {
    l = await load('person_detector', 'yolox_nano.onnx', 'coco_labels.txt');
  });

  it.each([139, 885, 4134])('finds a person in %i', async (id) => {
    const [r] = await infer(l, [id]);
    expect(r.has_person).toBe(true);
    expect(r.predictions[0].label).toBe('person');
    expect(r.predictions[0].score).toBeGreaterThan(0.6);
    const people = r.detections!.filter((d) => d.label === 'person');
    expect(people.length).toBeGreaterThan(0);
    // Boxes are in source pixels (COCO photos are ≤ 640 wide), well formed.
    for (const d of r.detections!) {
      expect(d.box[0]).toBeLessThan(d.box[2]);
      expect(d.box[1]).toBeLessThan(d.box[3]);
      expect(d.box[2]).toBeLessThanOrEqual(640);
    }
  });

  it.each([632, 776, 2592])('finds no person in %i', async (id) => {
    const [r] = await infer(l, [id]);
    expect(r.has_person).toBe(false);
    expect(r.predictions[0].score).toBeLessThan(0.05);
    expect(r.detections!.some((d) => d.label === 'person')).toBe(false);
  });

  it('places the tennis player of 885 where the photo has him', async () => {
    const [r] = await infer(l, [885]);
    const best = r.detections!.find((d) => d.label === 'person')!;
    // The player stands in the middle of the 640x427 frame: his box centre is there too.
    const cx = (best.box[0] + best.box[2]) / 2;
    const cy = (best.box[1] + best.box[3]) / 2;
    expect(cx).toBeGreaterThan(250);
    expect(cx).toBeLessThan(450);
    expect(cy).toBeGreaterThan(150);
    expect(cy).toBeLessThan(330);
  });
});
