/** Reading and validating `models/manifest.yaml` into typed ModelSpecs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoModelsDir } from './paths.js';
import type { ModelInputSpec, ModelSpec, OutputDecoder } from './types.js';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export const DECODERS: readonly OutputDecoder[] = ['softmax', 'yolox', 'yolov8', 'torchvision_detection'];

export function defaultManifestPath(): string {
  return join(repoModelsDir(), 'manifest.yaml');
}

type Obj = Record<string, unknown>;

/** Field readers that throw one-line errors naming the file, model and field. */
class Reader {
  constructor(
    private readonly where: string,
    private readonly obj: Obj,
  ) {}

  private fail(key: string, want: string): never {
    const got = this.obj[key];
    throw new ManifestError(`${this.where}: '${key}' must be ${want} (got ${got === undefined ? 'nothing' : JSON.stringify(got)})`);
  }

  str(key: string, opts: { allowEmpty?: boolean; optional?: boolean } = {}): string {
    const v = this.obj[key];
    if (v === undefined && opts.optional === true) return '';
    if (typeof v !== 'string' || (v === '' && opts.allowEmpty !== true)) this.fail(key, 'a non-empty string');
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.obj[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(key, `one of ${allowed.join(', ')}`);
    return v as T;
  }

  num(key: string, opts: { int?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
    const v = this.obj[key];
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (opts.int !== true || Number.isInteger(v)) &&
      (opts.min === undefined || v >= opts.min) &&
      (opts.max === undefined || v <= opts.max) &&
      (opts.positive !== true || v > 0);
    if (!ok) {
      const parts = [opts.int === true ? 'an integer' : 'a number'];
      if (opts.positive === true) parts.push('> 0');
      if (opts.min !== undefined) parts.push(`≥ ${opts.min}`);
      if (opts.max !== undefined) parts.push(`≤ ${opts.max}`);
      this.fail(key, parts.join(' '));
    }
    return v as number;
  }

  bool(key: string, optional = false): boolean {
    const v = this.obj[key];
    if (v === undefined && optional) return false;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  triple(key: string, nonZero: boolean): [number, number, number] {
    const v = this.obj[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!nonZero || x !== 0))) {
      this.fail(key, `a list of 3 ${nonZero ? 'non-zero ' : ''}numbers`);
    }
    return [v[0], v[1], v[2]] as [number, number, number];
  }

  strings(key: string, optional = false): string[] {
    const v = this.obj[key];
    if (v === undefined && optional) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) this.fail(key, 'a list of strings');
    return v as string[];
  }

  ints(key: string): number[] | undefined {
    const v = this.obj[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && (x as number) > 0)) {
      this.fail(key, 'a list of positive integers');
    }
    return v as number[];
  }

  object(key: string): Obj {
    const v = this.obj[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, 'a mapping');
    return v as Obj;
  }
}

const SHA = /^[0-9a-f]{64}$/;

function parseInput(where: string, raw: Obj): ModelInputSpec {
  const r = new Reader(`${where} input`, raw);
  const input: ModelInputSpec = {
    name: r.str('name'),
    width: r.num('width', { int: true, min: 1, max: 8192 }),
    height: r.num('height', { int: true, min: 1, max: 8192 }),
    layout: r.oneOf('layout', ['NCHW', 'NHWC'] as const),
    color_order: r.oneOf('color_order', ['RGB', 'BGR'] as const),
    scale: r.num('scale', { positive: true }),
    mean: r.triple('mean', false),
    std: r.triple('std', true),
    resize: r.oneOf('resize', ['center_crop', 'letterbox', 'stretch'] as const),
    pad_value: r.num('pad_value', { int: true, min: 0, max: 255 }),
    dynamic_batch: r.bool('dynamic_batch'),
  };
  if (raw.unbatched !== undefined) input.unbatched = r.bool('unbatched');
  if (input.unbatched === true && input.dynamic_batch) {
    throw new ManifestError(`${where} input: 'unbatched' models cannot have 'dynamic_batch: true'`);
  }
  return input;
}

function parseSpec(file: string, name: string, raw: unknown): ModelSpec {
  const where = `${file}: model '${name}'`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ManifestError(`${where} must be a mapping`);
  const r = new Reader(where, raw as Obj);
  const spec: ModelSpec = {
    name,
    description: r.str('description', { optional: true }),
    task: r.oneOf('task', ['classification', 'detection'] as const),
    file: r.str('file'),
    sha256: r.str('sha256', { allowEmpty: true }).toLowerCase(),
    urls: r.strings('urls', true),
    input: parseInput(where, r.object('input')),
    decoder: r.oneOf('decoder', DECODERS),
    outputs: r.strings('outputs', true),
    labels_file: r.str('labels_file'),
    labels_format: r.oneOf('labels_format', ['json_array', 'keras_index', 'lines'] as const),
    person_class_id: r.num('person_class_id', { int: true, min: -1 }),
  };
  const strides = r.ints('strides');
  if (strides !== undefined) spec.strides = strides;
  const labelsSha = r.str('labels_sha256', { optional: true });
  if (labelsSha !== '') spec.labels_sha256 = labelsSha.toLowerCase();
  const labelsUrls = r.strings('labels_urls', true);
  if (labelsUrls.length > 0) spec.labels_urls = labelsUrls;
  if ((raw as Obj).archive !== undefined) {
    const a = new Reader(`${where} archive`, r.object('archive'));
    spec.archive = { file: a.str('file'), sha256: a.str('sha256').toLowerCase(), member: a.str('member') };
    if (!SHA.test(spec.archive.sha256)) throw new ManifestError(`${where} archive: 'sha256' must be 64 hex digits`);
  }
  const license = r.str('license', { optional: true });
  if (license !== '') spec.license = license;

  if (spec.sha256 !== '' && !SHA.test(spec.sha256)) throw new ManifestError(`${where}: 'sha256' must be 64 hex digits`);
  if (spec.sha256 === '' && spec.urls.length > 0 && spec.archive === undefined) {
    throw new ManifestError(`${where}: 'urls' given without 'sha256' or 'archive.sha256'; downloads must be verifiable`);
  }
  if (spec.labels_sha256 !== undefined && !SHA.test(spec.labels_sha256)) {
    throw new ManifestError(`${where}: 'labels_sha256' must be 64 hex digits`);
  }
  for (const u of [...spec.urls, ...(spec.labels_urls ?? [])]) {
    if (!/^https?:\/\//.test(u)) throw new ManifestError(`${where}: URL '${u}' must be http(s)`);
  }
  if (spec.decoder === 'softmax' && spec.task !== 'classification') {
    throw new ManifestError(`${where}: decoder 'softmax' needs task 'classification'`);
  }
  if (spec.decoder !== 'softmax' && spec.task !== 'detection') {
    throw new ManifestError(`${where}: decoder '${spec.decoder}' needs task 'detection'`);
  }
  if (spec.task === 'detection' && spec.person_class_id < 0) {
    throw new ManifestError(`${where}: detectors need 'person_class_id' ≥ 0`);
  }
  if (spec.decoder === 'yolox') {
    const s = spec.strides ?? [];
    if (s.length === 0) throw new ManifestError(`${where}: decoder 'yolox' needs 'strides'`);
    for (const st of s) {
      if (spec.input.width % st !== 0 || spec.input.height % st !== 0) {
        throw new ManifestError(`${where}: input ${spec.input.width}x${spec.input.height} is not divisible by stride ${st}`);
      }
    }
  }
  if (spec.decoder === 'torchvision_detection' && spec.input.unbatched !== true && spec.input.dynamic_batch) {
    throw new ManifestError(`${where}: torchvision detection exports take one image; set 'dynamic_batch: false'`);
  }
  return spec;
}

/** Parses manifest text; `file` only names the source in error messages. */
export function parseManifest(text: string, file = 'manifest'): ModelSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ManifestError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const models = (doc as Obj | null)?.models;
  if (typeof models !== 'object' || models === null || Array.isArray(models)) {
    throw new ManifestError(`${file}: expected a top-level 'models:' mapping of name → model`);
  }
  const specs = Object.entries(models as Obj).map(([name, raw]) => parseSpec(file, name, raw));
  if (specs.length === 0) throw new ManifestError(`${file}: no models listed`);
  return specs;
}

export function loadManifest(path: string = defaultManifestPath()): ModelSpec[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ManifestError(`cannot read model manifest ${path}: ${(err as Error).message}`);
  }
  return parseManifest(text, path);
}
