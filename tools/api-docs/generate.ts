/**
 * Writes src/api/static/openapi.json and tools/postman_collection.json from
 * the one description in openapi.ts. `--check` only reports drift (exit 1).
 *   npm run docs:api            (or: node --import tsx tools/api-docs/generate.ts --check)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApi } from './openapi.js';
import { buildPostman } from './postman.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OPENAPI_PATH = join(ROOT, 'src', 'api', 'static', 'openapi.json');
export const POSTMAN_PATH = join(ROOT, 'tools', 'postman_collection.json');

/** The two documents exactly as they should be on disk. */
export function renderDocs(): { openapi: string; postman: string } {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const openapi = buildOpenApi(version);
  return {
    openapi: `${JSON.stringify(openapi, null, 2)}\n`,
    postman: `${JSON.stringify(buildPostman(openapi), null, 2)}\n`,
  };
}

function main(): void {
  const docs = renderDocs();
  const targets: Array<[string, string]> = [
    [OPENAPI_PATH, docs.openapi],
    [POSTMAN_PATH, docs.postman],
  ];
  if (process.argv.includes('--check')) {
    const stale = targets.filter(([path, text]) => {
      try {
        return readFileSync(path, 'utf8') !== text;
      } catch {
        return true;
      }
    });
    for (const [path] of stale) console.error(`out of date: ${path} (run npm run docs:api)`);
    process.exitCode = stale.length ? 1 : 0;
    return;
  }
  for (const [path, text] of targets) writeFileSync(path, text);
  console.log(`wrote ${OPENAPI_PATH}\nwrote ${POSTMAN_PATH}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
