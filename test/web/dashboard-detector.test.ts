/**
 * The dashboard with the real person detector: the PERSON / NO PERSON
 * indicator follows the slideshow and boxes are drawn over the preview.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { StreamEvent } from '../../src/contracts/events.js';
import { fixturePath } from '../helpers/fixtures.js';
import { collectSse, fileCamera, SLIDESHOW_720P, startTestService, type TestService } from '../helpers/service.js';
import { launchBrowser, screenshot, type TestBrowser } from './browser.js';
import { check, loadApiSchemas } from './openapi-schemas.js';

const CAMERA = 'street';
const CARD = `article.card[data-camera-id="${CAMERA}"]`;

describe('dashboard with the person detector', () => {
  let svc: TestService;
  let browser: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    svc = await startTestService({ model: { name: 'person_detector' }, cameras: [fileCamera(CAMERA, SLIDESHOW_720P, { fps: 5 })] });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`${svc.baseUrl}/`);
    await page.locator(`${CARD}[data-state="streaming"]`).waitFor({ timeout: 15_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await svc?.stop();
  });

  it('switches between PERSON and NO PERSON as the pictures change', async () => {
    await page.evaluate((selector) => {
      const el = document.querySelector(selector) as HTMLElement;
      const seen = new Set<string>();
      (window as unknown as { __seen: Set<string> }).__seen = seen;
      new MutationObserver(() => {
        if (el.dataset.top) seen.add(el.dataset.top);
      }).observe(el, { attributes: true, attributeFilter: ['data-top'] });
    }, CARD);
    await page.waitForFunction(() => (window as unknown as { __seen: Set<string> }).__seen.size === 2, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => [...(window as unknown as { __seen: Set<string> }).__seen].sort())).toEqual(['NO PERSON', 'PERSON']);
    await expect(page.locator(`${CARD} .topk`).isHidden()).resolves.toBe(true);
  });

  it('draws person boxes over the preview, scaled from source pixels to the preview', async () => {
    // A moment where the card says PERSON, the preview is loaded and boxes are painted.
    const handle = await page.waitForFunction(
      (selector) => {
        const card = document.querySelector(selector) as HTMLElement;
        const img = card.querySelector('img.frame') as HTMLImageElement;
        const canvas = card.querySelector('canvas.boxes') as HTMLCanvasElement;
        if (card.dataset.top !== 'PERSON' || !img.naturalWidth || canvas.width !== img.naturalWidth) return null;
        const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
        const indicator = card.querySelector('.person') as HTMLElement;
        return painted > 0
          ? { painted, width: canvas.width, height: canvas.height, yes: indicator.classList.contains('yes'), label: indicator.querySelector('.person-label')?.textContent, score: indicator.querySelector('.person-score')?.textContent }
          : null;
      },
      CARD,
      { timeout: 30_000, polling: 100 },
    );
    await screenshot(page, 'dashboard-detector');
    const drawn = (await handle.jsonValue()) as { painted: number; width: number; height: number; yes: boolean; label: string; score: string };
    // The preview keeps the 16:9 source shape (letterbox padding cut away).
    expect(Math.abs(drawn.width / drawn.height - 1280 / 720)).toBeLessThan(0.02);
    // Boxes are outlines, not a fill over the whole picture.
    expect(drawn.painted).toBeLessThan(drawn.width * drawn.height * 0.5);
    expect(drawn).toMatchObject({ yes: true, label: 'PERSON', score: expect.stringMatching(/^score (0\.\d\d|1\.00)$/) });
  });

  it('sends detector events and /predict answers as the OpenAPI document says', async () => {
    const api = loadApiSchemas();
    const events = await collectSse<StreamEvent>(`${svc.baseUrl}/stream?camera=${CAMERA}`, 30_000, (evs) => evs.some((e) => e.detections?.length));
    expect(events.some((e) => e.detections?.length)).toBe(true);
    for (const event of events) expect(check(api.component('StreamEvent'), event)).toBe('valid');
    const form = new FormData();
    form.set('file', new Blob([readFileSync(await fixturePath('coco', '000000000139.jpg'))], { type: 'image/jpeg' }), 'people.jpg');
    const res = await fetch(`${svc.baseUrl}/predict`, { method: 'POST', body: form });
    const body = (await res.json()) as { has_person?: boolean };
    expect(res.status).toBe(200);
    expect(body.has_person).toBe(true);
    expect(check(api.component('PredictResponse'), body)).toBe('valid');
  });

  it('raised no page errors', () => {
    expect(browser.errors).toEqual([]);
  });
});
