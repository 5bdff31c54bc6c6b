import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseCommand } from '../../src/api/ws.js';
import { cameraStatus, startTestServer, type TestServer } from './helpers.js';

/** A ws client that queues every JSON message for in-order assertions. */
class Client {
  private readonly queue: Record<string, unknown>[] = [];
  private waiter: (() => void) | null = null;
  closeCode: number | null = null;
  readonly closed: Promise<number>;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.queue.push(JSON.parse(data.toString()) as Record<string, unknown>);
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => socket.on('close', (code: number) => {
      this.closeCode = code;
      resolve(code);
      this.waiter?.();
    }));
  }

  static async open(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    const client = new Client(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  async next(): Promise<Record<string, unknown>> {
    while (this.queue.length === 0) {
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode})`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return this.queue.shift()!;
  }

  /** Sends a control message and returns its acknowledgement (events before it are returned too). */
  async command(message: unknown): Promise<{ before: Record<string, unknown>[]; ack: Record<string, unknown> }> {
    this.socket.send(JSON.stringify(message));
    const before: Record<string, unknown>[] = [];
    for (;;) {
      const msg = await this.next();
      if ('subscribed' in msg || 'error' in msg) return { before, ack: msg };
      before.push(msg);
    }
  }
}

let t: TestServer;
const clients: Client[] = [];

beforeEach(async () => {
  t = await startTestServer();
  t.deps.cameraMap.set('cam2', cameraStatus('cam2', 'file:///b.mp4'));
  t.deps.cameraMap.set('cam3', cameraStatus('cam3', 'file:///c.mp4'));
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await t.close();
});

async function connect(query = ''): Promise<Client> {
  const client = await Client.open(`ws://127.0.0.1:${t.server.port}/ws${query}`);
  clients.push(client);
  return client;
}

/** Publishes events, then returns the cameras a client saw up to a final marker it is known to receive. */
async function seen(client: Client, cameras: string[], marker: string): Promise<string[]> {
  for (const camera of cameras) t.deps.events.publish(camera);
  const end = t.deps.events.publish(marker);
  const out: string[] = [];
  for (;;) {
    const msg = await client.next();
    if (msg.id === end.id) return out;
    out.push(msg.camera as string);
  }
}

describe('GET /ws', () => {
  it('sends every event as JSON to a new client (subscribed to all by default)', async () => {
    const client = await connect();
    const event = t.deps.events.publish('cam1', { detections: [{ label: 'person', class_id: 0, score: 0.8, box: [1, 2, 3, 4] }] });
    expect(await client.next()).toEqual(event);
    expect(await seen(client, ['cam2', 'cam3', 'elsewhere'], 'cam1')).toEqual(['cam2', 'cam3', 'elsewhere']);
    expect(t.server.clients().ws_clients).toBe(1);
  });

  it('subscribe narrows "all" to the named cameras, then adds; unsubscribe removes', async () => {
    const client = await connect();
    expect((await client.command({ subscribe: ['cam1'] })).ack).toEqual({ subscribed: ['cam1'] });
    expect(await seen(client, ['cam2', 'cam1', 'cam3'], 'cam1')).toEqual(['cam1']);

    expect((await client.command({ subscribe: ['cam2'] })).ack).toEqual({ subscribed: ['cam1', 'cam2'] });
    expect(await seen(client, ['cam2', 'cam3', 'cam1'], 'cam2')).toEqual(['cam2', 'cam1']);

    expect((await client.command({ unsubscribe: ['cam1'] })).ack).toEqual({ subscribed: ['cam2'] });
    expect(await seen(client, ['cam1', 'cam3'], 'cam2')).toEqual([]);
  });

  it('"*" subscribes to everything again; unsubscribe "*" stops all events', async () => {
    const client = await connect('?camera=cam3');
    expect(await seen(client, ['cam1', 'cam2'], 'cam3')).toEqual([]);
    expect((await client.command({ subscribe: '*' })).ack).toEqual({ subscribed: '*' });
    expect(await seen(client, ['cam1', 'cam2'], 'cam3')).toEqual(['cam1', 'cam2']);

    expect((await client.command({ unsubscribe: '*' })).ack).toEqual({ subscribed: [] });
    for (const camera of ['cam1', 'cam2', 'cam3']) t.deps.events.publish(camera);
    // The next message after the events is the ack of a later command: nothing was delivered.
    expect(await client.command({ subscribe: ['cam9'] })).toEqual({ before: [], ack: { subscribed: ['cam9'] } });
  });

  it('unsubscribing one camera from "all" keeps the other known cameras', async () => {
    const client = await connect();
    expect((await client.command({ unsubscribe: ['cam2'] })).ack).toEqual({ subscribed: ['cam1', 'cam3'] });
    expect(await seen(client, ['cam1', 'cam2', 'cam3'], 'cam1')).toEqual(['cam1', 'cam3']);
  });

  it('answers invalid messages with an error and keeps the connection', async () => {
    const client = await connect();
    for (const bad of ['not json', '[]', '{"subscribe": 5}', '{"subscribe": [""]}', '{"publish": "*"}']) {
      client.socket.send(bad);
      const reply = await client.next();
      expect(reply).toMatchObject({ error: { code: 'bad_message' } });
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await client.next()).toMatchObject({ error: { code: 'bad_message' } });
    const event = t.deps.events.publish('cam1');
    expect(await client.next()).toEqual(event);
  });

  it('server close ends clients with 1001 and logs one line per connection', async () => {
    const client = await connect();
    await client.command({ subscribe: '*' });
    await t.close();
    expect(await client.closed).toBe(1001);
    const lines = t.logs.filter((l) => l.msg === 'request' && l.path === '/ws');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', status: 101 });
    t = await startTestServer();
  });
});

describe('parseCommand', () => {
  it('accepts the two operations with "*" or camera id arrays only', () => {
    expect(parseCommand('{"subscribe":["a","b"]}')).toEqual({ op: 'subscribe', cameras: ['a', 'b'] });
    expect(parseCommand('{"unsubscribe":"*"}')).toEqual({ op: 'unsubscribe', cameras: '*' });
    expect(typeof parseCommand('{"subscribe":"a"}')).toBe('string');
    expect(typeof parseCommand('{"subscribe":["a"],"unsubscribe":["b"]}')).toBe('string');
    expect(typeof parseCommand(`{"subscribe":${JSON.stringify(Array.from({ length: 300 }, (_, i) => `c${i}`))}}`)).toBe('string');
  });
});
