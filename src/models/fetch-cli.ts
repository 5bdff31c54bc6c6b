/**
 * `npm run models:fetch [-- name…]`: downloads the model files the manifest
 * can fetch into model.cache_dir (config file / APP_MODEL_CACHE_DIR) and
 * prints what it could not get. Exit code 1 when a named model is left
 * missing; with no names every model is tried, but only the one the current
 * configuration starts with (model.name; `auto` = the CPU classifier, which
 * is also the fallback on CUDA) decides the exit code, so an unreachable
 * optional download does not stop `models:fetch && npm start`.
 */
import { loadConfig } from '../config/load.js';
import { fetchModels, filesNeededToStart, missingFiles, type FetchResult } from './fetch.js';

function line(r: FetchResult): string {
  const what = `${r.item.model} ${r.item.kind} ${r.item.file}`;
  const where = r.path !== undefined ? ` (${r.path})` : '';
  const notes = r.notes.map((n) => `\n    - ${n}`).join('');
  return `${r.status.toUpperCase().padEnd(11)} ${what}${where}${notes}`;
}

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => a !== '--');
  if (names.includes('-h') || names.includes('--help')) {
    console.log('usage: npm run models:fetch [-- <model or alias>…]   (no names: every model in models/manifest.yaml)');
    return 0;
  }
  const cfg = loadConfig().model;
  const results = await fetchModels(names, cfg, { log: (l) => console.log(l) });
  console.log('');
  for (const r of results) console.log(line(r));
  const { blocking: failed, optional } = missingFiles(results, names.length > 0, filesNeededToStart(cfg));
  if (optional.length > 0) {
    console.error(`\nnot needed by the current configuration, left missing: ${optional.map((r) => r.item.file).join(', ')}`);
  }
  if (failed.length > 0) {
    console.error(`\n${failed.length} file(s) could not be made available: ${failed.map((r) => r.item.file).join(', ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
