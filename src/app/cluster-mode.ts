/**
 * Wires cluster mode into the service when `cluster.redis_url` is set: the
 * camera registry, ownership and the result bus from src/cluster replace the
 * process-local camera list and event ids. The rest of the service (engine,
 * ingest, capture, HTTP) does not know whether it runs alone or in a cluster.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppConfig, CameraConfig } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import type { StreamEvent } from '../contracts/events.js';
import type { CameraStatus } from '../contracts/camera.js';
import { sourceKindOf } from '../ingest/source.js';
import { HttpError, type CameraControl, type EventSource } from '../api/deps.js';
import type { ClusterMetrics } from '../telemetry/snapshot.js';
import type { Logger } from '../telemetry/logger.js';
import { clusterKeys, connectRedis, whenReady } from '../cluster/redis.js';
import { RedisCameraStore } from '../cluster/camera-store.js';
import { Coordinator, type CameraRunner } from '../cluster/coordinator.js';
import type { ClusterHealth } from '../contracts/cluster.js';
import { RedisEventBus } from '../cluster/event-bus.js';
import type { EventHub } from './event-hub.js';

type ResultEvent = Omit<StreamEvent, 'id'>;

export interface ClusterMode {
  instanceId: string;
  cameras: CameraControl;
  events: EventSource;
  /** An engine result of a camera run here: onto the bus (fenced), then `onPublished` (capture). */
  publish(result: ResultEvent): void;
  health(): ClusterHealth;
  /** Health problems to report (Redis unreachable). */
  problems(): string[];
  metrics(): ClusterMetrics;
  /** Stops the cameras run here, releases their leases, leaves the cluster. */
  stop(): Promise<void>;
}

export interface ClusterModeParts {
  config: AppConfig;
  log: Logger;
  /** Local fan-out to this instance's SSE/WebSocket clients (fed from the bus). */
  hub: EventHub;
  runner: CameraRunner;
  /** This instance's camera limits (what it can run). */
  limits: CameraControl['limits'];
  /** Validates a POST /cameras body as this instance would (schema, fps limit, source policy); throws HttpError 400. */
  parseRequest(body: unknown): Promise<CameraConfig>;
  /** Live status of a camera running here. */
  localStatus(id: string): CameraStatus | undefined;
  /** Called with each of this instance's events that made it onto the bus (or was kept through an outage). */
  onPublished(event: StreamEvent): void;
}

const INSTANCE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export function instanceIdOf(config: AppConfig): string {
  const id = config.cluster.instance_id || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  if (!INSTANCE_ID.test(id)) throw new ConfigError(`config: cluster.instance_id = ${JSON.stringify(id)} is invalid; allowed: 1-128 characters of letters, digits, _ . : -`);
  return id;
}

export async function startClusterMode(parts: ClusterModeParts): Promise<ClusterMode> {
  const { config, log, hub } = parts;
  const settings = config.cluster;
  const instanceId = instanceIdOf(config);
  const keys = clusterKeys(settings.key_prefix);
  const commandTimeoutMs = Math.max(500, Math.floor(settings.lease_ttl_ms / 3));
  const redis = connectRedis(settings.redis_url, { name: `${instanceId}:control`, commandTimeoutMs });
  const reader = connectRedis(settings.redis_url, { name: `${instanceId}:bus`, commandTimeoutMs: 1000 + commandTimeoutMs });
  const notifications = connectRedis(settings.redis_url, { name: `${instanceId}:notify`, commandTimeoutMs });
  const store = new RedisCameraStore(redis, keys);
  const clusterLog = log.child({ component: 'cluster', instance: instanceId });

  const coordinator = new Coordinator({
    redis,
    keys,
    store,
    instanceId,
    capacity: settings.capacity || config.streams.max_cameras,
    leaseTtlMs: settings.lease_ttl_ms,
    heartbeatMs: settings.heartbeat_ms,
    maxMovesPerInterval: settings.max_moves_per_interval,
    seedCameras: config.cameras,
    runner: parts.runner,
    log: clusterLog,
  });
  const bus = new RedisEventBus<ResultEvent>({
    writer: redis,
    reader,
    keys,
    maxLen: settings.stream_max_len,
    deliver: (event) => hub.publish(event),
  });
  let unheld = 0;

  // Registry changes made on other instances reach this one at once; the version check each heartbeat catches what pub/sub missed.
  // Start without waiting on an unreachable Redis: the service runs (degraded) and joins when it answers.
  if (!(await whenReady(redis, settings.lease_ttl_ms))) clusterLog.warn({}, 'cluster: redis not reachable at start; retrying in the background');
  notifications.on('message', () => coordinator.poke());
  void notifications.subscribe(keys.camerasChanged).catch(() => {});
  coordinator.start();
  bus.start();
  clusterLog.info({ capacity: settings.capacity || config.streams.max_cameras, lease_ttl_ms: settings.lease_ttl_ms, heartbeat_ms: settings.heartbeat_ms }, 'cluster mode on');

  function statusOf(camera: CameraConfig): CameraStatus {
    const local = parts.localStatus(camera.id);
    if (local) return { ...local, owner: instanceId };
    const { owners, statuses } = coordinator.view();
    const shared = statuses.get(camera.id);
    if (shared) return shared as unknown as CameraStatus;
    // Not (yet) running anywhere: about to be taken, or no instance has room.
    return {
      id: camera.id,
      url: camera.url,
      kind: sourceKindOf(camera.url),
      state: 'connecting',
      last_frame_age_ms: null,
      fps_in: 0,
      fps_out: 0,
      drops: {},
      frames_in: 0,
      frames_out: 0,
      reconnects: 0,
      last_error: null,
      source_width: 0,
      source_height: 0,
      started_at: '',
      owner: owners.get(camera.id) ?? null,
    };
  }

  const unavailable = (err: unknown): HttpError =>
    new HttpError(503, `cluster registry unavailable: ${(err as Error).message}`, 'cluster_unavailable');

  const cameras: CameraControl = {
    list: () => coordinator.view().cameras.map(statusOf),
    limits: parts.limits,
    configs: () => [...coordinator.view().cameras],
    add: async (body) => {
      const camera = await parts.parseRequest(body);
      let added: boolean;
      try {
        added = await store.add(camera);
      } catch (err) {
        throw unavailable(err);
      }
      if (!added) throw new HttpError(409, `camera ${JSON.stringify(camera.id)} already exists`, 'camera_exists');
      await coordinator.refresh();
      return statusOf(camera);
    },
    remove: async (id) => {
      let removed: boolean;
      try {
        removed = await store.delete(id);
      } catch (err) {
        throw unavailable(err);
      }
      if (removed) await coordinator.refresh();
      return removed;
    },
  };

  const events: EventSource = {
    subscribe: (listener) => hub.subscribe(listener),
    since: async (lastId) => {
      let stored: StreamEvent[];
      try {
        stored = await bus.since(lastId);
      } catch {
        stored = [];
      }
      // Whatever the reader delivered while XRANGE was in flight is in the hub's history.
      const newest = stored.length > 0 ? (stored[stored.length - 1] as StreamEvent).id : lastId;
      return [...stored, ...hub.since(newest)];
    },
  };

  return {
    instanceId,
    cameras,
    events,
    publish: (result) => {
      const holder = coordinator.holder(result.camera_id);
      if (holder === null) {
        unheld++;
        return;
      }
      void bus.publish(result, holder).then((id) => {
        // Fenced (0): another instance owns the camera now; its captures are its own.
        // Redis down (-1): still ours until the lease deadline; capture keeps going without an event id.
        if (id !== 0) parts.onPublished({ id: Math.max(0, id), ...result } as StreamEvent);
      });
    },
    health: () => coordinator.health(),
    problems: () => {
      const h = coordinator.health();
      return h.redis === 'ok' ? [] : [`cluster: ${h.reason ?? 'redis unreachable'} (since ${h.since})`];
    },
    metrics: () => {
      const h = coordinator.health();
      return {
        instance: instanceId,
        redis_up: h.redis === 'ok' ? 1 : 0,
        instances: h.instances,
        cameras_total: h.cameras_total,
        cameras_owned: h.cameras_owned,
        ...coordinator.counters,
        bus_published: bus.counters.published,
        bus_fenced: bus.counters.fenced + unheld,
        bus_failed: bus.counters.failed,
        bus_delivered: bus.counters.delivered,
      };
    },
    stop: async () => {
      await coordinator.close();
      await bus.close();
      notifications.disconnect();
      redis.disconnect();
    },
  };
}
