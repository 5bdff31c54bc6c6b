/**
 * The uint8-input wrap: real models run by onnxruntime on the COCO photos,
 * once with today's JavaScript pre-processing (preprocessInto + the original
 * graph) and once with ring bytes into the wrapped graph; the decoded
 * results must agree. Plus the cache (reuse, invalidation) and the fallback
 * for models that cannot be wrapped.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceEngine } from '../../src/engine/engine.js';
import { FrameArena } from '../../src/frames/ring.js';
import { identityTransform } from '../../src/models/geometry.js';
import { projectRoot } from '../../src/models/paths.js';
import { preparePixelInput, WRAP_DIR } from '../../src/models/pixel-input.js';
import { getDecoder, type ModelOutputs } from '../../src/models/postprocess/index.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { findSpec, loadManifest } from '../../src/models/registry.js';
import { inputDims } from '../../src/models/tensor.js';
import type { InferenceOutput, ModelInputSpec, ModelSpec, ResolvedModel } from '../../src/models/types.js';
import { quantizedOps, UnwrappableModelError, wrapWithUint8Input } from '../../src/models/wrap.js';
import { logger } from '../../src/telemetry/logger.js';
import { COCO_PHOTOS } from '../helpers/fixtures.js';
import { cocoPicture, collect, engineConfig, loadModel, postprocess, writeFrame } from '../engine/helpers.js';

const { onnx } = onnxProto;
const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wrap-test-'));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const options = { topK: 5, personScoreThreshold: 0.6, detectionScoreThreshold: 0.3, nmsIouThreshold: 0.45 };

const sessions = new Map<Uint8Array, Promise<{ wrapped: ReturnType<typeof wrapWithUint8Input>; original: ort.InferenceSession; wrappedSession: ort.InferenceSession }>>();
function sessionsFor(modelBytes: Uint8Array, input: ModelInputSpec) {
  let s = sessions.get(modelBytes);
  if (s === undefined) {
    const wrapped = wrapWithUint8Input(modelBytes, input);
    s = Promise.all([ort.InferenceSession.create(modelBytes), ort.InferenceSession.create(wrapped.bytes)]).then(([original, wrappedSession]) => ({ wrapped, original, wrappedSession }));
    sessions.set(modelBytes, s);
  }
  return s;
}

/** Runs one packed-RGB image through the original graph with JS pre-processing and through the wrap. */
async function bothPaths(modelBytes: Uint8Array, spec: ModelSpec, labels: string[], rgb: Uint8Array): Promise<{ js: InferenceOutput; u8: InferenceOutput; maxDiff: number }> {
  const { input } = spec;
  const { wrapped, original, wrappedSession } = await sessionsFor(modelBytes, input);
  const floats = new Float32Array(input.width * input.height * 3);
  preprocessInto(input, rgb, floats, 0);
  const a = await original.run({ [input.name]: new ort.Tensor('float32', floats, inputDims(input, 1)) });
  const u8dims = wrapped.dims.map((d) => (d === -1 ? 1 : d));
  const b = await wrappedSession.run({ [wrapped.inputName]: new ort.Tensor('uint8', rgb, u8dims) });
  let maxDiff = 0;
  for (const name of original.outputNames) {
    const x = a[name]!.data as Float32Array;
    const y = b[name]!.data as Float32Array;
    expect(y.length).toBe(x.length);
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
  }
  const decoder = getDecoder(spec.decoder);
  const ctx = { spec, labels, transform: identityTransform(input.width, input.height), options };
  return { js: decoder.decode(a as unknown as ModelOutputs, 0, ctx), u8: decoder.decode(b as unknown as ModelOutputs, 0, ctx), maxDiff };
}

function expectSameOutput(js: InferenceOutput, u8: InferenceOutput): void {
  expect(u8.predictions.map((p) => p.label)).toEqual(js.predictions.map((p) => p.label));
  u8.predictions.forEach((p, i) => expect(p.score).toBeCloseTo(js.predictions[i]!.score, 4));
  expect(u8.has_person).toBe(js.has_person);
  expect(u8.detections?.length).toBe(js.detections?.length);
  u8.detections?.forEach((d, i) => {
    const e = js.detections![i]!;
    expect(d.label).toBe(e.label);
    expect(d.score).toBeCloseTo(e.score, 4);
    d.box.forEach((v, k) => expect(Math.abs(v - e.box[k]!)).toBeLessThan(0.01));
  });
}

describe('uint8 wrap gives what JavaScript pre-processing gives', () => {
  for (const name of ['mobilenet_v2_int8', 'yolox_nano']) {
    it(`${name}: same top-k / detections on every COCO photo`, async () => {
      const model = await loadModel(name);
      const bytes = readFileSync(model.modelPath);
      let worst = 0;
      for (const photo of COCO_PHOTOS) {
        const picture = await cocoPicture(photo, model.spec.input);
        const { js, u8, maxDiff } = await bothPaths(bytes, model.spec, model.labels, picture.rgb);
        expectSameOutput(js, u8);
        worst = Math.max(worst, maxDiff);
      }
      // Same float32 arithmetic in a different order: tiny differences only.
      expect(worst).toBeLessThan(1e-3);
    });
  }

  it('the manifest sanity results hold on the wrapped models', async () => {
    const classifier = await loadModel('mobilenet_v2_int8');
    const picture = await cocoPicture('000000000776.jpg', classifier.spec.input);
    const { u8 } = await bothPaths(readFileSync(classifier.modelPath), classifier.spec, classifier.labels, picture.rgb);
    expect(u8.predictions[0]!.label).toBe('teddy');
    const detector = await loadModel('yolox_nano');
    const people = await cocoPicture('000000000139.jpg', detector.spec.input);
    const { u8: det } = await bothPaths(readFileSync(detector.modelPath), detector.spec, detector.labels, people.rgb);
    expect(det.has_person).toBe(true);
  });

  // The torchvision MobileNetV3-Small export (random weights: agreement, not accuracy), made here into a temp dir.
  const PYTHON = '/usr/bin/python3';
  const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { timeout: 60_000 }).status === 0;
  it.skipIf(!hasTorch)('torchvision MobileNetV3-Small export: same top-k on every COCO photo (skipped without Debian torch)', async () => {
    const dir = tempDir();
    const run = spawnSync(PYTHON, [join(projectRoot(), 'models', 'export_torchvision.py'), '--out-dir', dir, '--only', 'mobilenet_v3_small'], { encoding: 'utf8', timeout: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    const spec = findSpec(loadManifest(), 'mobilenet_v3_small');
    const labels = (await loadModel('mobilenet_v2_int8')).labels;
    const bytes = readFileSync(join(dir, spec.file));
    for (const photo of COCO_PHOTOS) {
      const picture = await cocoPicture(photo, spec.input);
      const { js, u8, maxDiff } = await bothPaths(bytes, spec, labels, picture.rgb);
      expectSameOutput(js, u8);
      expect(maxDiff).toBeLessThan(1e-3);
    }
  }, 400_000);
});

/** A tiny float16 model: input x [N,3,H,W] → Identity → y, both float16. */
function float16Model(input: ModelInputSpec): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const dims = (ds: (number | string)[]) =>
    onnx.TensorShapeProto.create({ dim: ds.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'half',
      node: [{ opType: 'Identity', input: [input.name], output: ['y'], name: 'id' }],
      input: [{ name: input.name, type: { tensorType: { elemType: T.FLOAT16, shape: dims(['batch', 3, input.height, input.width]) } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT16, shape: dims(['batch', 3, input.height, input.width]) } } }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

describe('float16 models', () => {
  it('pre-process in float16 and hand float32 outputs to post-processing', async () => {
    const base = findSpec(loadManifest(), 'mobilenet_v2_int8').input;
    const input: ModelInputSpec = { ...base, name: 'x', width: 5, height: 4, color_order: 'BGR' };
    const wrapped = wrapWithUint8Input(float16Model(input), input);
    expect(wrapped.precision).toBe('float16');
    const session = await ort.InferenceSession.create(wrapped.bytes);
    const rgb = new Uint8Array(2 * 4 * 5 * 3).map((_, i) => (i * 37) % 256);
    const out = (await session.run({ [wrapped.inputName]: new ort.Tensor('uint8', rgb, [2, 4, 5, 3]) })).y!;
    expect(out.type).toBe('float32');
    expect(out.dims).toEqual([2, 3, 4, 5]);
    const expected = new Float32Array(rgb.length);
    preprocessInto(input, rgb.subarray(0, 60), expected, 0);
    preprocessInto(input, rgb.subarray(60), expected, 1);
    const got = out.data as Float32Array;
    // float16 has 11 significant bits: relative error ≤ 2^-11.
    expected.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -10 + 1e-3));
  });
});

describe('float16 models on the JavaScript path', () => {
  it('refuse to start with a clear reason (JavaScript pre-processing makes float32 only)', async () => {
    const dir = tempDir();
    const base = await loadModel('mobilenet_v2_int8');
    const input: ModelInputSpec = { ...base.spec.input, name: 'x', width: 5, height: 4 };
    const modelPath = join(dir, 'half.onnx');
    writeFileSync(modelPath, float16Model(input));
    const model: ResolvedModel = { ...base, spec: { ...base.spec, name: 'half', input }, modelPath };
    const arena = FrameArena.create({ width: 5, height: 4, channels: 3 }, 4, 1);
    await expect(
      InferenceEngine.create({ model, engine: engineConfig(), postprocess, arena, maxImagePixels: 1e6, pixelInput: 'js', modelCacheDir: join(dir, 'cache') }),
    ).rejects.toThrow(/model half takes float16 input 'x' and could not be wrapped .* JavaScript pre-processing makes float32 only/);
  });
});

describe('wrap cache and fallback', () => {
  async function modelCopy(dir: string): Promise<ResolvedModel> {
    const model = await loadModel('mobilenet_v2_int8');
    const path = join(dir, 'classifier.onnx');
    copyFileSync(model.modelPath, path);
    return { ...model, modelPath: path };
  }

  it('reuses the wrap, and rebuilds it (removing the stale one) when the model sha256 changes', async () => {
    const dir = tempDir();
    const cacheDir = join(dir, 'cache');
    const model = await modelCopy(dir);
    const first = await preparePixelInput(model, { cacheDir });
    expect(first).toMatchObject({ kind: 'uint8', reused: false, precision: 'float32' });
    const again = await preparePixelInput(model, { cacheDir });
    expect(again).toMatchObject({ kind: 'uint8', reused: true, modelPath: first.modelPath });
    if (first.kind !== 'uint8') throw new Error('unreachable');
    const sidecar = JSON.parse(readFileSync(`${first.modelPath}.json`, 'utf8')) as { sha256: string };
    expect(sidecar.sha256).toBe(first.sha256);

    // Same graph, other bytes (a changed doc string): a different source sha256.
    const proto = onnx.ModelProto.decode(readFileSync(model.modelPath));
    proto.docString = 'retrained';
    writeFileSync(model.modelPath, onnx.ModelProto.encode(proto).finish());
    const changed = await preparePixelInput(model, { cacheDir });
    expect(changed).toMatchObject({ kind: 'uint8', reused: false });
    expect(changed.modelPath).not.toBe(first.modelPath);
    expect(existsSync(first.modelPath)).toBe(false);
    expect(readdirSync(join(cacheDir, WRAP_DIR)).filter((f) => f.endsWith('.onnx'))).toHaveLength(1);

    // A wrap whose bytes no longer match its recorded sha256 is rebuilt.
    writeFileSync(changed.modelPath, 'garbage');
    const rebuilt = await preparePixelInput(model, { cacheDir });
    expect(rebuilt).toMatchObject({ kind: 'uint8', reused: false, modelPath: changed.modelPath });
    await expect(ort.InferenceSession.create(rebuilt.modelPath)).resolves.toBeDefined();
  });

  it('a corrupt model file takes the JavaScript path with the reason', async () => {
    const dir = tempDir();
    const model = await modelCopy(dir);
    writeFileSync(model.modelPath, Buffer.from('this is not an onnx model at all, just some text'));
    const result = await preparePixelInput(model, { cacheDir: join(dir, 'cache') });
    expect(result.kind).toBe('js');
    if (result.kind === 'js') expect(result.reason).toMatch(/not a readable ONNX model/);
  });

  it('refuses what it cannot wrap: unknown input, non-float input, too new an IR version', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const bytes = readFileSync(model.modelPath);
    expect(() => wrapWithUint8Input(bytes, { ...model.spec.input, name: 'pixels' })).toThrow(/has no input 'pixels'/);
    const proto = onnx.ModelProto.decode(bytes);
    proto.irVersion = 10;
    expect(() => wrapWithUint8Input(onnx.ModelProto.encode(proto).finish(), model.spec.input)).toThrow(UnwrappableModelError);
    const asU8 = onnx.ModelProto.decode(bytes);
    asU8.graph!.input![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.UINT8;
    expect(() => wrapWithUint8Input(onnx.ModelProto.encode(asU8).finish(), model.spec.input)).toThrow(/not float32 or float16/);
  });

  it('an unwrappable model runs on the JavaScript path, with one log line saying why', async () => {
    const dir = tempDir();
    const model = await modelCopy(dir);
    const proto = onnx.ModelProto.decode(readFileSync(model.modelPath));
    proto.irVersion = 9; // onnxruntime loads it; onnx-proto's schema is older
    writeFileSync(model.modelPath, onnx.ModelProto.encode(proto).finish());
    const lines: { msg: string; pixel_input?: string }[] = [];
    const log = logger().child({});
    const capture = (obj: object, msg?: string) => lines.push({ ...(obj as { pixel_input?: string }), msg: msg ?? '' });
    log.info = capture as typeof log.info;
    log.warn = capture as typeof log.warn;
    const arena = FrameArena.create({ width: 224, height: 224, channels: 3 }, 4, 1);
    const engine = await InferenceEngine.create({ model, engine: engineConfig(), postprocess, arena, maxImagePixels: 40_000_000, log, modelCacheDir: join(dir, 'cache') });
    try {
      const pathLines = lines.filter((l) => l.pixel_input !== undefined);
      expect(pathLines).toHaveLength(1);
      expect(pathLines[0]).toMatchObject({ pixel_input: 'js' });
      expect(pathLines[0]!.msg).toMatch(/JavaScript pre-processing for mobilenet_v2_int8: IR version 9 is newer/);
      engine.attachCamera('cam', 0);
      const run = collect(engine, (all) => all.length >= 1);
      writeFrame(arena, 0, await cocoPicture('000000000776.jpg', model.spec.input));
      expect((await run.finished)[0]!.predictions[0]!.label).toBe('teddy');
    } finally {
      await engine.close();
    }
  });

  it('finds the quantized ops of the int8 model, none in a float one', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    expect(quantizedOps(readFileSync(model.modelPath))).toContain('QLinearConv');
    const input = { ...model.spec.input, name: 'x' };
    expect(quantizedOps(float16Model(input))).toEqual([]);
  });
});
