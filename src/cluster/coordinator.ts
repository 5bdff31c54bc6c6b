/**
 * Camera ownership across instances. Every heartbeat an instance:
 *   1. renews its membership (a sorted set scored by expiry in Redis time)
 *      and its camera leases; a lease it failed to renew is stopped at once,
 *   2. reads the registry when its version moved (seeding it when empty),
 *   3. computes the rendezvous assignment and hands over at most
 *      `max_moves_per_interval` cameras that now belong elsewhere
 *      (stop first, then release, so a move never runs twice),
 *   4. leases (SET NX PX + fencing token from INCR) the free cameras
 *      assigned to it while it has capacity, and starts them,
 *   5. shares its cameras' status and reads every camera's owner.
 * Independently a watchdog stops any camera whose lease deadline passed on
 * this process's monotonic clock: a paused or partitioned instance stops its
 * cameras before (or as soon as) another instance may have taken them.
 */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { CameraConfig } from '../config/schema.js';
import type { ClusterHealth } from '../contracts/cluster.js';
import { assignCameras, type Member } from './assignment.js';
import { compareRegistry, type RedisCameraStore } from './camera-store.js';
import { defineScript, type ClusterKeys } from './redis.js';

/** Structural subset of the service logger (pino). */
export interface ClusterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the coordinator drives on this instance. */
export interface CameraRunner {
  /** Starts the camera here; throws when this instance cannot (e.g. no free ring). */
  start(camera: CameraConfig): Promise<void>;
  /** Stops it here; resolves when its ffmpeg is gone. */
  stop(id: string): Promise<void>;
  /** The camera's status to share with the other instances, if it runs here. */
  status(id: string): object | undefined;
}

export interface CoordinatorOptions {
  redis: Redis;
  keys: ClusterKeys;
  store: RedisCameraStore;
  instanceId: string;
  capacity: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  maxMovesPerInterval: number;
  /** The YAML cameras: they seed a registry that was never written. */
  seedCameras: readonly CameraConfig[];
  runner: CameraRunner;
  log: ClusterLog;
}

interface Lease {
  camera: CameraConfig;
  /** The lease key's value: "<instance>|<fencing token>". */
  holder: string;
  token: number;
  /** performance.now() after which the lease may have lapsed in Redis. */
  deadline: number;
}

export interface ClusterCounters {
  moves_in: number;
  moves_out: number;
  lease_losses: number;
}


// KEYS: members, info; ARGV: id, ttl, info JSON. Times are Redis's, so instance clocks do not matter.
const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or '{}'
end
return out`;

// ARGV: ttl, then lease key / holder pairs. 1 = renewed, 0 = no longer ours.
const RENEW_LUA = `
local out = {}
for i = 2, #ARGV, 2 do
  if redis.call('GET', ARGV[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', ARGV[i], ARGV[1])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out`;

// KEYS: lease, fence counter; ARGV: instance, ttl. Returns the fencing token, or false when held.
const ACQUIRE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token`;

// KEYS: lease, status hash; ARGV: holder, camera id.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** A camera whose start failed here is not taken again for this long. */
const START_FAILURE_BACKOFF_MS = 30_000;

export class Coordinator {
  private readonly owned = new Map<string, Lease>();
  /** Stops in progress, so a restart waits for the old ffmpeg to be gone. */
  private readonly stopping = new Map<string, Promise<void>>();
  private readonly startFailedAt = new Map<string, number>();
  private registry: CameraConfig[] = [];
  private registryVersion: number | null = null;
  private haveRegistry = false;
  private members: Member[] = [];
  private owners = new Map<string, string>();
  private statuses = new Map<string, Record<string, unknown>>();
  private redisOk = false;
  /** When this instance last (re)joined: it takes cameras only once the others had a heartbeat to (re)join too. */
  private joinedAt: number | null = null;
  private redisError: string | null = 'not connected yet';
  private downSince: number | null = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  readonly counters: ClusterCounters = { moves_in: 0, moves_out: 0, lease_losses: 0 };

  private readonly heartbeatScript: (...args: (string | number)[]) => Promise<string[]>;
  private readonly renewScript: (...args: (string | number)[]) => Promise<number[]>;
  private readonly acquireScript: (...args: (string | number)[]) => Promise<number | null>;
  private readonly releaseScript: (...args: (string | number)[]) => Promise<number>;

  constructor(private readonly opts: CoordinatorOptions) {
    const { redis } = opts;
    this.heartbeatScript = defineScript<string[]>(redis, 'smsHeartbeat', 2, HEARTBEAT_LUA);
    this.renewScript = defineScript<number[]>(redis, 'smsRenewLeases', 0, RENEW_LUA);
    this.acquireScript = defineScript<number | null>(redis, 'smsAcquireLease', 2, ACQUIRE_LUA);
    this.releaseScript = defineScript<number>(redis, 'smsReleaseLease', 2, RELEASE_LUA);
  }

  start(): void {
    this.poke();
    const period = Math.max(25, Math.min(250, this.opts.heartbeatMs / 2));
    this.watchdog = setInterval(() => this.expireLeases(), period);
    this.watchdog.unref();
  }

  /** Runs a heartbeat now (registry changed); coalesces with one in progress. */
  poke(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.tick().finally(() => {
      this.running = null;
      if (this.closed) return;
      if (this.again) {
        this.again = false;
        this.poke();
      } else {
        this.timer = setTimeout(() => this.poke(), this.opts.heartbeatMs);
        this.timer.unref();
      }
    });
  }

  /** Runs a heartbeat now and resolves when the registry and owners reflect it. */
  async refresh(): Promise<void> {
    this.poke();
    while (this.running) await this.running;
  }

  /** The lease holder value for a camera this instance runs under a live lease; null otherwise (its events must not be published). */
  holder(cameraId: string): string | null {
    const lease = this.owned.get(cameraId);
    return lease && lease.deadline > performance.now() ? lease.holder : null;
  }

  /** Registry, owners and shared statuses as of the last heartbeat. */
  view(): { cameras: readonly CameraConfig[]; owners: ReadonlyMap<string, string>; statuses: ReadonlyMap<string, Record<string, unknown>> } {
    return { cameras: this.registry, owners: this.owners, statuses: this.statuses };
  }

  health(): ClusterHealth {
    return {
      instance: this.opts.instanceId,
      redis: this.redisOk ? 'ok' : 'unreachable',
      reason: this.redisOk ? null : this.redisError,
      since: this.redisOk || this.downSince === null ? null : new Date(this.downSince).toISOString(),
      instances: this.members.length,
      cameras_owned: this.owned.size,
      cameras_total: this.registry.length,
    };
  }

  /** Stops every camera, releases the leases and leaves the membership so others take over at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    await this.running;
    await Promise.all([...this.owned.keys()].map((id) => this.handOver(id, 'shutdown')));
    await Promise.all(this.stopping.values());
    try {
      await this.opts.redis.multi().zrem(this.opts.keys.members, this.opts.instanceId).hdel(this.opts.keys.memberInfo, this.opts.instanceId).exec();
    } catch {
      // Redis unreachable: the heartbeat simply expires.
    }
  }

  private async tick(): Promise<void> {
    this.expireLeases();
    try {
      await this.sync();
      if (!this.redisOk) this.opts.log.info({ instance: this.opts.instanceId, down_ms: this.downSince === null ? 0 : Date.now() - this.downSince }, 'cluster: redis reachable');
      this.redisOk = true;
      this.redisError = null;
      this.downSince = null;
    } catch (err) {
      this.joinedAt = null;
      const reason = `redis unreachable: ${(err as Error).message}`;
      if (this.redisOk || this.redisError !== reason) this.opts.log.warn({ instance: this.opts.instanceId, reason, cameras_owned: this.owned.size, lease_ttl_ms: this.opts.leaseTtlMs }, 'cluster: redis unreachable; owned cameras stop when their leases lapse');
      this.redisOk = false;
      this.redisError = reason;
      this.downSince ??= Date.now();
    }
  }

  private async sync(): Promise<void> {
    const { keys, store, instanceId, leaseTtlMs } = this.opts;
    const renewing = [...this.owned.values()];
    const sentAt = performance.now();
    const [membership, renewed, version] = await Promise.all([
      this.heartbeatScript(keys.members, keys.memberInfo, instanceId, leaseTtlMs, JSON.stringify({ capacity: this.opts.capacity })),
      renewing.length > 0 ? this.renewScript(leaseTtlMs, ...renewing.flatMap((l) => [keys.leasePrefix + l.camera.id, l.holder])) : Promise.resolve([] as number[]),
      store.version(),
    ]);
    renewing.forEach((lease, i) => {
      if (this.owned.get(lease.camera.id) !== lease) return; // stopped meanwhile
      if (renewed[i] === 1) lease.deadline = sentAt + leaseTtlMs;
      else this.loseLease(lease.camera.id, 'lease taken or lapsed in redis');
    });
    this.members = parseMembers(membership);
    this.joinedAt ??= performance.now();

    await this.syncRegistry(version);
    const desired = assignCameras(this.registry.map((c) => c.id), this.members);
    this.handOverMisplaced(desired);
    await this.acquireAssigned(desired);
    await this.shareStatus();
  }

  private async syncRegistry(version: number | null): Promise<void> {
    const { store, log, seedCameras } = this.opts;
    if (version === null) {
      // Never seeded, or Redis lost its data: seed from YAML the first time, else from our last copy.
      const source = this.haveRegistry ? this.registry : seedCameras;
      if (await store.seed(source)) {
        if (this.haveRegistry) log.warn({ cameras: source.length }, 'cluster: camera registry missing in redis (data lost?); restored from this instance\'s last copy');
        else log.info({ cameras: source.length }, 'cluster: camera registry seeded from the YAML cameras');
      }
    } else if (version === this.registryVersion) {
      return;
    }
    const snapshot = await store.snapshot();
    if (snapshot.invalid.length > 0) log.error({ cameras: snapshot.invalid }, 'cluster: registry entries failed validation and are not run');
    if (!this.haveRegistry && version !== null && seedCameras.length > 0) {
      const diff = compareRegistry(seedCameras, snapshot.cameras);
      if (diff.only_in_yaml.length + diff.only_in_registry.length + diff.different.length > 0) {
        log.warn(diff, 'cluster: YAML cameras differ from the shared registry; the registry wins (YAML only seeds an empty registry; change cameras through the API)');
      }
    }
    this.registry = snapshot.cameras;
    this.registryVersion = snapshot.version;
    this.haveRegistry = true;
  }

  /** Stops cameras removed from the registry or changed, and hands over a bounded number that belong elsewhere. */
  private handOverMisplaced(desired: Map<string, string>): void {
    const byId = new Map(this.registry.map((c) => [c.id, c]));
    let moves = 0;
    for (const [id, lease] of [...this.owned]) {
      const current = byId.get(id);
      // Not awaited: a slow stop must not delay the renewal of the other leases.
      if (!current) void this.handOver(id, 'removed from registry');
      else if (JSON.stringify(current) !== JSON.stringify(lease.camera)) void this.handOver(id, 'config changed');
      else {
        const target = desired.get(id);
        if (target !== undefined && target !== this.opts.instanceId && moves < this.opts.maxMovesPerInterval) {
          moves++;
          this.counters.moves_out++;
          void this.handOver(id, `rebalanced to ${target}`);
        }
      }
    }
  }

  private async acquireAssigned(desired: Map<string, string>): Promise<void> {
    const { keys, instanceId, leaseTtlMs, log } = this.opts;
    // Right after a start or an outage the membership is still filling up: taking cameras now would mean handing them over again.
    if (this.joinedAt === null || performance.now() - this.joinedAt < 2 * this.opts.heartbeatMs) return;
    const now = Date.now();
    for (const camera of this.registry) {
      if (this.owned.size >= this.opts.capacity) return;
      if (desired.get(camera.id) !== instanceId || this.owned.has(camera.id)) continue;
      if (now - (this.startFailedAt.get(camera.id) ?? -Infinity) < START_FAILURE_BACKOFF_MS) continue;
      if (this.stopping.has(camera.id)) continue; // its previous run here is still stopping
      const sentAt = performance.now();
      const token = await this.acquireScript(keys.leasePrefix + camera.id, keys.fencePrefix + camera.id, instanceId, leaseTtlMs);
      if (token === null) continue; // another instance still holds it (its lease will lapse or be released)
      const lease: Lease = { camera, holder: `${instanceId}|${token}`, token, deadline: sentAt + leaseTtlMs };
      this.owned.set(camera.id, lease);
      this.counters.moves_in++;
      try {
        await this.opts.runner.start(camera);
        log.info({ camera: camera.id, token, instance: instanceId }, 'cluster: camera acquired');
      } catch (err) {
        log.error({ camera: camera.id, err: (err as Error).message }, 'cluster: camera could not start here; released');
        this.startFailedAt.set(camera.id, now);
        this.owned.delete(camera.id);
        await this.releaseScript(keys.leasePrefix + camera.id, keys.status, lease.holder, camera.id);
      }
    }
  }

  private async shareStatus(): Promise<void> {
    const { redis, keys, instanceId } = this.opts;
    const fields: string[] = [];
    for (const [id, lease] of this.owned) {
      const status = this.opts.runner.status(id);
      if (status) fields.push(id, JSON.stringify({ ...status, owner: instanceId, lease_token: lease.token }));
    }
    const ids = this.registry.map((c) => c.id);
    const [, holders, statuses] = await Promise.all([
      fields.length > 0 ? redis.hset(keys.status, ...fields) : Promise.resolve(0),
      ids.length > 0 ? redis.mget(ids.map((id) => keys.leasePrefix + id)) : Promise.resolve([] as (string | null)[]),
      redis.hgetall(keys.status),
    ]);
    const owners = new Map<string, string>();
    ids.forEach((id, i) => {
      const holder = holders[i];
      if (holder) owners.set(id, holder.slice(0, holder.lastIndexOf('|')));
    });
    const parsed = new Map<string, Record<string, unknown>>();
    for (const [id, json] of Object.entries(statuses)) {
      try {
        const status = JSON.parse(json) as Record<string, unknown>;
        if (status.owner === owners.get(id)) parsed.set(id, status);
      } catch {
        // A torn or foreign entry: shown as not reported.
      }
    }
    this.owners = owners;
    this.statuses = parsed;
  }

  /** Graceful hand-over: stop publishing, stop the camera, then release the lease, so the successor does not overlap (unless the stop outlasts the lease). */
  private async handOver(id: string, reason: string): Promise<void> {
    const lease = this.owned.get(id);
    if (!lease) return;
    this.owned.delete(id);
    await this.stopCamera(id);
    this.opts.log.info({ camera: id, reason }, 'cluster: camera released');
    try {
      await this.releaseScript(this.opts.keys.leasePrefix + id, this.opts.keys.status, lease.holder, id);
    } catch {
      // Unreachable: the lease lapses by itself.
    }
  }

  private loseLease(id: string, reason: string): void {
    if (!this.owned.delete(id)) return;
    this.counters.lease_losses++;
    this.opts.log.warn({ camera: id, reason }, 'cluster: lease lost; camera stopped here');
    void this.stopCamera(id);
  }

  /** Fencing on the local clock: a lease whose renewal is overdue may already be someone else's. */
  private expireLeases(): void {
    const now = performance.now();
    for (const [id, lease] of this.owned) if (lease.deadline <= now) this.loseLease(id, 'lease deadline passed without renewal (redis unreachable or process paused)');
  }

  private stopCamera(id: string): Promise<void> {
    const pending = (this.stopping.get(id) ?? Promise.resolve())
      .then(() => this.opts.runner.stop(id))
      .catch((err: unknown) => this.opts.log.error({ camera: id, err: (err as Error).message }, 'cluster: camera stop failed'))
      .finally(() => {
        if (this.stopping.get(id) === pending) this.stopping.delete(id);
      });
    this.stopping.set(id, pending);
    return pending;
  }
}

function parseMembers(flat: string[]): Member[] {
  const out: Member[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    let capacity = 0;
    try {
      capacity = Number((JSON.parse(flat[i + 1] as string) as { capacity?: unknown }).capacity) || 0;
    } catch {
      capacity = 0;
    }
    out.push({ id: flat[i] as string, capacity });
  }
  return out;
}
