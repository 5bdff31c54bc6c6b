/**
 * @fastify/busboy, the kept streaming multipart parser, as an oracle: the
 * fuzz test compares our parser with it, and bench/multipart.bench.ts
 * measures both.
 */
import { Busboy } from '@fastify/busboy';

export interface OraclePart {
  name: string;
  filename: string | null;
  data: Buffer;
}

/** Every part of `body` (files and fields) in order, or the parser's error. */
export function busboyParts(body: Buffer, contentType: string): Promise<OraclePart[]> {
  return new Promise((resolve, reject) => {
    const parts: OraclePart[] = [];
    const bb = Busboy({ headers: { 'content-type': contentType }, defCharset: 'latin1', limits: { fieldSize: Infinity, fileSize: Infinity } });
    bb.on('file', (name, stream, filename) => {
      const chunks: Buffer[] = [];
      const part: OraclePart = { name, filename: filename ?? null, data: Buffer.alloc(0) };
      parts.push(part);
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => (part.data = Buffer.concat(chunks)));
    });
    bb.on('field', (name, value) => parts.push({ name, filename: null, data: Buffer.from(value, 'latin1') }));
    bb.on('finish', () => resolve(parts));
    bb.on('error', reject);
    bb.end(body);
  });
}
