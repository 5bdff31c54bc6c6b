/**
 * Reads a request body under a byte limit. With a Content-Length the body is
 * copied into one buffer of that size; past the limit reading stops at once
 * and the caller answers 413 and closes the connection.
 */
import type { HttpRequest } from 'uWebSockets.js';
import type { Exchange } from './http.js';

export type BodyOutcome = { kind: 'body'; body: Buffer } | { kind: 'too_large' } | { kind: 'empty' };

/** The declared Content-Length, null when absent (chunked), NaN when malformed. */
export function declaredLength(req: HttpRequest): number | null {
  const raw = req.getHeader('content-length');
  if (raw === '') return null;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * Must be called synchronously inside the route handler (uWS delivers body
 * data right after it returns). `done` is called at most once, never after abort.
 */
export function readBody(ex: Exchange, length: number | null, limit: number, done: (outcome: BodyOutcome) => void): void {
  if (length === 0) {
    done({ kind: 'empty' });
    return;
  }
  if (length !== null && length > limit) {
    done({ kind: 'too_large' });
    return;
  }
  let buffer: Buffer | null = length === null ? null : Buffer.allocUnsafe(length);
  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  ex.onAbort(() => {
    settled = true;
    buffer = null;
    chunks.length = 0;
  });
  ex.res.onData((chunk, isLast) => {
    if (settled) return;
    const size = chunk.byteLength;
    if (received + size > limit || (length !== null && received + size > length)) {
      settled = true;
      buffer = null;
      chunks.length = 0;
      done({ kind: 'too_large' });
      return;
    }
    // uWS neuters the chunk after this callback returns: copy it now.
    if (buffer !== null) buffer.set(new Uint8Array(chunk), received);
    else if (size > 0) chunks.push(Buffer.from(new Uint8Array(chunk)));
    received += size;
    if (!isLast) return;
    settled = true;
    const body = buffer !== null ? buffer.subarray(0, received) : Buffer.concat(chunks, received);
    buffer = null;
    chunks.length = 0;
    done(received === 0 ? { kind: 'empty' } : { kind: 'body', body });
  });
}
