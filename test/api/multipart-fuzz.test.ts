/**
 * Fuzzing of our multipart parser, with @fastify/busboy as the oracle.
 * Seeded, so a failure names the case that reproduces it.
 * - Valid bodies of random shape (fields, files, binary content that often
 *   holds boundary-like bytes, random boundaries): every part must equal
 *   busboy's, byte for byte.
 * - Mutated bodies (bytes flipped, inserted, cut): the parser either returns
 *   parts that are views inside the body or throws a MultipartError; any
 *   other exception is a bug.
 */
import { describe, expect, it } from 'vitest';
import { MultipartError, parseMultipart } from '../../src/api/multipart.js';
import { busboyParts } from './busboy-oracle.js';

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BCHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'()+_,-./:=?";

function randomBody(rand: () => number): { raw: Buffer; boundary: string; parts: { name: string; filename: string | null; data: Buffer }[] } {
  const int = (n: number): number => Math.floor(rand() * n);
  const boundary = Array.from({ length: 1 + int(40) }, () => BCHARS[int(BCHARS.length)]).join('');
  const parts = Array.from({ length: 1 + int(4) }, (_, i) => {
    const isFile = rand() < 0.6;
    const length = int(rand() < 0.2 ? 20_000 : 300);
    const data = Buffer.alloc(length);
    for (let k = 0; k < length; k++) data[k] = int(256);
    // Boundary-like bytes inside the content. A valid body never holds CRLF + "--" + boundary
    // (RFC 2046 §5.1.1), so the decoy lacks the CR or the LF.
    if (length > 0 && rand() < 0.5) {
      const decoy = Buffer.from(`${rand() < 0.5 ? 'X\n' : '\rX'}--${boundary}${rand() < 0.5 ? '\r\n' : '--'}`);
      decoy.copy(data, int(Math.max(1, length - decoy.length)));
    }
    return { name: `f${i}`, filename: isFile ? `n${i}.bin` : null, data: isFile ? data : Buffer.from(data.toString('latin1').replace(/[\r\n]/g, ''), 'latin1') };
  });
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.filename ? 'Content-Type: application/octet-stream\r\n' : ''}\r\n`), part.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { raw: Buffer.concat(chunks), boundary, parts };
}

function mutate(raw: Buffer, rand: () => number): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  let out = Buffer.from(raw);
  for (let m = 1 + int(3); m > 0; m--) {
    const at = int(out.length + 1);
    const op = int(4);
    if (op === 0 && out.length > 0) out[Math.min(at, out.length - 1)] = int(256);
    else if (op === 1) out = out.subarray(0, at);
    else if (op === 2) out = Buffer.concat([out.subarray(0, at), Buffer.from(['\r\n', '--', '\r\n\r\n', '"', ';'][int(5)]!), out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(8)))]);
  }
  return out;
}

describe('multipart parser fuzzing', () => {
  it('agrees with busboy on 300 random valid bodies', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const { raw, boundary, parts } = randomBody(prng(seed));
      const ours = parseMultipart(raw, boundary);
      const theirs = await busboyParts(raw, `multipart/form-data; boundary="${boundary}"`);
      expect(ours.map((p) => [p.name, p.filename]), `seed ${seed}`).toEqual(theirs.map((p) => [p.name, p.filename]));
      ours.forEach((p, i) => {
        expect(p.data.equals(parts[i]!.data), `seed ${seed} part ${i} vs generated`).toBe(true);
        expect(p.data.equals(theirs[i]!.data), `seed ${seed} part ${i} vs busboy`).toBe(true);
      });
    }
  });

  it('answers 3000 mutated bodies with parts inside the body or a MultipartError', () => {
    let rejected = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const rand = prng(seed * 7919);
      const { raw, boundary } = randomBody(rand);
      const bad = mutate(raw, rand);
      try {
        for (const part of parseMultipart(bad, boundary)) {
          expect(part.data.buffer, `seed ${seed}: part is a view`).toBe(bad.buffer);
          expect(part.data.byteOffset + part.data.length, `seed ${seed}`).toBeLessThanOrEqual(bad.byteOffset + bad.length);
        }
      } catch (err) {
        if (!(err instanceof MultipartError)) throw new Error(`seed ${seed}: ${(err as Error).stack}`);
        rejected++;
      }
    }
    // The mutations must actually reach the error paths.
    expect(rejected).toBeGreaterThan(500);
  });
});
