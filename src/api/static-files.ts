/**
 * Files served from a fixed directory: the request path is resolved strictly
 * inside the root (no `..`, no NUL, no absolute escape), and each file is read
 * once and then answered from memory.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Absolute path of `relative` (URL-encoded, '/'-separated) inside `root`, or null if it would escape or is invalid. */
export function safeResolve(root: string, relative: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null;
  }
  if (decoded === '' || decoded.includes('\0') || decoded.includes('\\')) return null;
  // Reject dot segments outright rather than normalising them away.
  if (decoded.split('/').some((segment) => segment === '..' || segment === '.')) return null;
  const base = resolve(root);
  const full = resolve(base, `.${decoded.startsWith('/') ? '' : '/'}${decoded}`);
  return full.startsWith(base + sep) ? full : null;
}

export class StaticFiles {
  private readonly cache = new Map<string, Promise<StaticFile | null>>();

  /** `root` null means "not available" (every lookup misses). */
  constructor(private readonly root: string | null) {}

  /** The file at `relative` under the root, or null when missing, a directory or outside the root. */
  get(relative: string): Promise<StaticFile | null> {
    if (this.root === null) return Promise.resolve(null);
    const full = safeResolve(this.root, relative);
    if (full === null) return Promise.resolve(null);
    let entry = this.cache.get(full);
    if (entry === undefined) {
      entry = readFile(full).then(
        (body) => ({ body, contentType: contentTypeOf(full) }),
        () => {
          // Not cached when missing: the file may appear later.
          this.cache.delete(full);
          return null;
        },
      );
      this.cache.set(full, entry);
    }
    return entry;
  }
}
