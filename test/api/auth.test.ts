/**
 * Authentication with real clients (Node fetch, ws, Python's http.client,
 * curl): every route without a key, with a read key and with an admin key;
 * stream tokens for SSE and WebSocket; failures counted and rate-limited.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ROUTES, type RouteInfo } from '../../src/api/routes.js';
import { cameraStatus, imageForm, JPEG, rawRequest, startTestServer, type RawResponse, type TestServer } from './helpers.js';

const run = promisify(execFile);
const ADMIN_KEY = 'admin-test-key-0123456789abcdef';
const READ_KEY = 'read-test-key-0123456789abcdef';
const sha = (key: string): string => createHash('sha256').update(key).digest('hex');
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

let t: TestServer;
let nowMs = Date.parse('2026-12-01T00:00:00Z');

beforeAll(async () => {
  t = await startTestServer({
    auth: { keys: [{ role: 'admin', sha256: sha(ADMIN_KEY) }, { role: 'read', sha256: sha(READ_KEY) }], maxFailuresPerMinute: 10, tokenTtlS: 60, now: () => nowMs },
  });
});
afterAll(async () => {
  await t.close();
});

/** Calls a route the way a client would; the SSE stream is cancelled once its headers arrive. */
async function call(route: RouteInfo, headers: Record<string, string> = {}, query = ''): Promise<{ status: number; body: string; headers: Headers }> {
  const removable = `gone-${Math.random()}`;
  if (route.id === 'removeCamera') t.deps.cameraMap.set(removable, cameraStatus(removable, 'file:///g.mp4'));
  const path = route.path.replace('{id}', route.id === 'removeCamera' ? removable : 'cam1').replace('*', route.id === 'swaggerUiAsset' ? 'swagger-ui.css' : 'app.js');
  let body: BodyInit | undefined;
  if (route.id === 'predict') body = imageForm(JPEG);
  if (route.id === 'addCamera') body = JSON.stringify({ id: `new-${nowMs}-${Math.random()}`, url: 'file:///c.mp4' });
  const res = await fetch(`${t.base}${path}${query}`, { method: route.method, headers, body });
  if (route.kind === 'stream' && res.status === 200) {
    await res.body?.cancel();
    return { status: res.status, body: '', headers: res.headers };
  }
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Opens /ws; resolves with 101 or the HTTP status of the refused upgrade. */
function openWs(query = '', headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${t.server.port}/ws${query}`, { headers });
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}

async function streamToken(key: string): Promise<string> {
  const res = await fetch(`${t.base}/auth/token`, { method: 'POST', headers: bearer(key) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

const httpRoutes = ROUTES.filter((route) => route.id !== 'websocketEvents');

describe('every route, by role (Node fetch)', () => {
  it('without a key: 401 JSON with WWW-Authenticate on every protected route; public routes answer', async () => {
    for (const route of httpRoutes) {
      const res = await call(route);
      if (route.access === 'public') {
        expect(res.status, route.id).toBe(200);
        continue;
      }
      expect(res.status, route.id).toBe(401);
      expect(res.headers.get('www-authenticate'), route.id).toMatch(/^Bearer realm=/);
      expect(JSON.parse(res.body), route.id).toMatchObject({ error: { code: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') } });
    }
    expect((await openWs()).status).toBe(401);
  });

  it('with a read key: 403 on admin routes, the rest work', async () => {
    for (const route of httpRoutes) {
      const res = await call(route, bearer(READ_KEY));
      if (route.access === 'admin') {
        expect(res.status, route.id).toBe(403);
        expect(JSON.parse(res.body), route.id).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('admin') } });
      } else {
        expect(res.status, route.id).toBeLessThan(300);
      }
    }
    expect((await openWs('', bearer(READ_KEY))).status).toBe(101);
  });

  it('with an admin key: every route works', async () => {
    for (const route of httpRoutes) expect((await call(route, bearer(ADMIN_KEY))).status, route.id).toBeLessThan(300);
    expect((await openWs('', bearer(ADMIN_KEY))).status).toBe(101);
  });

  it('a wrong key or another scheme is 401 invalid_credentials', async () => {
    const cameras = ROUTES.find((r) => r.id === 'listCameras')!;
    for (const authorization of [`Bearer ${READ_KEY}x`, `Basic ${Buffer.from(`u:${READ_KEY}`).toString('base64')}`, 'Bearer']) {
      const res = await call(cameras, { authorization });
      expect(res.status, authorization).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe('invalid_credentials');
    }
    nowMs += 60_000; // the failures above must not rate-limit later tests
  });

  it('GET /health without a key is liveness only; with a key it has the details', async () => {
    const open = (await (await fetch(`${t.base}/health`)).json()) as Record<string, unknown>;
    expect(open).toEqual({ status: 'ok' });
    const detailed = await (await fetch(`${t.base}/health`, { headers: bearer(READ_KEY) })).json();
    expect(detailed).toEqual(t.deps.health());
  });
});

describe('stream tokens for EventSource and the browser WebSocket', () => {
  it('POST /auth/token gives a short-lived token with the key\'s role', async () => {
    const res = await fetch(`${t.base}/auth/token`, { method: 'POST', headers: bearer(READ_KEY) });
    const body = (await res.json()) as { token: string; role: string; expires_in_s: number; expires_at: string };
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(body).toMatchObject({ role: 'read', expires_in_s: 60, expires_at: new Date(Math.floor(nowMs / 1000) * 1000 + 60_000).toISOString() });
    expect(body.token).not.toContain(READ_KEY);
    expect(body.token).toMatch(/^v1\.\d+\.read\.[0-9a-f]{12}\.[\w-]{43}$/);
  });

  it('SSE: 401 without credentials, events with ?token= or a Bearer header; a key in the URL is refused', async () => {
    const stream = (query: string, headers: Record<string, string> = {}): Promise<Response> => fetch(`${t.base}/stream${query}`, { headers });
    expect((await stream('')).status).toBe(401);
    expect((await stream(`?token=${encodeURIComponent(READ_KEY)}`)).status).toBe(401);
    expect((await stream('?token=v1.99999999999.admin.000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(401);

    for (const [query, headers] of [[`?token=${await streamToken(READ_KEY)}`, {}], ['', bearer(READ_KEY)]] as const) {
      const res = await stream(query, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      const published = t.deps.events.publish('cam1');
      while (!text.includes(`id: ${published.id}\n`)) text += decoder.decode((await reader.read()).value);
      await reader.cancel();
    }
    nowMs += 60_000;
  });

  it('a token expires, and is not accepted on routes other than the streams', async () => {
    const token = await streamToken(ADMIN_KEY);
    expect((await fetch(`${t.base}/cameras?token=${token}`)).status).toBe(401);
    expect((await openWs(`?token=${token}`)).status).toBe(101);
    nowMs += 61_000;
    const expired = await fetch(`${t.base}/stream?token=${token}`);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { code: string } }).error.code).toBe('token_expired');
    const ws = await openWs(`?token=${token}`);
    expect(ws.status).toBe(401);
    expect(JSON.parse(ws.body)).toMatchObject({ error: { code: 'token_expired' } });
  });

  it('WebSocket: a bad token is 401, a foreign Origin 403, the same origin opens', async () => {
    expect((await openWs('?token=nonsense')).status).toBe(401);
    const token = await streamToken(READ_KEY);
    const foreign = await openWs(`?token=${token}`, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: { code: 'origin_not_allowed' } });
    expect((await openWs(`?token=${token}`, { origin: `http://127.0.0.1:${t.server.port}` })).status).toBe(101);
    nowMs += 60_000;
  });
});

describe('other real clients', () => {
  it('Python http.client: 401 without a key, 403 for a read key on POST /cameras, 201 for an admin key', async () => {
    const script = `
import http.client, json, sys
port, read_key, admin_key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def call(method, path, key=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if key: headers["Authorization"] = "Bearer " + key
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return [res.status, json.loads(data)["error"]["code"] if res.status >= 400 else None]
camera = json.dumps({"id": "from-python", "url": "file:///p.mp4"})
print(json.dumps([call("GET", "/cameras"), call("POST", "/cameras", read_key, camera), call("POST", "/cameras", admin_key, camera), call("DELETE", "/cameras/from-python", read_key), call("DELETE", "/cameras/from-python", admin_key)]))
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, String(t.server.port), READ_KEY, ADMIN_KEY]);
    expect(JSON.parse(stdout)).toEqual([
      [401, 'unauthorized'],
      [403, 'forbidden'],
      [201, null],
      [403, 'forbidden'],
      [204, null],
    ]);
  });

  it('curl: 401, 403 and success by role', async () => {
    const status = async (args: string[]): Promise<string> => (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args])).stdout;
    expect(await status([`${t.base}/metrics`])).toBe('401');
    expect(await status(['-H', `Authorization: Bearer ${READ_KEY}`, `${t.base}/metrics`])).toBe('200');
    expect(await status(['-X', 'DELETE', '-H', `Authorization: Bearer ${READ_KEY}`, `${t.base}/cameras/cam1`])).toBe('403');
    const camera = ['-H', 'Content-Type: application/json', '--data', '{"id":"from-curl","url":"file:///c.mp4"}', `${t.base}/cameras`];
    expect(await status(['-H', `Authorization: Bearer ${READ_KEY}`, ...camera])).toBe('403');
    expect(await status(['-H', `Authorization: Bearer ${ADMIN_KEY}`, ...camera])).toBe('201');
  });
});

describe('failed attempts', () => {
  it('are counted in /metrics by reason and rate-limited per client IP with 429 and Retry-After', async () => {
    nowMs += 120_000;
    const before = { ...t.deps.auth.failures };
    const cameras = ROUTES.find((r) => r.id === 'listCameras')!;
    for (let i = 0; i < 10; i++) expect((await call(cameras, bearer(`guess-${i}-0123456789abcdef`))).status).toBe(401);
    // Now even the right key is refused from this client, until the bucket refills.
    const limited = await call(cameras, bearer(READ_KEY));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.parse(limited.body).error.code).toBe('too_many_failures');
    nowMs += 6_000; // one attempt back per 6 s at 10 per minute
    expect((await call(cameras, bearer(READ_KEY))).status).toBe(200);
    expect(t.deps.auth.failures.invalid - before.invalid).toBe(10);
    expect(t.deps.auth.failures.rate_limited - before.rate_limited).toBe(1);

    await call(cameras);
    const metrics = await (await fetch(`${t.base}/metrics`, { headers: bearer(READ_KEY) })).text();
    expect(metrics).toContain(`stream_ml_auth_failures_total{reason="invalid"} ${t.deps.auth.failures.invalid}`);
    expect(metrics).toContain(`stream_ml_auth_failures_total{reason="missing"} ${t.deps.auth.failures.missing}`);
    expect(t.deps.auth.failures.missing).toBeGreaterThan(0);
  });
});

describe('no keys on loopback: DNS rebinding', () => {
  it('answers only requests addressed to a loopback name, WebSocket upgrades included', async () => {
    const open = await startTestServer();
    try {
      const port = open.server.port;
      const get = (host: string, extra = ''): Promise<RawResponse> => rawRequest(port, `GET /cameras HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);
      // A page on attacker.example whose name now resolves to 127.0.0.1 is same-origin to the browser.
      const rebound = await get(`attacker.example:${port}`, `Origin: http://attacker.example:${port}\r\n`);
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'host_not_allowed' } });
      const upgrade = await rawRequest(
        port,
        `GET /ws HTTP/1.1\r\nHost: attacker.example:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      expect(upgrade.status).toBe(403);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) expect((await get(host)).status, host).toBe(200);
      expect(open.deps.auth.failures.origin).toBe(2);
    } finally {
      await open.close();
    }
  });
});
