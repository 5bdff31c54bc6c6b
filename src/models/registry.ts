/**
 * The model registry: manifest name or alias → verified files on disk and
 * loaded labels. Files are looked up in model.models_dir, model.cache_dir,
 * the repository's models/ directory, then ../shared/models; the first copy
 * found is used and must match the manifest's sha256.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelConfig } from '../config/schema.js';
import { parseLabels } from './labels.js';
import { loadManifest } from './manifest.js';
import { projectRoot, repoModelsDir, sharedModelsDir } from './paths.js';
import { cachedSha256 } from './sha256.js';
import { readArchiveRecord } from './archive.js';
import type { ArchiveSource, ModelSpec, ResolvedModel } from './types.js';

export { loadManifest, parseManifest, defaultManifestPath, ManifestError } from './manifest.js';
export { parseLabels, LabelsError } from './labels.js';

/**
 * What `model.name: auto` resolves to per execution provider: the int8
 * classifier is the fastest on CPU; on CUDA its quantized ops fall back to
 * the CPU, so the float one.
 */
export const AUTO_MODEL = { cpu: 'mobilenet_v2_int8', cuda: 'mobilenet_v2' } as const;

/** A model or labels file that is missing or does not match its sha256. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    message: string,
    readonly model: string,
    readonly file: string,
    /** Every path that was tried, in order. */
    readonly searched: readonly string[],
  ) {
    super(message);
  }
}

export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

export interface ResolveOptions {
  /** Base for relative directories and for ../shared/models; defaults to the project root. */
  projectRoot?: string;
  /** Specs to resolve against instead of models/manifest.yaml. */
  manifest?: readonly ModelSpec[];
}

type DirConfig = Pick<ModelConfig, 'models_dir' | 'cache_dir'>;

function dirFrom(root: string, dir: string): string {
  return isAbsolute(dir) ? dir : resolve(root, dir);
}

/** model.cache_dir as an absolute path (undefined when empty). */
export function modelCacheDir(cfg: Pick<ModelConfig, 'cache_dir'>, root: string = projectRoot()): string | undefined {
  return cfg.cache_dir !== '' ? dirFrom(root, cfg.cache_dir) : undefined;
}

/** The directories searched for model and labels files, in order. */
export function modelSearchDirs(cfg: DirConfig, root: string = projectRoot()): string[] {
  const dirs: string[] = [];
  if (cfg.models_dir !== '') dirs.push(dirFrom(root, cfg.models_dir));
  if (cfg.cache_dir !== '') dirs.push(dirFrom(root, cfg.cache_dir));
  dirs.push(repoModelsDir(root), sharedModelsDir(root));
  return [...new Set(dirs)];
}

/** Manifest name for `nameOrAlias`, or an error listing what is known. */
export function findSpec(
  specs: readonly ModelSpec[],
  nameOrAlias: string,
  aliases: Record<string, string> = {},
): ModelSpec {
  const name = aliases[nameOrAlias] ?? nameOrAlias;
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) {
    const known = specs.map((s) => s.name).join(', ');
    const al = Object.entries(aliases).map(([a, n]) => `${a} → ${n}`).join(', ');
    const via = name !== nameOrAlias ? ` (alias '${nameOrAlias}' → '${name}')` : '';
    throw new UnknownModelError(
      `unknown model '${name}'${via}; known models: ${known}${al !== '' ? `; aliases: ${al}` : ''}`,
    );
  }
  return spec;
}

/**
 * How to get a missing file: download it with models:fetch, or (offline)
 * place a copy by hand, named exactly and checked by its sha256.
 */
export function placeByHandHint(file: string, sha256: string, urls: readonly string[], dirs: readonly string[]): string {
  const from = urls.length > 0 ? ` (from ${urls[0]} on a machine with internet)` : '';
  const check = sha256 !== '' ? ` with sha256 ${sha256} (\`sha256sum ${file}\`)` : '';
  return `offline: copy ${file}${from}${check} by hand into any of ${dirs.join(', ')}; the first, model.models_dir (APP_MODELS_DIR), is the usual place`;
}

function fetchHint(spec: ModelSpec, file: string, sha256: string, dirs: readonly string[]): string {
  const urls = file === spec.file ? spec.urls : (spec.labels_urls ?? []);
  const byHand = placeByHandHint(file, sha256, urls, dirs);
  if (spec.urls.length > 0 || (spec.labels_urls?.length ?? 0) > 0) {
    return `run \`npm run models:fetch -- ${spec.name}\` to download it into the cache directory; ${byHand}`;
  }
  if (spec.sha256 === '') {
    return 'it is not downloadable: produce it with `/usr/bin/python3 models/export_torchvision.py` ' +
      `or place it in one of these directories (\`npm run models:fetch -- ${spec.name}\` lists what it can fetch)`;
  }
  return `place a copy in one of these directories (\`npm run models:fetch -- ${spec.name}\` cannot download it: no URL); ${byHand}`;
}

/**
 * Finds `file` in `dirs` and checks it against `sha256` (skipped when empty).
 * @param storeDir where verified hashes are remembered across restarts
 */
export async function locateVerified(
  spec: ModelSpec,
  file: string,
  sha256: string,
  dirs: readonly string[],
  storeDir: string | undefined,
): Promise<string> {
  const searched = dirs.map((d) => join(d, file));
  const path = searched.find((p) => existsSync(p));
  if (path === undefined) {
    throw new ModelFileError(
      `model '${spec.name}': file ${file} not found; searched ${searched.join(', ')}; ${fetchHint(spec, file, sha256, dirs)}`,
      spec.name,
      file,
      searched,
    );
  }
  if (sha256 !== '') {
    const actual = await cachedSha256(path, storeDir);
    if (actual !== sha256) {
      throw new ModelFileError(
        `model '${spec.name}': ${path} is corrupt or a different version: sha256 ${actual}, ` +
          `expected ${sha256}; delete or replace it (searched ${searched.join(', ')}); ${fetchHint(spec, file, sha256, dirs)}`,
        spec.name,
        file,
        searched,
      );
    }
  }
  return path;
}

/** A file extracted from an archive is checked against the hash recorded when it was extracted. */
async function verifyArchiveMember(spec: ModelSpec, archive: ArchiveSource, path: string, storeDir: string | undefined): Promise<void> {
  const record = readArchiveRecord(path, archive);
  // Without a record the file was placed by hand: like a local export, it is not verified.
  if (record === undefined) return;
  const actual = await cachedSha256(path, storeDir);
  if (actual !== record.sha256) {
    throw new ModelFileError(
      `model '${spec.name}': ${path} is corrupt: sha256 ${actual}, recorded ${record.sha256} when it was extracted from ${archive.file}; ` +
        `delete it and run \`npm run models:fetch -- ${spec.name}\``,
      spec.name,
      spec.file,
      [path],
    );
  }
}

export async function resolveModel(
  nameOrAlias: string,
  cfg: ModelConfig,
  opts: ResolveOptions = {},
): Promise<ResolvedModel> {
  const root = opts.projectRoot ?? projectRoot();
  const specs = opts.manifest ?? loadManifest();
  const spec = findSpec(specs, nameOrAlias, cfg.aliases);
  const dirs = modelSearchDirs(cfg, root);
  const storeDir = modelCacheDir(cfg, root);
  const modelPath = await locateVerified(spec, spec.file, spec.sha256, dirs, storeDir);
  if (spec.archive !== undefined && spec.sha256 === '') await verifyArchiveMember(spec, spec.archive, modelPath, storeDir);
  const labelsPath = await locateVerified(spec, spec.labels_file, spec.labels_sha256 ?? '', dirs, storeDir);
  const labels = parseLabels(readFileSync(labelsPath, 'utf8'), spec.labels_format, labelsPath);
  return { spec, modelPath, labelsPath, labels };
}
