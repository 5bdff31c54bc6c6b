/**
 * Clients that stop reading while many large events are published: their
 * events are dropped and counted (the server holds no more than about the
 * limit for them), fast clients get everything, and a client that stays over
 * the limit is disconnected.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { judgeSlowClient } from '../../src/api/slow-client.js';
import { startTestServer, type TestServer } from './helpers.js';
import { SseReader, until } from './sse-client.js';

const LIMIT = 256 * 1024;
const EVENTS = 300;
// ~64 KiB per event: 300 of them (~19 MB) overflow the loopback socket buffers many times.
const BIG_LABEL = 'x'.repeat(64 * 1024);

let t: TestServer | undefined;
const sockets: (Socket | WebSocket)[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) {
    if (socket instanceof WebSocket) socket.terminate();
    else socket.destroy();
  }
  await t?.close();
  t = undefined;
});

/** Publishes in small batches with pauses, so in-process fast clients keep up. */
async function publishBig(server: TestServer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    server.deps.events.publish('cam1', { predictions: [{ label: BIG_LABEL, score: i }] });
    if (i % 8 === 7) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A raw SSE client that reads the headers, then stops reading. */
async function stalledSse(port: number): Promise<{ socket: Socket; text: () => string }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
  });
  socket.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await until(() => text.includes(': connected'), 'SSE headers');
  socket.pause();
  return { socket, text: () => text };
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) n++;
  return n;
}

describe('slow SSE client', () => {
  it('drops and counts its events while a fast client gets them all', async () => {
    t = await startTestServer({ clientMaxBufferedBytes: LIMIT, sseHeartbeatMs: 50, slowClientDisconnectMs: 60_000 });
    const slow = await stalledSse(t.server.port);
    const fast = await SseReader.open(`${t.base}/stream`);
    sockets.push(slow.socket);
    expect((await fast.next())?.comments).toEqual(['connected']);

    // The fast client reads all along.
    const fastDone = (async () => {
      let n = 0;
      while (n < EVENTS) {
        if ((await fast.nextEvent()) === null) throw new Error('fast client stream ended');
        n++;
      }
      return n;
    })();
    await publishBig(t, EVENTS);
    const dropped = t.deps.drops;
    expect(dropped).toBeGreaterThan(EVENTS / 2);
    expect(t.server.clients().events_dropped_slow_client).toBe(dropped);
    expect(await fastDone).toBe(EVENTS);
    fast.close();

    // Let the slow one read again: everything not dropped arrives, then heartbeats resume.
    slow.socket.resume();
    await until(() => slow.text().lastIndexOf(': ping') > slow.text().lastIndexOf('id: '), 'slow client drained');
    expect(count(slow.text(), '\ndata: ')).toBe(EVENTS - dropped);
    // Ids stay increasing: drops leave gaps, never reorder.
    const ids = [...slow.text().matchAll(/\nid: (\d+)\n/g)].map((m) => Number(m[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('disconnects a client that stays over the limit', async () => {
    t = await startTestServer({ clientMaxBufferedBytes: LIMIT, slowClientDisconnectMs: 300 });
    const slow = await stalledSse(t.server.port);
    const closed = new Promise<void>((resolve) => slow.socket.on('close', () => resolve()));
    await publishBig(t, EVENTS);
    expect(t.deps.drops).toBeGreaterThan(0);
    await until(() => t!.server.clients().sse_clients === 0, 'client removed');
    // A paused socket only sees the end once it reads again.
    slow.socket.resume();
    await closed;
    // The server still serves everyone else.
    expect((await fetch(`${t.base}/health`)).status).toBe(200);
  });
});

describe('slow WebSocket client', () => {
  async function openWs(port: number): Promise<{ socket: WebSocket; received: () => number; ids: number[] }> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(socket);
    const ids: number[] = [];
    socket.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number };
      if (typeof msg.id === 'number') ids.push(msg.id);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return { socket, received: () => ids.length, ids };
  }

  it('drops and counts events for a socket over maxBackpressure; others get all', async () => {
    t = await startTestServer({ clientMaxBufferedBytes: LIMIT, slowClientDisconnectMs: 60_000 });
    const slow = await openWs(t.server.port);
    const fast = await openWs(t.server.port);
    slow.socket.pause();

    await publishBig(t, EVENTS);
    const dropped = t.deps.drops;
    expect(dropped).toBeGreaterThan(EVENTS / 2);
    await until(() => fast.received() === EVENTS, 'fast client got every event');

    slow.socket.resume();
    // Small marker events until one gets through: all earlier bytes have then arrived.
    let markers = 0;
    while (!slow.ids.some((id) => id > EVENTS)) {
      t.deps.events.publish('cam1');
      markers++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const big = slow.ids.filter((id) => id <= EVENTS);
    expect(big.length + dropped).toBe(EVENTS);
    expect(big).toEqual([...big].sort((a, b) => a - b));
    expect(markers).toBeGreaterThan(0);
  });

  it('disconnects a socket that stays over the limit', async () => {
    t = await startTestServer({ clientMaxBufferedBytes: LIMIT, slowClientDisconnectMs: 300 });
    const slow = await openWs(t.server.port);
    const closed = new Promise<void>((resolve) => slow.socket.on('close', () => resolve()));
    slow.socket.pause();
    await publishBig(t, EVENTS);
    // ws only sees the close once it reads again.
    await until(() => t!.server.clients().ws_clients === 0, 'socket closed by the server');
    slow.socket.resume();
    await closed;
  });
});

describe('judgeSlowClient', () => {
  it('is ok under the limit, over above it, and disconnects after the grace time', () => {
    const policy = { maxBufferedBytes: 100, disconnectAfterMs: 1000 };
    const state = { overSince: 0 };
    expect(judgeSlowClient(policy, state, 100, 5000)).toBe('ok');
    expect(judgeSlowClient(policy, state, 101, 5000)).toBe('over');
    expect(judgeSlowClient(policy, state, 500, 5999)).toBe('over');
    expect(judgeSlowClient(policy, state, 500, 6000)).toBe('disconnect');
    expect(judgeSlowClient(policy, state, 0, 6001)).toBe('ok');
    expect(judgeSlowClient(policy, state, 500, 6002)).toBe('over');
  });
});
