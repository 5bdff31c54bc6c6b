/**
 * Locates a worker file for both ways the code runs: compiled (`dist/*.js`)
 * and as TypeScript under vitest/tsx. Node 20 ignores `--import tsx` in a
 * worker's execArgv, so TypeScript workers start through a small bootstrap
 * that registers tsx in the thread and then imports the real entry (passed in
 * the worker's argv). Pass all three fields to `new Worker` or `new Piscina`.
 */
import { fileURLToPath } from 'node:url';

export interface WorkerEntry {
  filename: string;
  argv: string[];
  execArgv: string[];
}

export function workerEntry(metaUrl: string, relative: string): WorkerEntry {
  const underTypeScript = metaUrl.endsWith('.ts');
  const target = new URL(`${relative}${underTypeScript ? '.ts' : '.js'}`, metaUrl);
  if (!underTypeScript) return { filename: fileURLToPath(target), argv: [], execArgv: [] };
  const bootstrap = new URL('./ts-worker-bootstrap.mjs', import.meta.url);
  return { filename: fileURLToPath(bootstrap), argv: [target.href], execArgv: [] };
}
