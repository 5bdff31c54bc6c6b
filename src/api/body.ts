/**
 * Reads a request body under a byte limit and a deadline. With a
 * Content-Length the body is copied into one buffer of that size; past the
 * limit reading stops and the caller refuses with 413 (Exchange.rejectUpload).
 */
import type { Exchange } from './http.js';

export type BodyOutcome = { kind: 'body'; body: Buffer } | { kind: 'too_large' } | { kind: 'empty' } | { kind: 'timeout' };

/**
 * Must be called synchronously inside the route handler (uWS delivers body
 * data right after it returns). `done` is called at most once, never after
 * abort; a body still incomplete after ctx.requestTimeoutMs (a slow-loris
 * upload) ends as `timeout`.
 */
export function readBody(ex: Exchange, limit: number, done: (outcome: BodyOutcome) => void): void {
  const length = ex.contentLength;
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
  const settle = (outcome: BodyOutcome | null): void => {
    settled = true;
    clearTimeout(deadline);
    buffer = null;
    chunks.length = 0;
    if (outcome) done(outcome);
  };
  const deadline = setTimeout(() => {
    if (!settled) settle({ kind: 'timeout' });
  }, ex.ctx.requestTimeoutMs);
  ex.onAbort(() => settle(null));
  ex.receiveBody((chunk, isLast) => {
    if (settled) return;
    const size = chunk.byteLength;
    if (received + size > limit || (length !== null && received + size > length)) {
      settle({ kind: 'too_large' });
      return;
    }
    // uWS neuters the chunk after this callback returns: copy it now.
    if (buffer !== null) buffer.set(new Uint8Array(chunk), received);
    else if (size > 0) chunks.push(Buffer.from(new Uint8Array(chunk)));
    received += size;
    if (!isLast) return;
    const body = buffer !== null ? buffer.subarray(0, received) : Buffer.concat(chunks, received);
    settle(received === 0 ? { kind: 'empty' } : { kind: 'body', body });
  });
}
