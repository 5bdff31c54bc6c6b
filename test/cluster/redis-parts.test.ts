/**
 * The Redis-backed parts against a real redis-server: the shared camera
 * registry and the fenced result bus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { clusterKeys, connectRedis, whenReady } from '../../src/cluster/redis.js';
import { compareRegistry, RedisCameraStore } from '../../src/cluster/camera-store.js';
import { RedisEventBus } from '../../src/cluster/event-bus.js';
import type { CameraConfig } from '../../src/config/schema.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/processes.js';

const camera = (id: string, url = `/videos/${id}.mp4`): CameraConfig => ({ id, url, fps: 2, transport: 'tcp', loop: true, realtime: true });

describe('cluster parts on redis-server', () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  const connect = async (): Promise<Redis> => {
    const client = connectRedis(redis.url, { name: 'test', commandTimeoutMs: 2000 });
    clients.push(client);
    expect(await whenReady(client, 10_000)).toBe(true);
    return client;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await redis?.stop();
  });

  it('registry: seeds once, adds atomically, reports deletes, and survives bad entries', async () => {
    const keys = clusterKeys('t1:');
    const client = await connect();
    const store = new RedisCameraStore(client, keys);
    expect(await store.list()).toBeNull();
    expect(await store.seed([camera('a'), camera('b')])).toBe(true);
    expect(await store.seed([camera('zzz')])).toBe(false);
    expect((await store.list())?.map((c) => c.id)).toEqual(['a', 'b']);

    const version = await store.version();
    expect(await store.add(camera('c'))).toBe(true);
    expect(await store.add(camera('c', '/other.mp4'))).toBe(false);
    expect((await store.list())?.find((c) => c.id === 'c')?.url).toBe('/videos/c.mp4');
    expect(await store.delete('a')).toBe(true);
    expect(await store.delete('a')).toBe(false);
    expect(await store.version()).toBe((version as number) + 2);

    await client.hset(keys.cameras, 'broken', '{"id": "broken"}');
    const snapshot = await store.snapshot();
    expect(snapshot.cameras.map((c) => c.id)).toEqual(['b', 'c']);
    expect(snapshot.invalid).toEqual(['broken']);

    expect(compareRegistry([camera('b'), camera('c', '/moved.mp4'), camera('y')], snapshot.cameras)).toEqual({ only_in_yaml: ['y'], only_in_registry: [], different: ['c'] });
  });

  it('bus: appends only under the current lease holder, ids resume with since(), every reader gets every event', async () => {
    const keys = clusterKeys('t2:');
    const writer = await connect();
    const received: { id: number; camera: string }[][] = [[], []];
    const buses = await Promise.all(
      [0, 1].map(async (i) => {
        const bus = new RedisEventBus<{ camera: string; n: number }>({ writer: i === 0 ? writer : await connect(), reader: await connect(), keys, maxLen: 1000, deliver: (e) => received[i]?.push(e), blockMs: 200 });
        bus.start();
        return bus;
      }),
    );
    const [mine, other] = buses as [RedisEventBus<{ camera: string; n: number }>, RedisEventBus<{ camera: string; n: number }>];
    await writer.set(`${keys.leasePrefix}cam`, 'inst-a|7');
    await Promise.all(buses.map((b) => b.reading));

    const ids = await Promise.all([1, 2, 3].map((n) => mine.publish({ camera: 'cam', n }, 'inst-a|7')));
    expect(ids).toEqual([1, 2, 3]);
    // A stale holder (older token, or another instance) is fenced off.
    expect(await mine.publish({ camera: 'cam', n: 4 }, 'inst-a|6')).toBe(0);
    expect(await other.publish({ camera: 'cam', n: 5 }, 'inst-b|7')).toBe(0);
    expect(await other.publish({ camera: 'nobody', n: 6 }, 'inst-b|1')).toBe(0);
    expect(mine.counters.fenced + other.counters.fenced).toBe(3);

    expect(await waitFor(() => received.every((r) => r.length === 3), 10_000)).toBe(true);
    for (const list of received) expect(list.map((e) => e.id)).toEqual([1, 2, 3]);
    expect((await other.since(1)).map((e) => [e.id, e.n])).toEqual([
      [2, 2],
      [3, 3],
    ]);
    await Promise.all(buses.map((b) => b.close()));
  });
});
