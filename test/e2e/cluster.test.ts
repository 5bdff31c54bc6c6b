/**
 * Cluster mode end to end: a real redis-server, service processes on it, 9
 * file cameras. Ownership is checked the way an operator would see a problem:
 * by counting the ffmpeg processes that read each camera, on every instance.
 * Every wait is a bounded poll; the one fixed wait is the 20 s Redis outage
 * the scenario asks for.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignCameras } from '../../src/cluster/assignment.js';
import { waitFor } from '../helpers/processes.js';
import { collectSse, testConfig, withModelFiles } from '../helpers/service.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { cameraFile, camerasRunBy, ffmpegPerCamera, getJson, makeClip, startInstance, stopInstance, waitForAsync, type Instance } from '../helpers/cluster.js';

const LEASE_TTL_MS = 3000;
const CAPACITY = 5;
const YAML_CAMERAS = Array.from({ length: 9 }, (_, i) => `cam${i + 1}`);
// Cameras use `decode: all` and the drop_latest strategy: no keyframe-probe ffmpeg and no restart for a new rate, so one ffmpeg per camera is exactly one run of it.

interface CameraRow {
  id: string;
  state: string;
  owner?: string | null;
}
interface Event {
  id: number;
  camera: string;
}

/** Samples ffmpeg counts and records, per camera, the longest stretch it ran more than once. */
class DuplicateWatch {
  private readonly since = new Map<string, number>();
  longestMs = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly marker: string) {
    this.timer = setInterval(() => this.sample(), 100);
  }
  private sample(): void {
    const now = Date.now();
    const counts = ffmpegPerCamera(this.marker);
    for (const [camera, pids] of counts) {
      if (pids.length > 1) {
        const start = this.since.get(camera) ?? now;
        this.since.set(camera, start);
        this.longestMs = Math.max(this.longestMs, now - start);
      } else this.since.delete(camera);
    }
    for (const camera of [...this.since.keys()]) if (!counts.has(camera)) this.since.delete(camera);
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.longestMs;
  }
}

describe('cluster mode (redis-server, several service processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-'));
  const marker = `clustercam${process.pid}x${Date.now()}`;
  let redis: TestRedis;
  let env: Record<string, string>;
  let clip: string;
  const instances = new Map<string, Instance>();
  let sseLastId = 0;

  const live = (): Instance[] => [...instances.values()].filter((i) => i.child.exitCode === null && i.child.signalCode === null);
  const start = async (...ids: string[]): Promise<void> => {
    const started = await Promise.all(ids.map((id) => startInstance(id, env)));
    for (const instance of started) instances.set(instance.id, instance);
  };
  const registryIds = async (via: Instance): Promise<string[]> => (await getJson<{ cameras: CameraRow[] }>(`${via.base}/cameras`)).cameras.map((c) => c.id).sort();
  /** Every camera in `ids` read by exactly one ffmpeg, and no other camera read at all. */
  const exactlyOnce = (ids: readonly string[]): boolean => {
    const counts = ffmpegPerCamera(marker);
    return ids.every((id) => counts.get(id)?.length === 1) && [...counts.keys()].every((id) => ids.includes(id));
  };

  beforeAll(async () => {
    redis = await startRedis();
    clip = makeClip(dir);
    const models = (await withModelFiles(testConfig())).model.models_dir;
    const cameras = YAML_CAMERAS.map((id) => `  - { id: ${id}, url: ${cameraFile(dir, clip, marker, id)}, fps: 2, decode: all }`).join('\n');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'engine: { pool_size: 1, intra_op_threads: 1 }',
        'streams: { max_cameras: 8, strategy: drop_latest }',
        // Cameras added through the API may read files only from here.
        `sources: { file_dirs: [${JSON.stringify(dir)}] }`,
        `cluster: { lease_ttl_ms: ${LEASE_TTL_MS}, heartbeat_ms: 500, capacity: ${CAPACITY}, max_moves_per_interval: 2 }`,
        'cameras:',
        cameras,
        '',
      ].join('\n'),
    );
    env = { APP_CONFIG_PATH: join(dir, 'config.yaml'), APP_REDIS_URL: redis.url, APP_MODELS_DIR: models };
    await start('inst-a', 'inst-b', 'inst-c');
  }, 120_000);

  afterAll(async () => {
    for (const instance of instances.values()) {
      instance.child.kill('SIGCONT');
      await stopInstance(instance);
    }
    await redis?.stop();
  }, 120_000);

  it('runs every camera exactly once across the instances, and each instance reports the owner', async () => {
    expect(await waitFor(() => exactlyOnce(YAML_CAMERAS), 60_000, 200), JSON.stringify([...ffmpegPerCamera(marker)])).toBe(true);
    // The owner each instance reports is the instance whose ffmpeg reads the camera.
    const consistent = async (): Promise<boolean> => {
      for (const via of live()) {
        const rows = (await getJson<{ cameras: CameraRow[] }>(`${via.base}/health/stream`)).cameras;
        if (rows.length !== 9) return false;
        for (const owner of live()) {
          const reported = rows.filter((r) => r.owner === owner.id).map((r) => r.id).sort();
          if (JSON.stringify(reported) !== JSON.stringify(camerasRunBy(owner, marker))) return false;
        }
      }
      return true;
    };
    expect(await waitForAsync(consistent, 20_000)).toBe(true);
    for (const instance of live()) expect(camerasRunBy(instance, marker).length).toBeLessThanOrEqual(CAPACITY);
    const metrics = await (await fetch(`${live()[0]?.base}/metrics`)).text();
    expect(metrics).toMatch(/stream_ml_cluster_instances\{instance="inst-[abc]"\} 3/);
    expect(metrics).toMatch(/stream_ml_cluster_cameras\{[^}]*\} 9/);
  }, 120_000);

  it('a camera added on A appears on B and C; deleted on B, it stops everywhere', async () => {
    const [a, b, c] = ['inst-a', 'inst-b', 'inst-c'].map((id) => instances.get(id) as Instance) as [Instance, Instance, Instance];
    const res = await fetch(`${a.base}/cameras`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'extra', url: cameraFile(dir, clip, marker, 'extra'), fps: 2, decode: 'all' }) });
    expect(res.status).toBe(201);
    const dup = await fetch(`${c.base}/cameras`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'extra', url: clip }) });
    expect(dup.status).toBe(409);
    for (const via of [b, c]) expect(await waitForAsync(async () => (await registryIds(via)).includes('extra'), 10_000)).toBe(true);
    expect(await waitFor(() => exactlyOnce([...YAML_CAMERAS, 'extra']), 30_000, 200)).toBe(true);

    expect((await fetch(`${b.base}/cameras/extra`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${c.base}/cameras/extra`, { method: 'DELETE' })).status).toBe(404);
    expect(await waitFor(() => exactlyOnce(YAML_CAMERAS), 30_000, 200)).toBe(true);
    // The others learn of the delete through pub/sub, or at their next heartbeat.
    for (const via of [a, c]) expect(await waitForAsync(async () => JSON.stringify(await registryIds(via)) === JSON.stringify(YAML_CAMERAS), 10_000)).toBe(true);
  }, 120_000);

  it('an SSE client on C gets the cameras of A and B, and resumes on A with Last-Event-ID without a gap', async () => {
    const [a, b, c] = ['inst-a', 'inst-b', 'inst-c'].map((id) => instances.get(id) as Instance) as [Instance, Instance, Instance];
    const ownedBy = (instance: Instance): Set<string> => new Set(camerasRunBy(instance, marker));
    const [ofA, ofB] = [ownedBy(a), ownedBy(b)];
    expect(ofA.size).toBeGreaterThan(0);
    expect(ofB.size).toBeGreaterThan(0);
    const seen = await collectSse<Event>(`${c.base}/stream`, 45_000, (events) => events.some((e) => ofA.has(e.camera)) && events.some((e) => ofB.has(e.camera)));
    expect(seen.some((e) => ofA.has(e.camera))).toBe(true);
    expect(seen.some((e) => ofB.has(e.camera))).toBe(true);

    const lastId = (seen[seen.length - 1] as Event).id;
    // Events keep flowing while the client is away; on A it gets them all, in order, from lastId + 1.
    await waitFor(() => false, 1500);
    const resumed = await collectSse<Event>(`${a.base}/stream`, 30_000, (events) => events.length >= 10, { 'Last-Event-ID': String(lastId) });
    expect(resumed.length).toBeGreaterThanOrEqual(10);
    expect(resumed.map((e) => e.id)).toEqual(resumed.map((_, i) => lastId + 1 + i));
    sseLastId = (resumed[resumed.length - 1] as Event).id;
  }, 120_000);

  it('kill -9 of an instance: its cameras move within 10 s and stream again elsewhere, never twice for longer than a lease', async () => {
    const a = instances.get('inst-a') as Instance;
    const c = instances.get('inst-c') as Instance;
    const moved = camerasRunBy(a, marker);
    expect(moved.length).toBeGreaterThan(0);
    const watch = new DuplicateWatch(marker);
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    // Run by a live instance (an orphaned ffmpeg of the killed one does not count).
    const elsewhere = (): boolean => {
      const running = live().flatMap((i) => camerasRunBy(i, marker));
      return moved.every((id) => running.filter((r) => r === id).length === 1);
    };
    // The leases move within 10 s (lease_ttl + a heartbeat)…
    const acquired = (): boolean =>
      moved.every((id) => live().some((i) => i.logs.some((l) => l.msg === 'cluster: camera acquired' && l.camera === id && Date.parse(l.time as string) >= killedAt)));
    expect(await waitFor(acquired, 10_000, 100)).toBe(true);
    const leaseMs = Date.now() - killedAt;
    // …and the streams restart there (decoder thread + ffmpeg start: slower on a busy machine, so a wider bound).
    expect(await waitFor(elsewhere, 30_000, 100)).toBe(true);
    const failoverMs = Date.now() - killedAt;
    // …and their results reach clients again (through another instance's bus entries).
    const after = await collectSse<Event>(`${c.base}/stream`, 30_000, (events) => moved.every((id) => events.some((e) => e.camera === id)), { 'Last-Event-ID': String(sseLastId) });
    for (const id of moved) expect(after.some((e) => e.camera === id && e.id > sseLastId)).toBe(true);
    expect(await waitFor(() => exactlyOnce(YAML_CAMERAS), 30_000, 200)).toBe(true);
    expect(watch.stop()).toBeLessThan(LEASE_TTL_MS);
    process.stdout.write(`cluster failover: ${moved.length} cameras leased elsewhere ${leaseMs} ms and running there ${failoverMs} ms after kill -9\n`);
  }, 120_000);

  it('a new instance takes its share, gradually and without running a camera twice', async () => {
    const watch = new DuplicateWatch(marker);
    await start('inst-d');
    const d = instances.get('inst-d') as Instance;
    const expected = assignCameras(YAML_CAMERAS, ['inst-b', 'inst-c', 'inst-d'].map((id) => ({ id, capacity: CAPACITY })));
    const share = YAML_CAMERAS.filter((id) => expected.get(id) === 'inst-d');
    expect(share.length).toBeGreaterThan(0);
    expect(await waitFor(() => JSON.stringify(camerasRunBy(d, marker)) === JSON.stringify(share) && exactlyOnce(YAML_CAMERAS), 60_000, 200)).toBe(true);
    expect(watch.stop()).toBeLessThan(LEASE_TTL_MS);
  }, 120_000);

  it('SIGSTOP longer than the lease: the paused instance stops its cameras when it wakes (fencing)', async () => {
    const b = instances.get('inst-b') as Instance;
    const c = instances.get('inst-c') as Instance;
    const paused = camerasRunBy(b, marker);
    expect(paused.length).toBeGreaterThan(0);
    b.child.kill('SIGSTOP');
    try {
      // Paused past its lease: the others see it gone and take its cameras.
      const takenOver = async (): Promise<boolean> => {
        const rows = (await getJson<{ cameras: CameraRow[] }>(`${c.base}/health/stream`)).cameras;
        return paused.every((id) => rows.some((r) => r.id === id && r.owner !== undefined && r.owner !== null && r.owner !== 'inst-b'));
      };
      expect(await waitForAsync(takenOver, 30_000)).toBe(true);
    } finally {
      b.child.kill('SIGCONT');
    }
    const watch = new DuplicateWatch(marker);
    // On waking, its lease deadlines have passed: it stops those cameras before anything else.
    expect(await waitFor(() => exactlyOnce(YAML_CAMERAS), 30_000, 100)).toBe(true);
    expect(watch.stop()).toBeLessThan(LEASE_TTL_MS);
    const metrics = await (await fetch(`${b.base}/metrics`)).text();
    expect(metrics).toMatch(/stream_ml_cluster_lease_losses_total\{instance="inst-b"\} [1-9]/);
    expect(b.logs.some((l) => l.msg === 'cluster: lease lost; camera stopped here')).toBe(true);
  }, 120_000);

  it('Redis down for 20 s: cameras stop after the lease, health is degraded, and no camera has two owners after it returns', async () => {
    const c = instances.get('inst-c') as Instance;
    await redis.kill();
    const downAt = Date.now();
    expect(await waitFor(() => ffmpegPerCamera(marker).size === 0, 30_000, 200)).toBe(true);
    const health = await getJson<{ status: string; problems: string[]; cluster: { redis: string } }>(`${c.base}/health`);
    expect(health.status).toBe('degraded');
    expect(health.cluster.redis).toBe('unreachable');
    expect(health.problems.some((p) => p.includes('redis unreachable'))).toBe(true);
    const ready = await fetch(`${c.base}/health/ready`);
    expect(ready.status).toBe(503);
    const readyBody = (await ready.json()) as { status: string; problems: string[] };
    expect(readyBody.status).toBe('degraded');
    expect(readyBody.problems.some((p) => p.includes('redis unreachable'))).toBe(true);
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - downAt))));

    await redis.restart(); // empty: the instances restore the registry from their last copy
    const watch = new DuplicateWatch(marker);
    expect(await waitFor(() => exactlyOnce(YAML_CAMERAS), 60_000, 200), JSON.stringify([...ffmpegPerCamera(marker)])).toBe(true);
    // Stays that way.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 300));
      expect(exactlyOnce(YAML_CAMERAS)).toBe(true);
    }
    expect(watch.stop()).toBeLessThan(LEASE_TTL_MS);
    const after = await getJson<{ status: string; cluster: { redis: string } }>(`${c.base}/health`);
    expect(after.cluster.redis).toBe('ok');
  }, 120_000);

  it('restarting every instance keeps the camera list, API-added cameras included', async () => {
    const via = live()[0] as Instance;
    const res = await fetch(`${via.base}/cameras`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'api-cam', url: cameraFile(dir, clip, marker, 'api-cam'), fps: 2, decode: 'all' }) });
    expect(res.status).toBe(201);
    const all = [...YAML_CAMERAS, 'api-cam'].sort();
    expect(await waitFor(() => exactlyOnce(all), 30_000, 200)).toBe(true);
    await Promise.all(live().map((i) => stopInstance(i)));
    expect(ffmpegPerCamera(marker).size).toBe(0);
    await start('inst-e', 'inst-f', 'inst-g');
    const e = instances.get('inst-e') as Instance;
    expect(await waitForAsync(async () => JSON.stringify(await registryIds(e)) === JSON.stringify(all), 20_000)).toBe(true);
    expect(await waitFor(() => exactlyOnce(all), 60_000, 200)).toBe(true);
  }, 180_000);
});
