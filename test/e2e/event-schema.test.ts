/**
 * One event schema for every output: SSE events, WebSocket messages and the
 * capture JSON of a real service are checked against the OpenAPI components
 * (InferenceEvent, StreamEvent, CaptureRecord), strict about undocumented fields.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/processes.js';
import { collectSse, startTestService, type TestService } from '../helpers/service.js';
import { check, loadApiSchemas } from '../web/openapi-schemas.js';

describe('one event schema, live', () => {
  let svc: TestService;
  const captureDir = mkdtempSync(join(tmpdir(), 'event-schema-capture-'));

  beforeAll(async () => {
    svc = await startTestService({
      cameras: [{ id: 'door', url: 'lavfi:testsrc2=size=320x240:rate=10', fps: 5, transport: 'tcp', loop: true, realtime: true }],
      capture: { inference: true, dir: captureDir, every_n: 1, max_side: 160 },
    });
  });
  afterAll(async () => svc?.stop());

  it('SSE, WebSocket and capture JSON carry the same documented event fields', async () => {
    const schemas = loadApiSchemas();
    const ws = new WebSocket(`${svc.baseUrl.replace('http', 'ws')}/ws`);
    const wsEvents: Record<string, unknown>[] = [];
    ws.on('message', (data, isBinary) => {
      const msg = isBinary ? null : (JSON.parse(String(data)) as Record<string, unknown>);
      if (msg && typeof msg.id === 'number' && 'predictions' in msg) wsEvents.push(msg);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const sse = await collectSse<Record<string, unknown>>(`${svc.baseUrl}/stream`, 30_000, (evs) => evs.length >= 3);
    await waitFor(() => wsEvents.length >= 3, 30_000);
    ws.close();
    const records = await (async () => {
      const find = (): string[] => (readdirSync(captureDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json'));
      await waitFor(() => find().length > 0, 30_000);
      return find().map((f) => JSON.parse(readFileSync(join(captureDir, f), 'utf8')) as Record<string, unknown>);
    })();

    expect(sse.length).toBeGreaterThanOrEqual(3);
    expect(wsEvents.length).toBeGreaterThanOrEqual(3);
    expect(records.length).toBeGreaterThan(0);
    for (const event of [...sse, ...wsEvents]) {
      expect(check(schemas.component('StreamEvent'), event)).toBe('valid');
      // The old name stays readable for one release, with the same value.
      expect(event.camera_id).toBe('door');
      expect(event.camera).toBe(event.camera_id);
    }
    // Strict: a field the document does not name is refused.
    expect(check(schemas.component('StreamEvent'), { ...sse[0], cam: 'door' })).not.toBe('valid');
    for (const record of records) {
      expect(check(schemas.component('CaptureRecord'), record)).toBe('valid');
      expect(record.camera_id).toBe('door');
    }
    // The shared part is one schema: each output, reduced to its fields, is an InferenceEvent.
    const core = Object.keys((schemas.doc as { components: { schemas: { InferenceEvent: { properties: object } } } }).components.schemas.InferenceEvent.properties);
    const pick = (o: Record<string, unknown>) => Object.fromEntries(core.filter((k) => k in o).map((k) => [k, o[k]]));
    for (const output of [sse[0]!, wsEvents[0]!, records[0]!]) expect(check(schemas.component('InferenceEvent'), pick(output))).toBe('valid');
  }, 90_000);
});
