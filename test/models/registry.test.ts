import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, type ModelConfig } from '../../src/config/schema.js';
import { kerasIndexToArray, parseLabels } from '../../src/models/labels.js';
import { ManifestError, parseManifest } from '../../src/models/manifest.js';
import { loadManifest, ModelFileError, resolveModel, UnknownModelError } from '../../src/models/registry.js';
import { cachedSha256, clearShaMemory, SHA_STORE_FILE } from '../../src/models/sha256.js';
import { fixturePath } from '../helpers/fixtures.js';

const temps: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'models-registry-'));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function cfg(over: Partial<ModelConfig> = {}): ModelConfig {
  return { ...defaultConfig().model, cache_dir: '', ...over };
}

const MINIMAL = `
models:
  m:
    task: classification
    file: m.onnx
    sha256: ${'a'.repeat(64)}
    input: { name: input, width: 8, height: 8, layout: NCHW, color_order: RGB, scale: 1, mean: [0,0,0], std: [1,1,1], resize: stretch, pad_value: 0, dynamic_batch: true }
    decoder: softmax
    labels_file: l.txt
    labels_format: lines
    person_class_id: -1
`;

describe('loadManifest', () => {
  it('loads the shipped manifest with the six models and their metadata', () => {
    const specs = loadManifest();
    expect(specs.map((s) => s.name)).toEqual(['mobilenet_v2_int8', 'yolox_nano', 'mobilenet_v3_small', 'fasterrcnn_person', 'mobilenet_v2', 'mobilenet_v3_small_fp16']);
    const yolox = specs.find((s) => s.name === 'yolox_nano')!;
    expect(yolox.input).toMatchObject({ width: 416, height: 416, color_order: 'BGR', resize: 'letterbox', pad_value: 114, dynamic_batch: false });
    expect(yolox.strides).toEqual([8, 16, 32]);
    expect(yolox.urls.some((u) => u.includes('Kazuhito00'))).toBe(true);
    const frcnn = specs.find((s) => s.name === 'fasterrcnn_person')!;
    expect(frcnn).toMatchObject({ decoder: 'torchvision_detection', person_class_id: 1, labels_file: 'coco91_labels.txt', sha256: '' });
    expect(frcnn.input.unbatched).toBe(true);
  });

  it('accepts a minimal valid manifest', () => {
    expect(parseManifest(MINIMAL)[0]).toMatchObject({ name: 'm', urls: [], outputs: [], description: '' });
  });

  it.each([
    ['decoder: softmax', 'decoder: magic', /'decoder' must be one of softmax, yolox/],
    ['width: 8,', 'width: -8,', /input: 'width' must be an integer ≥ 1/],
    ['std: [1,1,1]', 'std: [1,0,1]', /'std' must be a list of 3 non-zero numbers/],
    [`sha256: ${'a'.repeat(64)}`, "sha256: ''\n    urls: [https://example.com/m.onnx]", /'urls' given without 'sha256'/],
    ['task: classification', 'task: detection', /decoder 'softmax' needs task 'classification'/],
    ['    labels_file: l.txt\n', '', /'labels_file' must be a non-empty string \(got nothing\)/],
  ])('names the model and field of a bad value (%s → %s)', (from, to, message) => {
    const err = (() => {
      try {
        parseManifest(MINIMAL.replace(from, to), 'test.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as Error).message).toMatch(/^test\.yaml: model 'm'/);
    expect((err as Error).message).toMatch(message);
  });

  it('rejects a file without a models mapping, and an unreadable path', () => {
    expect(() => parseManifest('- a\n- b\n', 'x.yaml')).toThrow(/x\.yaml: expected a top-level 'models:' mapping/);
    expect(() => loadManifest('/nonexistent/manifest.yaml')).toThrow(/cannot read model manifest \/nonexistent/);
  });
});

describe('labels', () => {
  it('parses lines, JSON arrays and the Keras index', () => {
    expect(parseLabels('a\nb b\n', 'lines')).toEqual(['a', 'b b']);
    expect(parseLabels('["x","y"]', 'json_array')).toEqual(['x', 'y']);
    expect(parseLabels('{"1": ["n2", "dog"], "0": ["n1", "cat"]}', 'keras_index')).toEqual(['cat', 'dog']);
    expect(() => kerasIndexToArray({ 0: ['n1', 'cat'], 2: ['n3', 'x'] })).toThrow(/keras_index/);
    expect(() => parseLabels('{"a":1}', 'json_array', 'f.json')).toThrow(/f\.json: expected a JSON array/);
  });
});

describe('resolveModel', () => {
  it('resolves an alias to verified files and loaded labels', async () => {
    const dir = dirname(await fixturePath('model', 'yolox_nano.onnx'));
    await fixturePath('model', 'coco_labels.txt');
    const m = await resolveModel('person_detector', cfg({ models_dir: dir }));
    expect(m.spec.name).toBe('yolox_nano');
    expect(m.modelPath).toBe(join(dir, 'yolox_nano.onnx'));
    expect(m.labels).toHaveLength(80);
    expect(m.labels[0]).toBe('person');
  });

  it('finds labels shipped in the repository models/ directory', async () => {
    const models = tempDir();
    writeFileSync(join(models, 'fasterrcnn_mobilenet_v3_large_320_fpn.onnx'), 'local export, not verified');
    const m = await resolveModel('fasterrcnn_person', cfg({ models_dir: models }), { projectRoot: process.cwd() });
    expect(m.labelsPath).toBe(join(process.cwd(), 'models', 'coco91_labels.txt'));
    expect(m.labels).toHaveLength(91);
    expect([m.labels[1], m.labels[12], m.labels[90]]).toEqual(['person', 'N/A', 'toothbrush']);
  });

  it('lists the known models for an unknown name', async () => {
    await expect(resolveModel('resnet9000', cfg())).rejects.toThrow(UnknownModelError);
    await expect(resolveModel('resnet9000', cfg())).rejects.toThrow(
      /unknown model 'resnet9000'; known models: mobilenet_v2_int8, yolox_nano, mobilenet_v3_small, fasterrcnn_person/,
    );
  });

  it('says where it looked and how to fetch a missing file', async () => {
    const root = tempDir();
    const models = tempDir();
    const err = await resolveModel('yolox_nano', cfg({ models_dir: models, cache_dir: 'cache' }), { projectRoot: root }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelFileError);
    const e = err as ModelFileError;
    expect(e.searched).toEqual([
      join(models, 'yolox_nano.onnx'),
      join(root, 'cache', 'yolox_nano.onnx'),
      join(root, 'models', 'yolox_nano.onnx'),
      join(dirname(root), 'shared', 'models', 'yolox_nano.onnx'),
    ]);
    for (const p of e.searched) expect(e.message).toContain(p);
    expect(e.message).toContain('npm run models:fetch -- yolox_nano');
  });

  it('says how to place a missing file by hand: its name, sha256 and the folders', async () => {
    const root = tempDir();
    const models = tempDir();
    const err = (await resolveModel('yolox_nano', cfg({ models_dir: models, cache_dir: 'cache' }), { projectRoot: root }).catch((e: unknown) => e)) as ModelFileError;
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toContain('offline: copy yolox_nano.onnx');
    expect(err.message).toContain('sha256 695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14');
    expect(err.message).toContain(`into any of ${models}, ${join(root, 'cache')}`);
    expect(err.message).toContain('APP_MODELS_DIR');
  });

  it('refuses a corrupt copy found first, naming the sha256 mismatch', async () => {
    const models = tempDir();
    const good = await fixturePath('model', 'mobilenetv2-12-int8.onnx');
    const bytes = readFileSync(good);
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(models, 'mobilenetv2-12-int8.onnx'), bytes);
    const err = (await resolveModel('classifier', cfg({ models_dir: models })).catch((e: unknown) => e)) as ModelFileError;
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toContain(`${join(models, 'mobilenetv2-12-int8.onnx')} is corrupt or a different version`);
    expect(err.message).toContain('expected 83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f');
    expect(err.message).toContain('npm run models:fetch -- mobilenet_v2_int8');
  });
});

describe('cachedSha256', () => {
  it('remembers a hash across restarts by size and mtime, and re-hashes a changed file', async () => {
    const dir = tempDir();
    const store = join(dir, 'store');
    const file = join(dir, 'f.bin');
    copyFileSync(await fixturePath('model', 'coco_labels.txt'), file);
    clearShaMemory();
    expect(await cachedSha256(file, store)).toBe('634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84');
    const saved = JSON.parse(readFileSync(join(store, SHA_STORE_FILE), 'utf8')) as Record<string, { sha256: string }>;
    expect(saved[file].sha256).toBe('634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84');

    // A "restart" that trusts the store: a forged entry with the right size/mtime is believed.
    const st = statSync(file);
    saved[file] = { ...saved[file], sha256: 'f'.repeat(64) };
    writeFileSync(join(store, SHA_STORE_FILE), JSON.stringify(saved));
    clearShaMemory();
    expect(await cachedSha256(file, store)).toBe('f'.repeat(64));

    // Touching the file invalidates the entry.
    utimesSync(file, st.atime, new Date(st.mtimeMs + 5000));
    expect(await cachedSha256(file, store)).toBe('634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84');
  });
});
