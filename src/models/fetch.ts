/**
 * `models:fetch`: make the files of the named models available, downloading
 * what is missing into model.cache_dir from the manifest's URLs.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelConfig } from '../config/schema.js';
import { readArchiveRecord } from './archive.js';
import { extractMember } from './extract.js';
import { downloadVerified } from './download.js';
import { formatJsonArrayLabels, kerasIndexToArray } from './labels.js';
import { AUTO_MODEL, findSpec, loadManifest, modelSearchDirs, placeByHandHint } from './registry.js';
import { projectRoot } from './paths.js';
import { cachedSha256 } from './sha256.js';
import type { ArchiveSource, ModelSpec } from './types.js';

export interface FetchItem {
  model: string;
  kind: 'model' | 'labels';
  file: string;
  /** Empty = the file has no fixed hash (local exports). */
  sha256: string;
  urls: string[];
  /** The file is a member of this archive; `urls` download the archive. */
  archive?: ArchiveSource;
  /** Upstream JSON label files may come as a Keras index and are stored as an array. */
  convert?: (body: Buffer) => Buffer;
}

/**
 * - present:     a verified copy already exists (path)
 * - downloaded:  fetched and verified into the cache directory (path)
 * - unavailable: missing and nothing can download it (no URL or no sha256)
 * - failed:      every URL failed or gave the wrong bytes
 */
export type FetchStatus = 'present' | 'downloaded' | 'unavailable' | 'failed';

export interface FetchResult {
  item: FetchItem;
  status: FetchStatus;
  path?: string;
  /** Why, one line each, for anything but a clean present/downloaded. */
  notes: string[];
}

export interface FetchOptions {
  projectRoot?: string;
  manifest?: readonly ModelSpec[];
  log?: (line: string) => void;
  timeoutMs?: number;
}

/** Keras `imagenet_class_index.json` → our json_array text; an array passes through unchanged. */
function kerasToArrayText(body: Buffer): Buffer {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return body; // not JSON: the sha256 check rejects it
  }
  if (Array.isArray(doc)) return body;
  return Buffer.from(formatJsonArrayLabels(kerasIndexToArray(doc)), 'utf8');
}

/** The files one model needs, with what is known about fetching them. */
export function fetchItems(spec: ModelSpec): FetchItem[] {
  const labels: FetchItem = {
    model: spec.name,
    kind: 'labels',
    file: spec.labels_file,
    sha256: spec.labels_sha256 ?? '',
    urls: spec.labels_urls ?? [],
  };
  if (spec.labels_format === 'json_array') labels.convert = kerasToArrayText;
  const model: FetchItem = { model: spec.name, kind: 'model', file: spec.file, sha256: spec.sha256, urls: spec.urls };
  if (spec.archive !== undefined) model.archive = spec.archive;
  return [model, labels];
}

async function fetchOne(item: FetchItem, dirs: readonly string[], cacheDir: string, opts: FetchOptions): Promise<FetchResult> {
  const notes: string[] = [];
  let blocking: string | undefined;
  for (const dir of dirs) {
    const p = join(dir, item.file);
    if (!existsSync(p)) continue;
    if (item.sha256 === '' && item.archive !== undefined) {
      const record = readArchiveRecord(p, item.archive);
      if (record === undefined) return { item, status: 'present', path: p, notes: [`no record of extraction from ${item.archive.file}: not verified`] };
      const actual = await cachedSha256(p, cacheDir);
      if (actual === record.sha256) return { item, status: 'present', path: p, notes };
      notes.push(`${p} does not match the sha256 recorded at extraction (${record.sha256}; has ${actual})`);
      if (resolve(dir) !== resolve(cacheDir)) blocking ??= p;
      continue;
    }
    if (item.sha256 === '') return { item, status: 'present', path: p, notes: ['no sha256 in the manifest: not verified'] };
    const actual = await cachedSha256(p, cacheDir);
    if (actual === item.sha256) return { item, status: 'present', path: p, notes };
    notes.push(`${p} does not match sha256 ${item.sha256} (has ${actual})`);
    // A bad copy searched before the cache shadows whatever we download.
    if (resolve(dir) !== resolve(cacheDir)) blocking ??= p;
  }
  if (item.archive !== undefined && item.sha256 === '') return fetchFromArchive(item, item.archive, cacheDir, opts, notes, blocking);
  if (item.sha256 === '') {
    notes.push(`not found in ${dirs.join(', ')}; it has no download source: produce it with models/export_torchvision.py`);
    return { item, status: 'unavailable', notes };
  }
  if (item.urls.length === 0) {
    notes.push(`not found in ${dirs.join(', ')}; the manifest has no URL for it: copy it from ../shared/models`);
    notes.push(placeByHandHint(item.file, item.sha256, item.urls, dirs));
    return { item, status: 'unavailable', notes };
  }
  const dest = join(cacheDir, item.file);
  opts.log?.(`${item.model}: downloading ${item.kind} ${item.file} → ${dest}`);
  const res = await downloadVerified(item.urls, dest, item.sha256, {
    timeoutMs: opts.timeoutMs,
    convert: item.convert,
    log: opts.log,
  });
  if (!res.ok) return { item, status: 'failed', notes: [...notes, ...res.errors, placeByHandHint(item.file, item.sha256, item.urls, dirs)] };
  if (blocking !== undefined) notes.push(`remove ${blocking}: it is searched before ${cacheDir} and is corrupt`);
  return { item, status: 'downloaded', path: dest, notes };
}

/** Downloads the archive (verified by its sha256), extracts the member, removes the archive. */
async function fetchFromArchive(
  item: FetchItem,
  archive: ArchiveSource,
  cacheDir: string,
  opts: FetchOptions,
  notes: string[],
  blocking: string | undefined,
): Promise<FetchResult> {
  if (item.urls.length === 0) return { item, status: 'unavailable', notes: [...notes, `the manifest has no URL for ${archive.file}`] };
  const archivePath = join(cacheDir, archive.file);
  const dest = join(cacheDir, item.file);
  opts.log?.(`${item.model}: downloading archive ${archive.file} → ${archivePath}`);
  const res = await downloadVerified(item.urls, archivePath, archive.sha256, { timeoutMs: opts.timeoutMs, log: opts.log });
  if (!res.ok) return { item, status: 'failed', notes: [...notes, ...res.errors] };
  try {
    const sha256 = await extractMember(archivePath, archive, dest);
    opts.log?.(`${item.model}: extracted ${archive.member} → ${dest} (sha256 ${sha256})`);
  } catch (err) {
    return { item, status: 'failed', notes: [...notes, `extracting ${archive.member} from ${archive.file}: ${(err as Error).message}`] };
  } finally {
    await rm(archivePath, { force: true });
  }
  if (blocking !== undefined) notes.push(`remove ${blocking}: it is searched before ${cacheDir} and is corrupt`);
  return { item, status: 'downloaded', path: dest, notes };
}

/**
 * Ensures every file of the named models (manifest names or aliases; all
 * models when empty) is present and verified. Never throws for a file it
 * cannot get: that is reported in the results.
 */
export async function fetchModels(names: readonly string[], cfg: ModelConfig, opts: FetchOptions = {}): Promise<FetchResult[]> {
  const root = opts.projectRoot ?? projectRoot();
  const specs = opts.manifest ?? loadManifest();
  const wanted = names.length > 0 ? names.map((n) => findSpec(specs, n, cfg.aliases)) : [...specs];
  if (cfg.cache_dir === '') throw new Error('model.cache_dir is empty: nowhere to store downloads');
  const cacheDir = isAbsolute(cfg.cache_dir) ? cfg.cache_dir : resolve(root, cfg.cache_dir);
  const dirs = modelSearchDirs(cfg, root);
  const seen = new Set<string>();
  const results: FetchResult[] = [];
  for (const spec of wanted) {
    for (const item of fetchItems(spec)) {
      // Models can share a labels file: fetch it once.
      if (seen.has(item.file)) continue;
      seen.add(item.file);
      results.push(await fetchOne(item, dirs, cacheDir, opts));
    }
  }
  return results;
}

/**
 * Which missing files stop `models:fetch`. Named models: every one left
 * missing. No names (everything was tried): only the files the service needs
 * to start (`needed`); the rest are optional and only reported.
 */
export function missingFiles(results: readonly FetchResult[], named: boolean, needed: ReadonlySet<string>): { blocking: FetchResult[]; optional: FetchResult[] } {
  const missing = results.filter((r) => r.status === 'failed' || (named && r.status === 'unavailable'));
  const blocking = named ? missing : missing.filter((r) => needed.has(r.item.file));
  return { blocking, optional: missing.filter((r) => !blocking.includes(r)) };
}

/** The files the service needs to start with this model config (`auto` = the CPU classifier, also CUDA's fallback). */
export function filesNeededToStart(cfg: ModelConfig, specs: readonly ModelSpec[] = loadManifest()): Set<string> {
  const name = cfg.name === 'auto' ? AUTO_MODEL.cpu : cfg.name;
  return new Set(fetchItems(findSpec(specs, name, cfg.aliases)).map((item) => item.file));
}
