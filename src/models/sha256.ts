/**
 * sha256 of model files, remembered by path + size + mtime so a restart does
 * not re-hash tens of megabytes: in memory, and in a small JSON file in the
 * model cache directory when one is writable.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Entry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

const memory = new Map<string, Entry>();
const loadedStores = new Set<string>();

export const SHA_STORE_FILE = 'sha256-verified.json';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function storePath(dir: string): string {
  return join(dir, SHA_STORE_FILE);
}

function loadStore(dir: string): void {
  if (loadedStores.has(dir)) return;
  loadedStores.add(dir);
  try {
    const data = JSON.parse(readFileSync(storePath(dir), 'utf8')) as Record<string, Entry>;
    for (const [path, e] of Object.entries(data)) {
      if (typeof e?.sha256 === 'string' && typeof e.size === 'number' && typeof e.mtimeMs === 'number') {
        if (!memory.has(path)) memory.set(path, e);
      }
    }
  } catch {
    // No store yet, or unreadable: hashes are recomputed.
  }
}

function saveStore(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${storePath(dir)}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(memory), null, 1));
    renameSync(tmp, storePath(dir));
  } catch {
    // A read-only cache directory only costs re-hashing on the next start.
  }
}

/**
 * sha256 of `path`, reused while its size and mtime are unchanged.
 * @param storeDir where the remembered hashes persist across restarts (optional)
 */
export async function cachedSha256(path: string, storeDir?: string): Promise<string> {
  const abs = resolve(path);
  const dir = storeDir !== undefined && storeDir !== '' ? resolve(storeDir) : undefined;
  if (dir !== undefined) loadStore(dir);
  const st = statSync(abs);
  const hit = memory.get(abs);
  if (hit !== undefined && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const sha256 = await sha256File(abs);
  memory.set(abs, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  if (dir !== undefined) saveStore(dir);
  return sha256;
}

/** Forget remembered hashes (tests). */
export function clearShaMemory(): void {
  memory.clear();
  loadedStores.clear();
}
