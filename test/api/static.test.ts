import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultStaticDir } from '../../src/api/server.js';
import { safeResolve } from '../../src/api/static-files.js';
import { rawRequest, startTestServer, type TestServer } from './helpers.js';

let dir: string;
let vendor: string;
let t: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'api-static-'));
  vendor = mkdtempSync(join(tmpdir(), 'api-vendor-'));
  mkdirSync(join(dir, 'docs'));
  mkdirSync(join(dir, 'img'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dash</title>');
  writeFileSync(join(dir, 'docs', 'index.html'), '<!doctype html><title>docs</title>');
  writeFileSync(join(dir, 'openapi.json'), '{"openapi":"3.1.0"}');
  writeFileSync(join(dir, 'app.js'), 'export const x = 1;');
  writeFileSync(join(dir, 'style.css'), 'body{}');
  writeFileSync(join(dir, 'img', 'a b.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(vendor, 'swagger-ui-bundle.js'), 'window.SwaggerUIBundle = 1;');
  // A secret next to (outside) the static root.
  writeFileSync(join(dir, '..', `${dir.split('/').pop()}-secret.txt`), 'TOP-SECRET-CONTENT');
  t = await startTestServer({ staticDir: dir, swaggerUiDir: vendor });
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(vendor, { recursive: true, force: true });
  rmSync(join(dir, '..', `${dir.split('/').pop()}-secret.txt`), { force: true });
});

async function get(path: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${t.base}${path}`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('static files', () => {
  it('serves the dashboard, docs, OpenAPI document and assets with content types', async () => {
    expect(await get('/')).toEqual({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>dash</title>' });
    expect(await get('/docs')).toEqual({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>docs</title>' });
    expect(await get('/openapi.json')).toEqual({ status: 200, type: 'application/json', body: '{"openapi":"3.1.0"}' });
    expect(await get('/static/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get('/static/style.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' });
    expect(await get('/static/img/a%20b.png')).toMatchObject({ status: 200, type: 'image/png' });
    expect(await get('/vendor/swagger-ui/swagger-ui-bundle.js')).toEqual({ status: 200, type: 'text/javascript; charset=utf-8', body: 'window.SwaggerUIBundle = 1;' });
  });

  it('streams a large file to a client that reads slowly, byte for byte', async () => {
    const big = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(join(dir, 'big.bin'), big);
    const res = await rawRequest(t.server.port, 'GET /static/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', [], false, 200);
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(big.length));
    expect(Buffer.from(res.body, 'latin1').equals(big)).toBe(true);
    expect((await get('/health')).status).toBe(200);
  });

  it('answers from memory after the first read', async () => {
    writeFileSync(join(dir, 'cached.txt'), 'first');
    expect((await get('/static/cached.txt')).body).toBe('first');
    writeFileSync(join(dir, 'cached.txt'), 'second');
    expect((await get('/static/cached.txt')).body).toBe('first');
  });

  it('404s missing files and directories, and a missing file can appear later', async () => {
    for (const path of ['/static/nope.js', '/static/img', '/static/img/', '/static/', '/vendor/swagger-ui/nope.js']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'not_found' } });
    }
    writeFileSync(join(dir, 'late.js'), 'late');
    expect((await get('/static/late.js')).body).toBe('late');
  });

  it('never escapes the static root, however the path is spelled', async () => {
    const secret = `${dir.split('/').pop()}-secret.txt`;
    const attempts = [
      `/static/../${secret}`,
      `/static/..%2f${secret}`,
      `/static/%2e%2e/${secret}`,
      `/static/%2e%2e%2f${secret}`,
      `/static/img/../../${secret}`,
      `/static/..%5c${secret}`,
      `/static/%2fetc%2fpasswd`,
      '/static/%00index.html',
      '/static/%E0%A4%A',
      '/vendor/swagger-ui/../../../../etc/passwd',
    ];
    for (const path of attempts) {
      // A raw socket: fetch would normalise the dot segments away.
      const res = await rawRequest(t.server.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('TOP-SECRET-CONTENT');
      expect(res.body).not.toContain('root:');
    }
  });

  it('safeResolve keeps paths inside the root', () => {
    expect(safeResolve('/srv/static', 'a/b.js')).toBe('/srv/static/a/b.js');
    expect(safeResolve('/srv/static', '/a.js')).toBe('/srv/static/a.js');
    for (const bad of ['', '../x', 'a/../../x', '%2e%2e/x', 'a\\..\\x', 'a%00', '%', './a']) expect(safeResolve('/srv/static', bad), bad).toBeNull();
  });

  it('defaults to src/api/static of the project and to the installed swagger-ui-dist', async () => {
    expect(defaultStaticDir()).toBe(fileURLToPath(new URL('../../src/api/static', import.meta.url)));
    const plain = await startTestServer();
    try {
      const res = await fetch(`${plain.base}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(readFileSync(join(defaultStaticDir(), 'index.html'), 'utf8'));
      const bundle = await fetch(`${plain.base}/vendor/swagger-ui/swagger-ui-bundle.js`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    } finally {
      await plain.close();
    }
  });
});
