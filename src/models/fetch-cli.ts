/**
 * `npm run models:fetch [-- name…]`: downloads the model files the manifest
 * can fetch into model.cache_dir (config file / APP_MODEL_CACHE_DIR) and
 * prints what it could not get. Exit code 1 when a named model or any
 * download is left missing.
 */
import { loadConfig } from '../config/load.js';
import { fetchModels, type FetchResult } from './fetch.js';

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
  const failed = results.filter((r) => r.status === 'failed' || (names.length > 0 && r.status === 'unavailable'));
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
