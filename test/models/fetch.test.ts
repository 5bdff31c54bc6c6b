/**
 * models:fetch against a real HTTP server on 127.0.0.1 serving a copy of a
 * shared model file (good bytes), a corrupted copy (bad bytes) and a 404.
 */
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, type ModelConfig } from '../../src/config/schema.js';
import { downloadVerified } from '../../src/models/download.js';
import { fetchModels, filesNeededToStart, missingFiles } from '../../src/models/fetch.js';
import { parseManifest } from '../../src/models/manifest.js';
import { sha256File } from '../../src/models/sha256.js';
import { fixturePath } from '../helpers/fixtures.js';

const YOLOX_SHA = '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14';
const LABELS_SHA = '8a6e56677bf4a5e24598bdbb7374b7f3024c55b528023a2cc2beb6ef302c8fb6';

let server: Server;
let base: string;
let modelFile: string;
let kerasIndex: string;
const requests: string[] = [];
const temps: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'models-fetch-'));
  temps.push(d);
  return d;
}

beforeAll(async () => {
  modelFile = await fixturePath('model', 'yolox_nano.onnx');
  // The Keras upstream format of our imagenet labels: {"0": ["n…", "tench"], ...}.
  const names = JSON.parse(readFileSync(await fixturePath('model', 'imagenet_labels.json'), 'utf8')) as string[];
  kerasIndex = JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`n${String(i).padStart(8, '0')}`, n]])));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/good/yolox_nano.onnx') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(modelFile).pipe(res);
    } else if (req.url === '/bad/yolox_nano.onnx') {
      const bytes = readFileSync(modelFile);
      bytes[1000] ^= 0x55;
      res.writeHead(200).end(bytes);
    } else if (req.url === '/keras/imagenet_class_index.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(kerasIndex);
    } else {
      res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  // Absent when beforeAll failed (a fixture that could not be fetched): that error is the one to read.
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function manifest(modelUrls: string[], labelsUrls: string[] = []): string {
  return `
models:
  yolox_nano:
    task: detection
    file: yolox_nano.onnx
    sha256: ${YOLOX_SHA}
    urls: [${modelUrls.join(', ')}]
    input: { name: images, width: 416, height: 416, layout: NCHW, color_order: BGR, scale: 1, mean: [0,0,0], std: [1,1,1], resize: letterbox, pad_value: 114, dynamic_batch: false }
    decoder: yolox
    strides: [8, 16, 32]
    labels_file: imagenet_labels.json
    labels_format: json_array
    labels_sha256: ${LABELS_SHA}
    labels_urls: [${labelsUrls.join(', ')}]
    person_class_id: 0
`;
}

/** An isolated project root: nothing to find in ../shared, models/ or the cache. */
function isolated(): { root: string; cfg: ModelConfig; cache: string } {
  const root = join(tempDir(), 'project');
  const cfg = { ...defaultConfig().model, models_dir: '', cache_dir: 'cache' };
  return { root, cfg, cache: join(root, 'cache') };
}

describe('fetchModels', () => {
  it('downloads a good copy, verifies it and stores it in the cache; converts Keras labels', async () => {
    const { root, cfg, cache } = isolated();
    const specs = parseManifest(manifest([`${base}/missing/yolox_nano.onnx`, `${base}/good/yolox_nano.onnx`], [`${base}/keras/imagenet_class_index.json`]));
    const lines: string[] = [];
    const results = await fetchModels(['person_detector'], cfg, { projectRoot: root, manifest: specs, log: (l) => lines.push(l) });
    expect(results.map((r) => [r.item.file, r.status])).toEqual([
      ['yolox_nano.onnx', 'downloaded'],
      ['imagenet_labels.json', 'downloaded'],
    ]);
    expect(results[0].path).toBe(join(cache, 'yolox_nano.onnx'));
    expect(await sha256File(join(cache, 'yolox_nano.onnx'))).toBe(YOLOX_SHA);
    expect(await sha256File(join(cache, 'imagenet_labels.json'))).toBe(LABELS_SHA);
    // The first URL 404'd and was reported, then the next one was tried.
    expect(lines.some((l) => l.includes('/missing/yolox_nano.onnx: HTTP 404'))).toBe(true);
    expect(readdirSync(cache).filter((f) => f.includes('.part-'))).toEqual([]);

    // A second run finds the verified copies and downloads nothing.
    const before = requests.length;
    const again = await fetchModels(['yolox_nano'], cfg, { projectRoot: root, manifest: specs });
    expect(again.map((r) => r.status)).toEqual(['present', 'present']);
    expect(requests.length).toBe(before);
  });

  it('rejects bad bytes and leaves nothing behind', async () => {
    const { root, cfg, cache } = isolated();
    const specs = parseManifest(manifest([`${base}/bad/yolox_nano.onnx`]));
    const [model, labels] = await fetchModels([], cfg, { projectRoot: root, manifest: specs });
    expect(model.status).toBe('failed');
    expect(model.notes.join('\n')).toMatch(/bad\/yolox_nano\.onnx: rejected, sha256 [0-9a-f]{64} does not match the manifest's 695e750a/);
    expect(labels.status).toBe('unavailable');
    expect(labels.notes.join('\n')).toMatch(/no URL/);
    expect(existsSync(join(cache, 'yolox_nano.onnx'))).toBe(false);
    expect(existsSync(cache) ? readdirSync(cache).filter((f) => f !== 'sha256-verified.json') : []).toEqual([]);
  });

  it('tells an offline operator which file to place by hand, its sha256 and where', async () => {
    const { root, cfg, cache } = isolated();
    const models = tempDir();
    const specs = parseManifest(manifest(['http://127.0.0.1:9/yolox_nano.onnx']));
    const [model] = await fetchModels([], { ...cfg, models_dir: models }, { projectRoot: root, manifest: specs, timeoutMs: 5000 });
    expect(model.status).toBe('failed');
    const text = model.notes.join('\n');
    expect(text).toContain('offline: copy yolox_nano.onnx');
    expect(text).toContain(`sha256 ${YOLOX_SHA}`);
    expect(text).toContain(`${models}, ${cache}`);
    expect(text).toContain('APP_MODELS_DIR');
  });

  it('reports a server that cannot be reached', async () => {
    const dir = tempDir();
    // Port 9 on loopback: nothing listens (discard service is not installed).
    const r = await downloadVerified(['http://127.0.0.1:9/x.onnx'], join(dir, 'x.onnx'), YOLOX_SHA, { timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors[0]).toMatch(/^http:\/\/127\.0\.0\.1:9\/x\.onnx: fetch failed/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('what stops models:fetch', () => {
  // Two models: the one the service starts with downloads, an optional one cannot be fetched.
  const twoModels = (goodUrl: string, deadUrl: string): string =>
    manifest([goodUrl], [`${base}/keras/imagenet_class_index.json`]) +
    `
  optional_model:
    task: classification
    file: optional_model.onnx
    sha256: ${'a'.repeat(64)}
    urls: [${deadUrl}]
    input: { name: input, width: 224, height: 224, layout: NCHW, color_order: RGB, scale: 255, mean: [0,0,0], std: [1,1,1], resize: center_crop, pad_value: 0, dynamic_batch: true }
    decoder: softmax
    labels_file: imagenet_labels.json
    labels_format: json_array
    labels_sha256: ${LABELS_SHA}
    labels_urls: [${`${base}/keras/imagenet_class_index.json`}]
    person_class_id: -1
`;

  it('with no names, only the configured model blocks; a missing optional model is reported, not fatal', async () => {
    const { root, cfg } = isolated();
    const specs = parseManifest(twoModels(`${base}/good/yolox_nano.onnx`, `${base}/missing/optional_model.onnx`));
    const started = { ...cfg, name: 'yolox_nano' };
    const results = await fetchModels([], started, { projectRoot: root, manifest: specs });
    expect(results.map((r) => [r.item.file, r.status])).toEqual([
      ['yolox_nano.onnx', 'downloaded'],
      ['imagenet_labels.json', 'downloaded'],
      ['optional_model.onnx', 'failed'],
    ]);
    const needed = filesNeededToStart(started, specs);
    expect([...needed].sort()).toEqual(['imagenet_labels.json', 'yolox_nano.onnx']);
    const all = missingFiles(results, false, needed);
    expect(all.blocking).toEqual([]);
    expect(all.optional.map((r) => r.item.file)).toEqual(['optional_model.onnx']);

    // Asking for the optional model by name makes its absence an error; so does a configured model that is missing.
    const named = missingFiles(await fetchModels(['optional_model'], started, { projectRoot: root, manifest: specs }), true, needed);
    expect(named.blocking.map((r) => r.item.file)).toEqual(['optional_model.onnx']);
    const configured = { ...cfg, name: 'optional_model' };
    const blocked = missingFiles(results, false, filesNeededToStart(configured, specs));
    expect(blocked.blocking.map((r) => r.item.file)).toEqual(['optional_model.onnx']);
  });
});
