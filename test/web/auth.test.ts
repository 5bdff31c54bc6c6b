/**
 * Authentication and CORS in real Chromium: the dashboard asks for a key
 * once and keeps it for the tab, and a page on another origin can neither
 * call the API nor open the WebSocket.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../api/helpers.js';
import { launchBrowser, screenshot, type TestBrowser } from './browser.js';

const ADMIN_KEY = 'admin-browser-key-0123456789';
const READ_KEY = 'read-browser-key-0123456789';
const sha = (key: string): string => createHash('sha256').update(key).digest('hex');
const keys = [
  { role: 'admin' as const, sha256: sha(ADMIN_KEY) },
  { role: 'read' as const, sha256: sha(READ_KEY) },
];
const CARD = 'article.card[data-camera-id="cam1"]';

let browser: TestBrowser;

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('dashboard login', () => {
  let t: TestServer;
  let page: Page;

  beforeAll(async () => {
    t = await startTestServer({ auth: { keys } });
    page = await browser.newPage();
  });
  afterAll(async () => {
    await page?.close();
    await t?.close();
  });

  it('asks for a key, refuses a wrong one and shows the cameras and live events with a right one', async () => {
    await page.goto(`${t.base}/`);
    await page.locator('#login').waitFor({ state: 'visible' });
    await expect(page.locator('#service-health').textContent()).resolves.toBe('API key required');
    await expect(page.locator(CARD).count()).resolves.toBe(0);

    await page.fill('#api-key', 'wrong-key-0123456789abcdef');
    await page.click('#login-form button[type="submit"]');
    await page.locator('#login-message', { hasText: 'Key not accepted: 401' }).waitFor();
    await screenshot(page, 'dashboard-login-refused');

    await page.fill('#api-key', READ_KEY);
    await page.click('#login-form button[type="submit"]');
    await page.locator('#login').waitFor({ state: 'hidden' });
    await page.locator(`${CARD}[data-state="streaming"]`).waitFor();
    // The WebSocket (with a stream token, not the key) delivers events to the card.
    await page.locator('#service-health', { hasText: /· live/ }).waitFor();
    await expect.poll(async () => {
      t.deps.events.publish('cam1', { predictions: [{ label: 'llama', score: 0.97 }] });
      return page.locator(CARD).getAttribute('data-top');
    }, { timeout: 10_000 }).toBe('llama');
    await page.locator(`${CARD} img.frame`).evaluate((img) => new Promise((resolve) => ((img as HTMLImageElement).naturalWidth > 0 ? resolve(null) : img.addEventListener('load', resolve))));
    expect(await page.evaluate(() => sessionStorage.getItem('stream-ml-service.api-key'))).toBe(READ_KEY);
    await screenshot(page, 'dashboard-logged-in');
  });

  it('keeps the key for the tab (reload) but not for a new tab', async () => {
    await page.reload();
    await page.locator(`${CARD}[data-state="streaming"]`).waitFor();
    await expect(page.locator('#login').isHidden()).resolves.toBe(true);
    const other = await browser.newPage();
    await other.goto(`${t.base}/`);
    await other.locator('#login').waitFor({ state: 'visible' });
    await other.close();
  });

  it('a read key cannot add cameras: the form shows the 403', async () => {
    await page.fill('#cam-id', 'lobby');
    await page.fill('#cam-url', 'rtsp://10.0.0.9/live');
    await page.click('#add-camera-form button[type="submit"]');
    await page.locator('#form-message', { hasText: /403: POST \/cameras needs an admin key/ }).waitFor();
    expect(t.deps.cameraMap.has('lobby')).toBe(false);
  });

  it('signing out forgets the key; an admin key then adds a camera', async () => {
    await page.click('#logout');
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await page.evaluate(() => sessionStorage.getItem('stream-ml-service.api-key'))).toBeNull();
    await page.fill('#api-key', ADMIN_KEY);
    await page.click('#login-form button[type="submit"]');
    await page.locator('#login').waitFor({ state: 'hidden' });
    await page.fill('#cam-id', 'lobby');
    await page.fill('#cam-url', 'rtsp://10.0.0.9/live');
    await page.click('#add-camera-form button[type="submit"]');
    await page.locator('article.card[data-camera-id="lobby"]').waitFor();
    expect(t.deps.cameraMap.has('lobby')).toBe(true);
  });

  it('raised no page errors', () => {
    expect(browser.errors).toEqual([]);
  });
});

describe('CORS: a page on another origin', () => {
  let foreign: Server;
  let foreignOrigin: string;

  beforeAll(async () => {
    // Any page: the attacker's site, here on another port (another origin).
    foreign = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignOrigin = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    foreign.closeAllConnections();
    await new Promise((resolve) => foreign.close(resolve));
  });

  /** What a script on the foreign page gets from the service at `base`. */
  async function attempt(base: string, authorization?: string): Promise<{ read: string; post: string; ws: string }> {
    const page = await browser.newPage();
    try {
      await page.goto(`${foreignOrigin}/`);
      return await page.evaluate(
        async ({ base, authorization }) => {
          const headers: Record<string, string> = authorization ? { authorization } : {};
          const read = await fetch(`${base}/cameras`, { headers }).then((r) => `status ${r.status}`, (e: Error) => `blocked: ${e.name}`);
          // A "simple" request needs no preflight: the browser sends it even though the page cannot read the answer.
          const post = await fetch(`${base}/cameras`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ id: 'planted', url: 'rtsp://10.0.0.66/x' }) }).then(
            (r) => `sent (${r.type})`,
            (e: Error) => `blocked: ${e.name}`,
          );
          const ws = await new Promise<string>((resolve) => {
            const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`);
            socket.onopen = () => {
              socket.close();
              resolve('open');
            };
            socket.onerror = () => resolve('refused');
          });
          return { read, post, ws };
        },
        { base, authorization },
      );
    } finally {
      await page.close();
    }
  }

  it('cannot read the API, change cameras or open the WebSocket (no keys, loopback service)', async () => {
    const t = await startTestServer();
    try {
      const result = await attempt(t.base);
      expect(result.read).toBe('blocked: TypeError');
      expect(result.ws).toBe('refused');
      // The no-cors POST left the browser, and the server refused it by its Origin.
      expect(t.deps.cameraMap.has('planted')).toBe(false);
      expect(t.deps.auth.failures.origin).toBeGreaterThanOrEqual(2);
      expect(t.logs.some((l) => l.path === '/cameras' && l.method === 'POST' && l.status === 403)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('cannot use a key either, unless its origin is listed in cors_origins', async () => {
    const t = await startTestServer({ auth: { keys } });
    const listed = await startTestServer({ auth: { keys }, corsOrigins: [foreignOrigin] });
    const listedOpen = await startTestServer({ corsOrigins: [foreignOrigin] });
    try {
      expect((await attempt(t.base, `Bearer ${READ_KEY}`)).read).toBe('blocked: TypeError');
      // The same page against services that list its origin: the test can tell the difference.
      const allowed = await attempt(listed.base, `Bearer ${READ_KEY}`);
      expect(allowed.read).toBe('status 200');
      expect(allowed.ws).toBe('refused'); // no credentials on the socket
      expect(await attempt(listedOpen.base)).toMatchObject({ read: 'status 200', ws: 'open' });
      expect(listedOpen.deps.cameraMap.has('planted')).toBe(true);
    } finally {
      await t.close();
      await listed.close();
      await listedOpen.close();
    }
  });
});
