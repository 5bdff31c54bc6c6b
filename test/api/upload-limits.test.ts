import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JPEG, imageForm, multipart, rawRequest, startTestServer, type TestServer } from './helpers.js';

const LIMIT = 1024 * 1024;
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ maxUploadBytes: LIMIT });
});
afterAll(async () => {
  await t.close();
});

async function expectPredictWorks(base = t.base): Promise<void> {
  const res = await fetch(`${base}/predict`, { method: 'POST', body: imageForm(JPEG) });
  expect(res.status).toBe(200);
}

function head(length: number | 'chunked', boundary = 'bnd'): string {
  const framing = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  return `POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n${framing}\r\n\r\n`;
}

function chunk(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}

describe('upload size limit', () => {
  it('answers 413 from a declared Content-Length without waiting for the body, and closes', async () => {
    const calls = t.deps.predictCalls;
    // Only 64 KiB of the declared 50 MB is ever sent: the answer cannot depend on the rest.
    const res = await rawRequest(t.server.port, head(50 * 1024 * 1024), [Buffer.alloc(64 * 1024, 1)], true);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(res.closed).toBe(true);
    expect(t.deps.predictCalls).toBe(calls);
    await expectPredictWorks();
  });

  it('stops reading a chunked body once it passes the limit', async () => {
    const calls = t.deps.predictCalls;
    const piece = Buffer.alloc(256 * 1024, 7);
    // Limit + 256 KiB sent, then the client goes quiet (no terminating chunk).
    const pieces = Array.from({ length: LIMIT / piece.length + 1 }, () => chunk(piece));
    const res = await rawRequest(t.server.port, head('chunked'), pieces, true);
    expect(res.status).toBe(413);
    expect(res.closed).toBe(true);
    expect(t.deps.predictCalls).toBe(calls);
    await expectPredictWorks();
  });

  it('takes a body of exactly the limit and refuses one byte more', async () => {
    const body = multipart('bnd', [{ name: 'file', data: JPEG, filename: 'a.jpg' }]);
    const exact = await startTestServer({ maxUploadBytes: body.length });
    const under = await startTestServer({ maxUploadBytes: body.length - 1 });
    try {
      const ok = await rawRequest(exact.server.port, head(body.length), [body]);
      expect(ok.status).toBe(200);
      const refused = await rawRequest(under.server.port, head(body.length), [body], true);
      expect(refused.status).toBe(413);
      // Chunked: the same byte counts apply.
      const chunkedOk = await rawRequest(exact.server.port, head('chunked'), [chunk(body.subarray(0, 1000)), chunk(body.subarray(1000)), Buffer.from('0\r\n\r\n')]);
      expect(chunkedOk.status).toBe(200);
      const chunkedRefused = await rawRequest(under.server.port, head('chunked'), [chunk(body.subarray(0, 1000)), chunk(body.subarray(1000)), Buffer.from('0\r\n\r\n')], true);
      expect(chunkedRefused.status).toBe(413);
    } finally {
      await exact.close();
      await under.close();
    }
  });
});

describe('broken uploads', () => {
  it('a client that disconnects mid-body gets nothing and breaks nothing', async () => {
    const calls = t.deps.predictCalls;
    const body = multipart('bnd', [{ name: 'file', data: JPEG }]);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(t.server.port, '127.0.0.1', () => {
        socket.write(head(body.length));
        socket.write(body.subarray(0, body.length / 2));
        socket.end();
      });
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.on('error', reject);
      socket.on('close', () => {
        try {
          expect(received).toBe('');
          resolve();
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    expect(t.deps.predictCalls).toBe(calls);
    await expectPredictWorks();
  });

  it('a complete HTTP body whose multipart is cut short is 400 truncated', async () => {
    const body = multipart('bnd', [{ name: 'file', data: JPEG }]).subarray(0, JPEG.length + 40);
    const res = await rawRequest(t.server.port, head(body.length), [body]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'truncated' } });
    await expectPredictWorks();
  });

  it('a malformed Content-Length reaches no handler and the connection closes', async () => {
    const calls = t.deps.predictCalls;
    const outcome = await rawRequest(t.server.port, head(12).replace('Content-Length: 12', 'Content-Length: 12abc'), [Buffer.from('x'.repeat(12))], true).then(
      (res) => res,
      (err: Error) => err.message,
    );
    // uWS's own parser refuses it before routing: it closes, with a 4xx or with no answer at all.
    if (typeof outcome === 'string') expect(outcome).toMatch(/closed without a response/);
    else {
      expect(outcome.status).toBeGreaterThanOrEqual(400);
      expect(outcome.status).toBeLessThan(500);
      expect(outcome.closed).toBe(true);
    }
    expect(t.deps.predictCalls).toBe(calls);
    await expectPredictWorks();
  });

  it('keep-alive: a refused upload on one connection does not poison the next request on another', async () => {
    const bad = await rawRequest(t.server.port, head(10).replace('multipart/form-data; boundary=bnd', 'text/plain'), [Buffer.from('0123456789')], true);
    expect(bad.status).toBe(400);
    await expectPredictWorks();
  });
});
