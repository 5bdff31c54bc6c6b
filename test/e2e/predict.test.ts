/**
 * POST /predict through the real service with the real classifier: top-1 on
 * the photos MODELS.md names, and every bad-input case answered with its
 * status while the next good request still succeeds.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { PredictResponse } from '../../src/contracts/events.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startTestService, type TestService } from '../helpers/service.js';

const photo = async (name: string): Promise<Buffer> => readFileSync(await fixturePath('coco', name));

async function predict(baseUrl: string, body: Buffer, filename = 'image.jpg', field = 'file', type = 'image/jpeg'): Promise<Response> {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(body)], { type }), filename);
  return fetch(`${baseUrl}/predict`, { method: 'POST', body: form });
}

describe('POST /predict (classifier)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ server: { max_upload_bytes: 2 * 1024 * 1024, max_image_pixels: 4_000_000 } as never });
  });
  afterAll(async () => svc?.stop());

  it('reports health with model and provider', async () => {
    const health = (await (await fetch(`${svc.baseUrl}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', model: 'mobilenet_v2_int8', provider: 'cpu' });
    expect(typeof health.uptime_s).toBe('number');
  });

  it.each([
    ['000000000776.jpg', 'teddy'],
    ['000000000802.jpg', 'refrigerator'],
    ['000000000885.jpg', 'racket'],
  ])('classifies %s as %s', async (file, label) => {
    const res = await predict(svc.baseUrl, await photo(file));
    expect(res.status).toBe(200);
    const body = (await res.json()) as PredictResponse;
    expect(body.model).toBe('mobilenet_v2_int8');
    expect(body.predictions).toHaveLength(3);
    expect(body.predictions[0]?.label.toLowerCase()).toContain(label);
    expect(body.latency_ms).toBeGreaterThan(0);
  });

  it('answers every bad input with its status and keeps serving', async () => {
    const good = await photo('000000000776.jpg');
    const png = await sharp(good).png().toBuffer();
    const webp = await sharp(good).webp().toBuffer();
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).gif().toBuffer();
    const huge = await sharp({ create: { width: 4000, height: 1500, channels: 3, background: '#000' } }).png().toBuffer();
    const cases: [string, () => Promise<Response>, number][] = [
      ['no body', () => fetch(`${svc.baseUrl}/predict`, { method: 'POST' }), 400],
      ['json body', () => fetch(`${svc.baseUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400],
      ['wrong field', () => predict(svc.baseUrl, good, 'a.jpg', 'image'), 400],
      ['not an image', () => predict(svc.baseUrl, Buffer.from('hello, this is text'), 'a.txt', 'file', 'text/plain'), 415],
      ['gif', () => predict(svc.baseUrl, gif, 'a.gif', 'file', 'image/gif'), 415],
      ['truncated jpeg', () => predict(svc.baseUrl, good.subarray(0, Math.floor(good.length / 2))), 422],
      ['too many pixels', () => predict(svc.baseUrl, huge, 'big.png', 'file', 'image/png'), 422],
      ['over the size limit', () => predict(svc.baseUrl, Buffer.concat([good, Buffer.alloc(3 * 1024 * 1024)])), 413],
    ];
    for (const [name, send, status] of cases) {
      const res = await send();
      const body = (await res.json()) as { error?: { code: string; message: string } };
      expect({ name, status: res.status }).toEqual({ name, status });
      expect(body.error?.message, name).toBeTruthy();
      const next = await predict(svc.baseUrl, good);
      expect({ after: name, status: next.status }).toEqual({ after: name, status: 200 });
    }
    for (const [bytes, type] of [[png, 'image/png'], [webp, 'image/webp']] as const) {
      const res = await predict(svc.baseUrl, bytes, 'x', 'file', type);
      expect(res.status).toBe(200);
      expect(((await res.json()) as PredictResponse).predictions[0]?.label.toLowerCase()).toContain('teddy');
    }
  });
});
