/**
 * Writes config.example.yaml and the README's configuration table from
 * src/config/schema.ts. `--check` only reports drift (exit 1).
 *   npm run docs:config      (or: node --import tsx tools/config-docs/generate.ts --check)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exampleYaml, withReadmeTable } from '../../src/config/docs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLE_PATH = join(ROOT, 'config.example.yaml');
export const README_PATH = join(ROOT, 'README.md');

/** Each file with the text it should have. */
export function renderConfigDocs(): Array<[path: string, text: string]> {
  return [
    [EXAMPLE_PATH, exampleYaml()],
    [README_PATH, withReadmeTable(readFileSync(README_PATH, 'utf8'))],
  ];
}

function main(): void {
  const targets = renderConfigDocs();
  if (process.argv.includes('--check')) {
    const stale = targets.filter(([path, text]) => readFileSync(path, 'utf8') !== text);
    for (const [path] of stale) console.error(`out of date: ${path} (run npm run docs:config)`);
    process.exit(stale.length > 0 ? 1 : 0);
  }
  for (const [path, text] of targets) writeFileSync(path, text);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
