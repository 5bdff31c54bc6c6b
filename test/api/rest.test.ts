import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/api/deps.js';
import { ROUTES } from '../../src/api/routes.js';
import { imageForm, JPEG, JPEG2, multipart, startTestServer, type TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ corsOrigins: ['http://example.test'] });
});
afterAll(async () => {
  await t.close();
});

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(typeof body.error.code).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

/** A good upload that must succeed after every bad one. */
async function expectPredictWorks(): Promise<void> {
  const res = await fetch(`${t.base}/predict`, { method: 'POST', body: imageForm(JPEG2) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { width: number; height: number; model: string };
  expect(body.model).toBe('test-model');
  expect([body.width, body.height]).toEqual([640, 483]);
}

describe('health and metrics', () => {
  it('GET /health returns deps.health() and logs one line with method, path, status, latency', async () => {
    const before = t.logs.length;
    const res = await fetch(`${t.base}/health`);
    expect(res.status).toBe(200);
    // No Origin sent (not a browser): no CORS header, and never "*".
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(await res.json()).toEqual(t.deps.health());
    const lines = t.logs.slice(before).filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, method: 'GET', path: '/health', status: 200 });
    expect(typeof lines[0]!.latency_ms).toBe('number');
  });

  it('GET /health/stream and GET /cameras list camera statuses', async () => {
    for (const path of ['/health/stream', '/cameras']) {
      const body = (await (await fetch(`${t.base}${path}`)).json()) as { cameras: { id: string }[] };
      expect(body.cameras.map((c) => c.id)).toEqual([...t.deps.cameraMap.keys()]);
    }
  });

  it('GET /metrics is Prometheus text of deps.metrics()', async () => {
    const res = await fetch(`${t.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# (HELP|TYPE) /m);
    expect(text).toContain('cam1');
  });
});

describe('POST /predict', () => {
  it('answers the model result for a real JPEG', async () => {
    const res = await fetch(`${t.base}/predict`, { method: 'POST', body: imageForm(JPEG) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { width: number; height: number; predictions: unknown[] };
    expect(body.width).toBe(640);
    expect(body.height).toBe(426);
    expect(body.predictions).toHaveLength(1);
  });

  it('tolerates other fields before and after the file', async () => {
    const form = new FormData();
    form.append('note', 'first');
    form.append('file', new Blob([new Uint8Array(JPEG)], { type: 'image/jpeg' }), 'a.jpg');
    form.append('after', 'last');
    const res = await fetch(`${t.base}/predict`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
  });

  const bad: [string, () => RequestInit, number, string][] = [
    ['no body', () => ({ method: 'POST' }), 400, 'not_multipart'],
    ['empty multipart body', () => ({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: '' }), 400, 'empty_body'],
    ['JSON instead of multipart', () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'not_multipart'],
    ['multipart without boundary', () => ({ method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' }), 400, 'bad_boundary'],
    ['no "file" field', () => ({ method: 'POST', body: imageForm(JPEG, 'image') }), 400, 'missing_field'],
    [
      'empty file',
      () => ({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=e' }, body: multipart('e', [{ name: 'file', data: '', filename: 'a.jpg' }]) }),
      400,
      'empty_file',
    ],
    [
      'missing closing boundary',
      () => ({ method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=t' }, body: multipart('t', [{ name: 'file', data: JPEG }]).subarray(0, JPEG.length) }),
      400,
      'truncated',
    ],
    ['not an image', () => ({ method: 'POST', body: imageForm(Buffer.from('this is plain text, not a JPEG')) }), 415, 'unsupported_media_type'],
    ['truncated JPEG', () => ({ method: 'POST', body: imageForm(JPEG.subarray(0, Math.floor(JPEG.length / 2))) }), 422, 'corrupt_image'],
  ];
  for (const [name, init, status, code] of bad) {
    it(`${name} → ${status} ${code}, then a good upload still works`, async () => {
      const res = await fetch(`${t.base}/predict`, init());
      expect(res.status).toBe(status);
      expect((await errorOf(res)).code).toBe(code);
      await expectPredictWorks();
    });
  }

  it('passes HttpError statuses through and turns other errors into a logged 500', async () => {
    t.deps.failNextPredict = new HttpError(422, 'image has too many pixels', 'too_many_pixels');
    let res = await fetch(`${t.base}/predict`, { method: 'POST', body: imageForm(JPEG) });
    expect(res.status).toBe(422);
    expect(await errorOf(res)).toEqual({ code: 'too_many_pixels', message: 'image has too many pixels' });

    const before = t.logs.length;
    t.deps.failNextPredict = new TypeError('boom inside the engine');
    res = await fetch(`${t.base}/predict`, { method: 'POST', body: imageForm(JPEG) });
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error.code).toBe('internal');
    expect(error.message).not.toContain('boom');
    expect(t.logs.slice(before).some((l) => l.level === 50 && JSON.stringify(l).includes('boom inside the engine'))).toBe(true);
    await expectPredictWorks();
  });

  it('accepts a chunked upload without Content-Length', async () => {
    const form = new Request('http://x/', { method: 'POST', body: imageForm(JPEG) });
    const bytes = new Uint8Array(await form.arrayBuffer());
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16 * 1024) controller.enqueue(bytes.subarray(i, i + 16 * 1024));
        controller.close();
      },
    });
    const res = await fetch(`${t.base}/predict`, {
      method: 'POST',
      headers: { 'content-type': form.headers.get('content-type') ?? '' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
  });
});

describe('cameras', () => {
  it('POST /cameras adds (201), conflicts pass through (409), bad JSON is 400', async () => {
    let res = await fetch(`${t.base}/cameras`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'cam2', url: 'rtsp://127.0.0.1:1/live' }) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: 'cam2', url: 'rtsp://127.0.0.1:1/live', state: 'streaming' });
    expect(t.deps.cameraMap.has('cam2')).toBe(true);

    res = await fetch(`${t.base}/cameras`, { method: 'POST', body: JSON.stringify({ id: 'cam2', url: 'x' }) });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe('conflict');

    res = await fetch(`${t.base}/cameras`, { method: 'POST', body: JSON.stringify({ url: 'x' }) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_camera');

    res = await fetch(`${t.base}/cameras`, { method: 'POST', body: '{"id": "x",' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('invalid_json');

    res = await fetch(`${t.base}/cameras`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('empty_body');

    res = await fetch(`${t.base}/cameras`, { method: 'POST', body: JSON.stringify({ id: 'x', url: 'y'.repeat(100 * 1024) }) });
    expect(res.status).toBe(413);
    expect(t.deps.cameraMap.has('x')).toBe(false);
  });

  it('DELETE /cameras/:id is 204 then 404, with URL-encoded ids', async () => {
    t.deps.cameraMap.set('with space', t.deps.cameraMap.get('cam1')!);
    let res = await fetch(`${t.base}/cameras/${encodeURIComponent('with space')}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(t.deps.cameraMap.has('with space')).toBe(false);
    res = await fetch(`${t.base}/cameras/${encodeURIComponent('with space')}`, { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');
  });

  it('GET /cameras/:id/preview.jpg: JPEG, 404 for unknown, 503 JSON before the first frame', async () => {
    let res = await fetch(`${t.base}/cameras/cam1/preview.jpg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Buffer.from(await res.arrayBuffer()).equals(JPEG)).toBe(true);

    res = await fetch(`${t.base}/cameras/nope/preview.jpg`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');

    t.deps.cameraMap.set('dark', t.deps.cameraMap.get('cam1')!);
    res = await fetch(`${t.base}/cameras/dark/preview.jpg`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await errorOf(res)).code).toBe('no_frame');
  });
});

describe('routing and CORS', () => {
  it('unknown routes are 404 JSON, wrong methods 405 with Allow, plain GET /ws 426', async () => {
    let res = await fetch(`${t.base}/nope`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('not_found');
    res = await fetch(`${t.base}/health`, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    await errorOf(res);
    res = await fetch(`${t.base}/ws`);
    expect(res.status).toBe(426);
    await errorOf(res);
  });

  it('answers OPTIONS preflight with the route methods', async () => {
    const res = await fetch(`${t.base}/cameras/abc`, { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'DELETE' } });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://example.test');
    expect(res.headers.get('access-control-allow-methods')).toBe('DELETE, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);
    expect((await fetch(`${t.base}/nope`, { method: 'OPTIONS' })).status).toBe(404);
  });

  it('every route in ROUTES is registered and answers', async () => {
    for (const route of ROUTES) {
      const path = route.path.replace('{id}', 'cam1').replace('*', 'missing.js');
      const res = await fetch(`${t.base}${path}`, { method: 'OPTIONS' });
      expect(res.status, `${route.method} ${route.path}`).toBe(204);
      expect(res.headers.get('allow')).toContain(route.method);
      // Its handler answers (not the 404/405 fallback): the server registers from ROUTES.
      const called = await fetch(`${t.base}${path.replace('cam1', 'nope')}`, { method: route.method, body: route.method === 'POST' ? '{}' : undefined });
      let text = '';
      if (route.path === '/stream') await called.body?.cancel();
      else text = await called.text();
      expect(called.status, `${route.method} ${route.path}`).not.toBe(405);
      expect(text, `${route.method} ${route.path}`).not.toMatch(/no route/);
    }
  });
});

describe('listening', () => {
  it('refuses a port that is already in use instead of sharing it', async () => {
    await expect(startTestServer({ port: t.server.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
    expect((await fetch(`${t.base}/health`)).status).toBe(200);
  });
});

describe('CORS configuration', () => {
  it('sends no CORS headers (and refuses foreign origins) when corsOrigins is empty, and the listed origin with Vary', async () => {
    const off = await startTestServer({ corsOrigins: [] });
    const fixed = await startTestServer({ corsOrigins: ['https://ops.example'] });
    try {
      expect((await fetch(`${off.base}/health`, { headers: { origin: 'https://ops.example' } })).status).toBe(403);
      expect((await fetch(`${off.base}/health`)).headers.get('access-control-allow-origin')).toBeNull();
      const res = await fetch(`${fixed.base}/health`, { headers: { origin: 'https://ops.example' } });
      expect(res.headers.get('access-control-allow-origin')).toBe('https://ops.example');
      expect(res.headers.get('vary')).toBe('Origin');
    } finally {
      await off.close();
      await fixed.close();
    }
  });
});
