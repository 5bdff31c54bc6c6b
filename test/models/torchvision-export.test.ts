/**
 * The torchvision exports (models/export_torchvision.py) run by onnxruntime
 * through our preprocess and decoders, compared with PyTorch's own outputs
 * that the script saved for the same synthetic input. Catches export traps
 * (RoiAlign at opset ≥ 16) and any drift between our pre-processing and
 * torchvision's. When the exports are not in the model cache they are made
 * here (about 10 s) if Debian's torch and torchvision are installed (.ci/run
 * installs them); without them the tests are skipped and say why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { projectRoot } from '../../src/models/paths.js';
import { getDecoder, type ModelOutputs } from '../../src/models/postprocess/index.js';
import { preprocessInto } from '../../src/models/preprocess.js';
import { resolveModel } from '../../src/models/registry.js';
import { identityTransform } from '../../src/models/geometry.js';
import { inputDims } from '../../src/models/tensor.js';

const cfg = defaultConfig().model;
const cacheDir = join(projectRoot(), cfg.cache_dir);
const MOBILENET = join(cacheDir, 'mobilenet_v3_small.onnx');
const FRCNN = join(cacheDir, 'fasterrcnn_mobilenet_v3_large_320_fpn.onnx');
const options = { topK: 5, personScoreThreshold: 0.6, detectionScoreThreshold: 0.3, nmsIouThreshold: 0.45 };

/** The script's synthetic image as packed RGB bytes (same formula as pattern() there). */
function pattern(width: number, height: number, phase: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        rgb[(y * width + x) * 3 + c] = (x * x * 7 + y * y * 13 + x * y * 3 + x * 5 + y * 11 + c * 29 + phase * 31) % 256;
      }
    }
  }
  return rgb;
}

function reference<T>(modelPath: string): T {
  return JSON.parse(readFileSync(`${modelPath}.reference.json`, 'utf8')) as T;
}

const missing = (p: string): boolean => !existsSync(p) || !existsSync(`${p}.reference.json`);
// The python3 first on PATH may be another one (pyenv); Debian's has torch.
const PYTHON = '/usr/bin/python3';
let exportNote = '';
if (missing(MOBILENET) || missing(FRCNN)) {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.status === 0) {
    const run = spawnSync(PYTHON, [join(projectRoot(), 'models', 'export_torchvision.py'), '--out-dir', cacheDir], { encoding: 'utf8', timeout: 300_000 });
    if (run.status !== 0) exportNote = `; the export failed: ${(run.stderr || run.stdout || String(run.error)).trim().split('\n').slice(-3).join(' | ')}`;
  } else {
    exportNote = '; torch/torchvision are not installed for /usr/bin/python3 (apt-get install python3-torch python3-torchvision libopenblas0-openmp)';
  }
}
const why = (p: string): string =>
  `skipped: ${p} (and .reference.json) not found; run /usr/bin/python3 models/export_torchvision.py${exportNote}`;

// Say why in the run's output too, not only in the skipped titles.
for (const p of [MOBILENET, FRCNN]) if (missing(p)) console.log(why(p));

describe.skipIf(missing(MOBILENET))(`mobilenet_v3_small export ${missing(MOBILENET) ? why(MOBILENET) : ''}`, () => {
  it('matches PyTorch logits for a batch of 2 through our preprocess, and decodes top-5', async () => {
    const ref = reference<{ logits: number[][] }>(MOBILENET);
    const m = await resolveModel('mobilenet_v3_small', cfg);
    const { input } = m.spec;
    const tensor = new Float32Array(2 * input.width * input.height * 3);
    preprocessInto(input, pattern(input.width, input.height, 0), tensor, 0);
    preprocessInto(input, pattern(input.width, input.height, 1), tensor, 1);
    const session = await ort.InferenceSession.create(m.modelPath, { intraOpNumThreads: 1 });
    const out = await session.run({ [input.name]: new ort.Tensor('float32', tensor, inputDims(input, 2)) });
    const logits = out.logits.data as Float32Array;
    expect(out.logits.dims).toEqual([2, 1000]);
    let maxDiff = 0;
    ref.logits.flat().forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - logits[i]))));
    expect(maxDiff).toBeLessThan(1e-3);
    for (const b of [0, 1]) {
      const r = getDecoder(m.spec.decoder).decode(out as unknown as ModelOutputs, b, {
        spec: m.spec, labels: m.labels, transform: identityTransform(input.width, input.height), options,
      });
      const row = ref.logits[b];
      const argmax = row.indexOf(Math.max(...row));
      expect(r.predictions).toHaveLength(5);
      expect(r.predictions[0].label).toBe(m.labels[argmax]);
    }
    await session.release();
  });
});

describe.skipIf(missing(FRCNN))(`fasterrcnn_person export ${missing(FRCNN) ? why(FRCNN) : ''}`, () => {
  it('matches PyTorch boxes, labels and scores, and decodes the person summary', async () => {
    const ref = reference<{ boxes: number[][]; labels: number[]; scores: number[]; input: { width: number; height: number } }>(FRCNN);
    const m = await resolveModel('fasterrcnn_person', cfg);
    const { input } = m.spec;
    expect([ref.input.width, ref.input.height]).toEqual([input.width, input.height]);
    const tensor = new Float32Array(input.width * input.height * 3);
    preprocessInto(input, pattern(input.width, input.height, 0), tensor, 0);
    const session = await ort.InferenceSession.create(m.modelPath, { intraOpNumThreads: 2 });
    const out = await session.run({ [input.name]: new ort.Tensor('float32', tensor, inputDims(input, 1)) });
    const scores = out.scores.data as Float32Array;
    const labels = out.labels.data as BigInt64Array;
    const boxes = out.boxes.data as Float32Array;
    expect(scores.length).toBe(ref.scores.length);
    // Compare the 10 best: near-tied low scores may swap order between runtimes.
    for (let i = 0; i < Math.min(10, ref.scores.length); i++) {
      expect(scores[i]).toBeCloseTo(ref.scores[i], 3);
      expect(Number(labels[i])).toBe(ref.labels[i]);
      for (let k = 0; k < 4; k++) expect(Math.abs(boxes[4 * i + k] - ref.boxes[i][k])).toBeLessThan(0.5);
    }
    const r = getDecoder(m.spec.decoder).decode(out as unknown as ModelOutputs, 0, {
      spec: m.spec, labels: m.labels, transform: identityTransform(input.width, input.height), options,
    });
    const refPerson = Math.max(0, ...ref.scores.filter((_, i) => ref.labels[i] === 1));
    expect(r.predictions[0]).toEqual({ label: 'person', score: expect.closeTo(refPerson, 3) as number });
    expect(r.has_person).toBe(refPerson >= options.personScoreThreshold);
    for (const d of r.detections!) {
      expect(d.score).toBeGreaterThanOrEqual(options.detectionScoreThreshold);
      expect(d.label).toBe(m.labels[d.class_id]);
    }
    await session.release();
  });
});
