/**
 * The dashboard, the docs page and the SSE viewer in real Chromium against
 * the real service (classifier) playing the COCO slideshow as a file camera.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CameraStatus } from '../../src/contracts/camera.js';
import { fixturePath } from '../helpers/fixtures.js';
import { collectSse, fileCamera, PROJECT_ROOT, SLIDESHOW_360P, startTestService, type TestService } from '../helpers/service.js';
import { launchBrowser, screenshot, type TestBrowser } from './browser.js';
import { check, loadApiSchemas } from './openapi-schemas.js';

const CAMERA = 'slideshow';
const card = (id: string): string => `article.card[data-camera-id="${id}"]`;

/** Records every value a card's `data-top` takes (top-1 label or PERSON / NO PERSON). */
async function recordTopLabels(page: Page, id: string): Promise<void> {
  await page.evaluate((selector) => {
    const el = document.querySelector(selector) as HTMLElement;
    const seen: string[] = [];
    (window as unknown as { __tops: string[] }).__tops = seen;
    new MutationObserver(() => {
      const top = el.dataset.top;
      if (top && seen[seen.length - 1] !== top) seen.push(top);
    }).observe(el, { attributes: true, attributeFilter: ['data-top'] });
  }, card(id));
}

describe('web UI against the running service (classifier)', () => {
  let svc: TestService;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    // "null": the SSE viewer is opened from file://.
    svc = await startTestService({ cameras: [fileCamera(CAMERA, SLIDESHOW_360P, { fps: 5 })], server: { cors_origins: ['null'] } });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`${svc.baseUrl}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });

  it('shows the file camera as streaming within 15 s', async () => {
    await page.locator(`${card(CAMERA)}[data-state="streaming"]`).waitFor({ timeout: 15_000 });
    const badge = page.locator(`${card(CAMERA)} .badge`);
    await expect(badge.textContent()).resolves.toBe('streaming');
    await expect(page.locator('#service-health').textContent()).resolves.toContain(svc.service.model.spec.name);
    // The stats come from /health/stream: fps in is the camera's 5 fps once it runs.
    await page.waitForFunction((sel) => Number(document.querySelector(`${sel} .fps-in`)?.textContent) > 0, card(CAMERA));
    await screenshot(page, 'dashboard-streaming');
  });

  it('shows top-k predictions that change as the pictures change', async () => {
    await recordTopLabels(page, CAMERA);
    // 0.8 s per photo: three different top-1 labels arrive within a few seconds.
    await page.waitForFunction(() => new Set((window as unknown as { __tops: string[] }).__tops).size >= 3, undefined, { timeout: 20_000 });
    const tops = await page.evaluate(() => (window as unknown as { __tops: string[] }).__tops);
    const labels = new Set(svc.service.model.labels);
    for (const label of tops) expect(labels.has(label), label).toBe(true);
    const rows = page.locator(`${card(CAMERA)} .topk li:not([hidden])`);
    await expect(rows.count()).resolves.toBe(3); // model.top_k
    const widths = await rows.locator('.fill').evaluateAll((els) => els.map((e) => parseFloat((e as HTMLElement).style.width)));
    expect(widths[0]).toBeGreaterThan(0);
    expect([...widths].sort((a, b) => b - a)).toEqual(widths);
    await expect(page.locator(`${card(CAMERA)} .latency`).textContent()).resolves.toMatch(/^\d+ ms$/);
    await screenshot(page, 'dashboard-predictions');
  });

  it('loads the live preview image while the card is visible, and stops when it is not', async () => {
    const img = page.locator(`${card(CAMERA)} img.frame`);
    await page.waitForFunction((sel) => ((document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, `${card(CAMERA)} img.frame`);
    expect(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    await expect(page.locator(`${card(CAMERA)} .preview-note`).isHidden()).resolves.toBe(true);
    // The sparkline has been drawn from the status polls.
    await page.waitForFunction((sel) => {
      const c = document.querySelector(sel) as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }, `${card(CAMERA)} canvas.spark`);
    await screenshot(page, 'dashboard-preview');

    // Pushed far below the fold, the card stops asking for previews.
    const previews: string[] = [];
    page.on('request', (req) => {
      if (req.url().includes(`/cameras/${CAMERA}/preview.jpg`)) previews.push(req.url());
    });
    await page.locator(card(CAMERA)).evaluate((el) => ((el as HTMLElement).style.marginTop = '5000px'));
    await page.waitForTimeout(1500); // let a request already in flight finish
    const before = previews.length;
    await page.waitForTimeout(2500);
    expect(previews.length).toBe(before);
    await page.locator(card(CAMERA)).evaluate((el) => ((el as HTMLElement).style.marginTop = ''));
    await page.waitForRequest((req) => req.url().includes(`/cameras/${CAMERA}/preview.jpg`), { timeout: 5000 });
  });

  it('adds a camera from the form, shows errors, and removes it from the page', async () => {
    await page.fill('#cam-id', 'added');
    await page.fill('#cam-url', SLIDESHOW_360P);
    await page.fill('#cam-fps', '2');
    await page.click('#add-camera-form button[type="submit"]');
    await page.locator(`${card('added')}[data-state="streaming"]`).waitFor({ timeout: 20_000 });
    await expect(page.locator('#form-message').textContent()).resolves.toContain('Added camera added');
    await page.locator(`${card('added')} img.frame`).evaluate((el) => new Promise((ok) => ((el as HTMLImageElement).naturalWidth ? ok(null) : el.addEventListener('load', ok, { once: true }))));
    await screenshot(page, 'dashboard-added');

    // The same id again: the service answers 409 and the page says why.
    await page.fill('#cam-id', 'added');
    await page.fill('#cam-url', SLIDESHOW_360P);
    await page.click('#add-camera-form button[type="submit"]');
    await page.locator('#form-message.error').waitFor();
    await expect(page.locator('#form-message').textContent()).resolves.toMatch(/Could not add added: 409/);
    await screenshot(page, 'dashboard-add-error');

    await page.click(`${card('added')} button.remove`);
    await page.locator(card('added')).waitFor({ state: 'detached' });
    await expect(page.locator('#form-message').textContent()).resolves.toContain('Removed camera added');
    const listed = (await (await fetch(`${svc.baseUrl}/cameras`)).json()) as { cameras: CameraStatus[] };
    expect(listed.cameras.map((c) => c.id)).toEqual([CAMERA]);
    await expect(page.locator(card(CAMERA)).count()).resolves.toBe(1);
    await screenshot(page, 'dashboard-removed');
  });

  it("shows a failing camera's state and last error", async () => {
    // Nothing listens on port 9 of loopback: the camera keeps failing and retrying.
    const res = await fetch(`${svc.baseUrl}/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'broken', url: 'rtsp://127.0.0.1:9/live' }),
    });
    expect(res.status).toBe(201);
    const broken = card('broken');
    await page.waitForFunction((sel) => {
      const el = document.querySelector(sel) as HTMLElement | null;
      return el !== null && ['reconnecting', 'error'].includes(el.dataset.state ?? '') && !(el.querySelector('.cam-error') as HTMLElement).hidden;
    }, broken, { timeout: 20_000 });
    const state = await page.locator(broken).getAttribute('data-state');
    await expect(page.locator(`${broken} .badge`).getAttribute('class')).resolves.toBe(`badge state-${state}`);
    await expect(page.locator(`${broken} .cam-error`).textContent()).resolves.not.toBe('');
    await expect(page.locator(`${broken} .no-result`).isVisible()).resolves.toBe(true);
    await screenshot(page, 'dashboard-failing-camera');
    expect((await fetch(`${svc.baseUrl}/cameras/broken`, { method: 'DELETE' })).status).toBe(204);
    await page.locator(broken).waitFor({ state: 'detached' });
  });

  it('renders /docs with Swagger UI and runs /predict from it', async () => {
    const docs = await browser.newPage();
    await docs.goto(`${svc.baseUrl}/docs`);
    const predict = docs.locator('.opblock-post', { has: docs.locator('.opblock-summary-path', { hasText: /^\/predict$/ }) });
    await predict.waitFor({ timeout: 30_000 });
    await screenshot(docs, 'docs');
    // Try-it-out is on from the start: upload a COCO photo, the real model answers.
    await predict.locator('.opblock-summary').click();
    await predict.locator('input[type="file"]').setInputFiles(await fixturePath('coco', '000000000776.jpg'));
    await predict.locator('button.execute').click();
    const body = predict.locator('.live-responses-table .response-col_description pre').first();
    await body.waitFor({ timeout: 30_000 });
    const answer = JSON.parse((await body.textContent()) ?? '') as { predictions: { label: string }[] };
    expect(answer.predictions[0]?.label).toBe('teddy');
    await expect(predict.locator('.live-responses-table tr.response .response-col_status').first().textContent()).resolves.toContain('200');
    await body.scrollIntoViewIfNeeded();
    await screenshot(docs, 'docs-predict');
    await docs.close();
  });

  it('the SSE viewer opened from file:// connects, shows events and disconnects', async () => {
    const viewer = await browser.newPage();
    await viewer.goto(pathToFileURL(join(PROJECT_ROOT, 'tools', 'sse_viewer.html')).href);
    await viewer.fill('#url', svc.baseUrl);
    await viewer.click('#connect');
    await viewer.waitForFunction(() => document.querySelectorAll('#events tr.event').length >= 3, undefined, { timeout: 15_000 });
    await expect(viewer.locator('#status').textContent()).resolves.toContain('connected');
    const first = viewer.locator('#events tr.event').first();
    await expect(first.locator('td').nth(2).textContent()).resolves.toBe(CAMERA);
    await expect(first.locator('td.preds').textContent()).resolves.toMatch(/\w+ \d+\.\d%/);
    await screenshot(viewer, 'sse-viewer');
    await viewer.click('#disconnect');
    await expect(viewer.locator('#status').textContent()).resolves.toBe('disconnected');
    await expect(viewer.locator('#connect').isEnabled()).resolves.toBe(true);
    await viewer.close();
  });

  it('answers as the OpenAPI document says', async () => {
    const api = loadApiSchemas();
    const json = async (path: string, init?: RequestInit): Promise<[number, unknown]> => {
      const res = await fetch(`${svc.baseUrl}${path}`, init);
      return [res.status, await res.json()];
    };
    expect(check(api.component('Health'), (await json('/health'))[1])).toBe('valid');
    expect(check(api.component('CameraList'), (await json('/health/stream'))[1])).toBe('valid');
    expect(check(api.component('CameraList'), (await json('/cameras'))[1])).toBe('valid');
    const form = new FormData();
    form.set('file', new Blob([readFileSync(await fixturePath('coco', '000000000885.jpg'))], { type: 'image/jpeg' }), 'racket.jpg');
    const [status, predicted] = await json('/predict', { method: 'POST', body: form });
    expect(status).toBe(200);
    expect(check(api.component('PredictResponse'), predicted)).toBe('valid');
    const events = await collectSse<unknown>(`${svc.baseUrl}/stream?camera=${CAMERA}`, 15_000, (evs) => evs.length >= 2);
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const event of events) expect(check(api.component('StreamEvent'), event)).toBe('valid');
    const notImage = new FormData();
    notImage.set('file', new Blob(['hello'], { type: 'text/plain' }), 'hello.txt');
    const [badStatus, bad] = await json('/predict', { method: 'POST', body: notImage });
    expect(badStatus).toBe(415);
    expect(check(api.component('Error'), bad)).toBe('valid');
    const [missingStatus, missing] = await json('/cameras/nope/preview.jpg');
    expect(missingStatus).toBe(404);
    expect(check(api.component('Error'), missing)).toBe('valid');
  });

  it('raised no page errors', () => {
    expect(browser.errors).toEqual([]);
  });
});
