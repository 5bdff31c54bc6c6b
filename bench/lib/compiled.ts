/**
 * Benchmarks of the whole service load it as `npm start` runs it: compiled
 * JavaScript from dist/. Under tsx every worker thread (one decoder per
 * camera, the inference pool) registers tsx again and gets its own module-hooks
 * thread, which polls: at 96 cameras the node process used 180 % of a core
 * under tsx and 53 % compiled (same cameras, same frames). Production never
 * pays that, so a benchmark must not either.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Imports `dist/<relative>`; refuses a dist/ older than src/ (run `npm run build`).
 * A bench that is itself compiled (bench/gpu/run-on-device.sh) imports the
 * compiled src/ beside it instead.
 */
export async function compiled<T>(relative: string): Promise<T> {
  if (import.meta.url.endsWith('.js')) return (await import(new URL(`../../src/${relative}`, import.meta.url).href)) as T;
  const file = join(PROJECT_ROOT, 'dist', relative);
  let built: number;
  try {
    built = statSync(file).mtimeMs;
  } catch {
    throw new Error(`${file} is missing: run \`npm run build\` first (the npm bench scripts do)`);
  }
  if (newestMtime(join(PROJECT_ROOT, 'src')) > built) throw new Error(`dist/ is older than src/: run \`npm run build\` first (the npm bench scripts do)`);
  return (await import(pathToFileURL(file).href)) as T;
}
