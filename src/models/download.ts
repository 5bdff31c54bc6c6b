/**
 * One verified download: try each URL in order, write to a temporary file
 * beside the destination while hashing, and rename into place only when the
 * sha256 matches. A failed or rejected attempt leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export interface DownloadOptions {
  /** Per URL, for the whole transfer. */
  timeoutMs?: number;
  /**
   * Turns the downloaded bytes into the stored bytes before verification
   * (small files only: the body is buffered). Used for label files kept in a
   * different format than upstream's.
   */
  convert?: (body: Buffer) => Buffer;
  /** Progress lines for a CLI. */
  log?: (line: string) => void;
}

export type DownloadResult = { ok: true; url: string; path: string } | { ok: false; errors: string[] };

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const c = cause instanceof Error ? ` (${cause.message})` : '';
    return `${err.message}${c}`;
  }
  return String(err);
}

function tempPath(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.part-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

async function tryOne(url: string, dest: string, sha256: string, opts: DownloadOptions): Promise<string | undefined> {
  const tmp = tempPath(dest);
  try {
    const res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(opts.timeoutMs ?? 300_000) });
    if (!res.ok || res.body === null) {
      await res.body?.cancel();
      return `${url}: HTTP ${res.status} ${res.statusText}`.trimEnd();
    }
    const hash = createHash('sha256');
    if (opts.convert !== undefined) {
      const bytes = opts.convert(Buffer.from(await res.arrayBuffer()));
      hash.update(bytes);
      await writeFile(tmp, bytes);
    } else {
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), hashing, createWriteStream(tmp));
    }
    const actual = hash.digest('hex');
    if (actual !== sha256) {
      await rm(tmp, { force: true });
      return `${url}: rejected, sha256 ${actual} does not match the manifest's ${sha256}`;
    }
    await rename(tmp, dest);
    return undefined;
  } catch (err) {
    await rm(tmp, { force: true });
    return `${url}: ${describeError(err)}`;
  }
}

/** Downloads `dest` from the first URL whose bytes hash to `sha256`. */
export async function downloadVerified(
  urls: readonly string[],
  dest: string,
  sha256: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return { ok: false, errors: [`no valid sha256 to verify ${basename(dest)} against`] };
  if (urls.length === 0) return { ok: false, errors: ['no download URL known'] };
  await mkdir(dirname(dest), { recursive: true });
  const errors: string[] = [];
  for (const url of urls) {
    opts.log?.(`  trying ${url}`);
    const err = await tryOne(url, dest, sha256, opts);
    if (err === undefined) return { ok: true, url, path: dest };
    opts.log?.(`  failed: ${err}`);
    errors.push(err);
  }
  return { ok: false, errors };
}
