/**
 * A model published inside a .tar.gz (the Model Zoo's float MobileNetV2):
 * models:fetch downloads a locally made archive from a real HTTP server on
 * 127.0.0.1, verifies the archive's sha256, extracts the member, and the
 * registry then resolves (and checks) the extracted file.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { fetchModels } from '../../src/models/fetch.js';
import { parseManifest } from '../../src/models/manifest.js';
import { ModelFileError, resolveModel } from '../../src/models/registry.js';
import { sha256File } from '../../src/models/sha256.js';
import { fixturePath } from '../helpers/fixtures.js';

let server: Server;
let base: string;
let archiveSha: string;
let memberSha: string;
const archives = new Map<string, Buffer>();
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'archive-fetch-'));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  // The same layout as the Model Zoo's archives: a folder with the model and test data.
  const src = tempDir();
  mkdirSync(join(src, 'mobilenetv2-12', 'test_data_set_0'), { recursive: true });
  const model = await fixturePath('model', 'mobilenetv2-12-int8.onnx');
  copyFileSync(model, join(src, 'mobilenetv2-12', 'mobilenetv2-12.onnx'));
  writeFileSync(join(src, 'mobilenetv2-12', 'test_data_set_0', 'input_0.pb'), 'not a model');
  memberSha = await sha256File(model);
  const archive = join(src, 'mobilenetv2-12.tar.gz');
  await createTar({ gzip: true, file: archive, cwd: src }, ['mobilenetv2-12']);
  archives.set('/zoo/mobilenetv2-12.tar.gz', readFileSync(archive));
  archiveSha = await sha256File(archive);
  const corrupt = Buffer.from(readFileSync(archive));
  corrupt[corrupt.length - 100] ^= 0xff;
  archives.set('/bad/mobilenetv2-12.tar.gz', corrupt);
  server = createServer((req, res) => {
    const body = archives.get(req.url ?? '');
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function manifest(urls: string[], member = 'mobilenetv2-12.onnx'): string {
  return `
models:
  mobilenet_v2:
    task: classification
    file: mobilenetv2-12.onnx
    sha256: ''
    archive: { file: mobilenetv2-12.tar.gz, sha256: ${archiveSha}, member: ${member} }
    urls: [${urls.join(', ')}]
    input: { name: input, width: 224, height: 224, layout: NCHW, color_order: RGB, scale: 0.00392156862745098, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: center_crop, pad_value: 0, dynamic_batch: true }
    decoder: softmax
    labels_file: coco80_labels.txt
    labels_format: lines
    person_class_id: -1
`;
}

function isolated(): { root: string; cache: string; cfg: ReturnType<typeof defaultConfig>['model'] } {
  const root = join(tempDir(), 'project');
  mkdirSync(join(root, 'cache'), { recursive: true });
  // Labels come from the repository's models/ folder; only the model is fetched.
  const labels = join(process.cwd(), 'models', 'coco80_labels.txt');
  copyFileSync(labels, join(root, 'cache', 'coco80_labels.txt'));
  return { root, cache: join(root, 'cache'), cfg: { ...defaultConfig().model, models_dir: '', cache_dir: 'cache' } };
}

describe('model inside an archive', () => {
  it('downloads the archive, verifies its sha256, extracts the member; the registry resolves and checks it', async () => {
    const { root, cache, cfg } = isolated();
    const specs = parseManifest(manifest([`${base}/missing.tar.gz`, `${base}/zoo/mobilenetv2-12.tar.gz`]));
    const [model] = await fetchModels(['mobilenet_v2'], cfg, { projectRoot: root, manifest: specs });
    expect(model!.status).toBe('downloaded');
    expect(model!.path).toBe(join(cache, 'mobilenetv2-12.onnx'));
    expect(await sha256File(join(cache, 'mobilenetv2-12.onnx'))).toBe(memberSha);
    // The archive is gone, the record of where the file came from stays.
    expect(readdirSync(cache).filter((f) => f !== 'sha256-verified.json').sort()).toEqual(['coco80_labels.txt', 'mobilenetv2-12.onnx', 'mobilenetv2-12.onnx.archive.json']);
    expect(JSON.parse(readFileSync(join(cache, 'mobilenetv2-12.onnx.archive.json'), 'utf8'))).toEqual({ archive_sha256: archiveSha, member: 'mobilenetv2-12.onnx', sha256: memberSha });

    const resolved = await resolveModel('mobilenet_v2', cfg, { projectRoot: root, manifest: specs });
    expect(resolved.modelPath).toBe(join(cache, 'mobilenetv2-12.onnx'));
    const again = await fetchModels(['mobilenet_v2'], cfg, { projectRoot: root, manifest: specs });
    expect(again[0]!.status).toBe('present');

    // A changed file no longer matches its record.
    const bytes = readFileSync(join(cache, 'mobilenetv2-12.onnx'));
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(join(cache, 'mobilenetv2-12.onnx'), bytes);
    await expect(resolveModel('mobilenet_v2', cfg, { projectRoot: root, manifest: specs })).rejects.toThrow(ModelFileError);
    await expect(resolveModel('mobilenet_v2', cfg, { projectRoot: root, manifest: specs })).rejects.toThrow(/is corrupt: sha256 .* recorded .* extracted from mobilenetv2-12\.tar\.gz/);
  });

  it('rejects an archive with the wrong sha256 and one without the member, leaving nothing behind', async () => {
    const { root, cache, cfg } = isolated();
    const bad = await fetchModels(['mobilenet_v2'], cfg, { projectRoot: root, manifest: parseManifest(manifest([`${base}/bad/mobilenetv2-12.tar.gz`])) });
    expect(bad[0]!.status).toBe('failed');
    expect(bad[0]!.notes.join('\n')).toMatch(/rejected, sha256 [0-9a-f]{64} does not match/);
    const noMember = await fetchModels(['mobilenet_v2'], cfg, {
      projectRoot: root,
      manifest: parseManifest(manifest([`${base}/zoo/mobilenetv2-12.tar.gz`], 'resnet50.onnx')),
    });
    expect(noMember[0]!.status).toBe('failed');
    expect(noMember[0]!.notes.join('\n')).toMatch(/has no member 'resnet50\.onnx'/);
    expect(readdirSync(cache).filter((f) => f !== 'sha256-verified.json' && f !== 'coco80_labels.txt')).toEqual([]);
    expect(existsSync(join(cache, 'mobilenetv2-12.onnx'))).toBe(false);
  });

  it('the manifest refuses an archive without a valid sha256', () => {
    expect(() => parseManifest(manifest([`${base}/zoo/x.tar.gz`]).replace(archiveSha, 'abc'))).toThrow(/archive: 'sha256' must be 64 hex digits/);
  });
});
