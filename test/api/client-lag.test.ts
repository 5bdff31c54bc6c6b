/**
 * client_max_lag_s: a stream client that never reads is dropped once it has
 * been behind for the configured lag, measured by what it has taken (a
 * WebSocket ping it does not answer; SSE bytes the socket would not take),
 * while fast clients on the same stream get every event. The lag is small
 * here and nothing asserts how fast a timer fires: the loops publish until
 * the slow client is gone, bounded by an event count.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from './helpers.js';
import { SseReader, until } from './sse-client.js';

// Far above anything these tests send: only the lag can disconnect anyone.
const BUFFER_LIMIT = 64 * 1024 * 1024;
const LAG_MS = 2000;
let t: TestServer | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await t?.close();
  t = undefined;
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function start(): Promise<TestServer> {
  return startTestServer({ clientMaxBufferedBytes: BUFFER_LIMIT, slowClientDisconnectMs: 600_000, clientMaxLagMs: LAG_MS, sseHeartbeatMs: 600_000 });
}

/** Publishes `size`-byte events every `everyMs` until `stop()` or `max` events; returns the count. */
async function publishUntil(server: TestServer, size: number, everyMs: number, max: number, stop: () => boolean): Promise<number> {
  const label = 'x'.repeat(size);
  let n = 0;
  while (n < max && !stop()) {
    server.deps.events.publish('cam1', { predictions: [{ label, score: n }] });
    n++;
    await pause(everyMs);
  }
  return n;
}

describe('client_max_lag_s', () => {
  it('drops a never-reading WebSocket client long before its buffer limit; a fast one keeps every event', async () => {
    t = await start();
    const open = async (): Promise<{ socket: WebSocket; ids: number[]; closed: () => boolean }> => {
      const socket = new WebSocket(`ws://127.0.0.1:${t!.server.port}/ws`);
      cleanups.push(() => socket.terminate());
      const ids: number[] = [];
      let closed = false;
      socket.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { id?: number };
        if (typeof msg.id === 'number') ids.push(msg.id);
      });
      socket.on('close', () => (closed = true));
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      return { socket, ids, closed: () => closed };
    };
    const fast = await open();
    const slow = await open();
    // Never reads again: its kernel buffers take these small events for a long time.
    slow.socket.pause();
    const published = await publishUntil(t, 200, 20, 5000, () => t!.server.clients().ws_clients < 2);
    await until(() => t!.server.clients().ws_clients === 1, 'never-reading socket dropped');
    // Dropped by lag: everything ever sent to it is far below the buffer limit.
    expect(published * 400).toBeLessThan(BUFFER_LIMIT);
    expect(t.deps.drops).toBe(0);
    // The fast client is still there and has every event, in order.
    await until(() => fast.ids.length === published, 'fast client has every event');
    expect(fast.ids).toEqual([...fast.ids].sort((a, b) => a - b));
    expect(fast.closed()).toBe(false);
    await publishUntil(t, 200, 20, 10, () => false);
    await until(() => fast.ids.length === published + 10, 'fast client keeps receiving');
  }, 120_000);

  it('drops a never-reading SSE client once it has been behind for the lag; a fast one keeps every event', async () => {
    t = await start();
    const fast = await SseReader.open(`${t.base}/stream`);
    cleanups.push(() => fast.close());
    expect((await fast.next())?.comments).toEqual(['connected']);
    let fastCount = 0;
    // Ends with an abort when the test closes the reader.
    void (async () => {
      while ((await fast.nextEvent()) !== null) fastCount++;
    })().catch(() => {});

    const slow = connect(t.server.port, '127.0.0.1');
    cleanups.push(() => slow.destroy());
    let head = '';
    slow.on('data', (d: Buffer) => (head += d.toString('latin1')));
    slow.on('error', () => {});
    slow.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await until(() => head.includes(': connected'), 'slow SSE client connected');
    slow.pause();
    expect(t.server.clients().sse_clients).toBe(2);

    // 16 KiB events: the socket stops taking bytes after a few MB at most.
    const published = await publishUntil(t, 16 * 1024, 5, 20_000, () => t!.server.clients().sse_clients < 2);
    await until(() => t!.server.clients().sse_clients === 1, 'never-reading SSE client dropped');
    expect(published).toBeLessThan(20_000);
    expect(t.deps.drops).toBe(0);
    await until(() => fastCount === published, 'fast SSE client has every event');
  }, 180_000);
});
