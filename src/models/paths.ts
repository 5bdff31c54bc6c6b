/** Where the project lives, whether running from `src/*.ts` (tsx, vitest) or `dist/*.js`. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The nearest ancestor of this module holding the project's package.json. */
export function projectRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'stream-ml-service') {
          return (cached = dir);
        }
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    const up = dirname(dir);
    if (up === dir) return (cached = process.cwd());
    dir = up;
  }
}

/** The repository's `models/` directory (manifest, shipped label files). */
export function repoModelsDir(root = projectRoot()): string {
  return join(root, 'models');
}

/** The development copy of the real models, beside the project. */
export function sharedModelsDir(root = projectRoot()): string {
  return resolve(root, '..', 'shared', 'models');
}
