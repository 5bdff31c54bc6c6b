import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';
import { SseReader, until } from './sse-client.js';

let t: TestServer | undefined;
const readers: SseReader[] = [];

afterEach(async () => {
  for (const reader of readers.splice(0)) reader.close();
  await t?.close();
  t = undefined;
});

async function open(server: TestServer, query = '', headers: Record<string, string> = {}): Promise<SseReader> {
  const reader = await SseReader.open(`${server.base}/stream${query}`, headers);
  readers.push(reader);
  // The opening comment arrives once the client is registered for live events.
  const first = await reader.next();
  expect(first?.comments).toEqual(['connected']);
  return reader;
}

describe('GET /stream (SSE)', () => {
  it('frames each event as id + JSON data with the event-stream content type', async () => {
    t = await startTestServer();
    const reader = await open(t);
    expect(reader.response.status).toBe(200);
    expect(reader.response.headers.get('content-type')).toBe('text/event-stream');
    expect(reader.response.headers.get('cache-control')).toBe('no-store');
    const sent = [t.deps.events.publish('cam1'), t.deps.events.publish('cam2', { has_person: true })];
    for (const event of sent) {
      const got = await reader.nextEvent();
      expect(got?.id).toBe(event.id);
      expect(got?.event).toEqual(event);
    }
    expect(t.server.clients()).toMatchObject({ sse_clients: 1, events_published: 2 });
  });

  it('?camera= filters to the listed cameras', async () => {
    t = await startTestServer();
    const only2 = await open(t, '?camera=cam2,cam3');
    const all = await open(t);
    const published = ['cam1', 'cam2', 'cam1', 'cam3', 'cam1', 'cam2'].map((camera) => t!.deps.events.publish(camera));
    const wanted = published.filter((e) => e.camera !== 'cam1');
    const got: number[] = [];
    for (let i = 0; i < wanted.length; i++) got.push((await only2.nextEvent())!.id);
    expect(got).toEqual(wanted.map((e) => e.id));
    for (const event of published) expect((await all.nextEvent())?.id).toBe(event.id);
    // Nothing from cam1 slipped in afterwards: the next thing is a later cam2 event.
    const marker = t.deps.events.publish('cam2');
    expect((await only2.nextEvent())?.id).toBe(marker.id);
  });

  it('sends a ": ping" heartbeat comment every sseHeartbeatMs', async () => {
    t = await startTestServer({ sseHeartbeatMs: 50 });
    const reader = await open(t);
    const pings: string[] = [];
    while (pings.length < 3) {
      const message = await reader.next();
      expect(message?.data).toBeUndefined();
      pings.push(...(message?.comments ?? []));
    }
    expect(pings).toEqual(['ping', 'ping', 'ping']);
  });

  it('resumes after Last-Event-ID (header or ?last_event_id=) from the event history', async () => {
    t = await startTestServer();
    const events = ['cam1', 'cam2', 'cam1', 'cam2', 'cam1'].map((camera) => t!.deps.events.publish(camera));
    const byHeader = await SseReader.open(`${t.base}/stream`, { 'Last-Event-ID': String(events[1]!.id) });
    readers.push(byHeader);
    for (const event of events.slice(2)) expect((await byHeader.nextEvent())?.id).toBe(event.id);

    const byQuery = await SseReader.open(`${t.base}/stream?last_event_id=${events[0]!.id}&camera=cam2`);
    readers.push(byQuery);
    expect((await byQuery.nextEvent())?.id).toBe(events[1]!.id);
    expect((await byQuery.nextEvent())?.id).toBe(events[3]!.id);
    // Then live events continue after the replay, still filtered.
    t.deps.events.publish('cam1');
    const live = t.deps.events.publish('cam2');
    expect((await byQuery.nextEvent())?.id).toBe(live.id);

    // A bad id is ignored: no replay, only live events.
    const bad = await open(t, '', { 'Last-Event-ID': 'not-a-number' });
    const next = t.deps.events.publish('cam1');
    expect((await bad.nextEvent())?.id).toBe(next.id);
  });

  it('counts clients as they come and go, and server close ends the stream', async () => {
    t = await startTestServer();
    const counts: number[] = [];
    await t.close();
    t = await startTestServer({ onClients: (sse) => counts.push(sse) });
    const a = await open(t);
    const b = await open(t);
    expect(t.server.clients().sse_clients).toBe(2);
    a.close();
    await until(() => t!.server.clients().sse_clients === 1, 'one client left');
    expect(counts).toEqual([1, 2, 1]);
    await t.close();
    expect(await b.next()).toBeNull();
    expect(b.ended).toBe(true);
    expect(t.deps.events.listenerCount).toBe(0);
    t = undefined;
  });
});
