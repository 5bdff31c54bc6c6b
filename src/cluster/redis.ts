/**
 * Redis connections for cluster mode. Commands fail fast while disconnected
 * (no offline queue): the coordinator must see an outage at once to keep its
 * lease deadlines honest, not wait on a queue that replays later.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { backoffDelay, type BackoffPolicy } from '../lib/backoff.js';

export interface ConnectOptions {
  /** Shown in CLIENT LIST, and in logs. */
  name: string;
  /** A command not answered within this fails (a hung Redis must look like an outage). */
  commandTimeoutMs: number;
}

/** Reconnects (and the bus reader's retries): doubling from 100 ms up to 3 s, ±20 % so instances do not retry in step. */
export const REDIS_RETRY: BackoffPolicy = { initial_ms: 100, max_ms: 3000, multiplier: 2, jitter: 0.2 };

export function connectRedis(url: string, opts: ConnectOptions): Redis {
  const options: RedisOptions = {
    connectionName: opts.name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: Math.max(1000, opts.commandTimeoutMs),
    keepAlive: 10_000,
    retryStrategy: (attempt) => backoffDelay(attempt - 1, REDIS_RETRY),
    // rediss:// URLs turn TLS on (ElastiCache in-transit encryption).
  };
  const client = new Redis(url, options);
  // Errors surface through the commands that fail; without a listener ioredis prints each one.
  client.on('error', () => {});
  return client;
}

/** Resolves when the client is ready, or after `timeoutMs` (the caller carries on and retries later). */
export function whenReady(client: Redis, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

/** A Lua script run by EVALSHA (loaded on first use, reloaded after a Redis restart). */
export function defineScript<T>(client: Redis, name: string, numberOfKeys: number, lua: string): (...args: (string | number)[]) => Promise<T> {
  client.defineCommand(name, { numberOfKeys, lua });
  const command = (client as unknown as Record<string, (...args: (string | number)[]) => Promise<T>>)[name];
  if (!command) throw new Error(`could not define Redis script ${name}`);
  return (...args) => command.apply(client, args);
}

/** Every Redis key of one deployment, under its prefix. */
export function clusterKeys(prefix: string) {
  return {
    /** Hash: camera id → camera config JSON. */
    cameras: `${prefix}cameras`,
    /** Counter bumped on every registry change; its absence means "never seeded". */
    camerasVersion: `${prefix}cameras:version`,
    /** Pub/sub channel told about registry changes (a hint; the version is the truth). */
    camerasChanged: `${prefix}cameras:changed`,
    /** Sorted set: instance id → heartbeat expiry (Redis time, ms). */
    members: `${prefix}members`,
    /** Hash: instance id → {"capacity": n}. */
    memberInfo: `${prefix}members:info`,
    /** `lease:<camera>` = "<instance>|<fencing token>", with a PX expiry. */
    leasePrefix: `${prefix}lease:`,
    /** `fence:<camera>`: counter that issues fencing tokens. */
    fencePrefix: `${prefix}fence:`,
    /** Hash: camera id → the owner's latest status JSON. */
    status: `${prefix}status`,
    /** Stream of inference events; entry ids are `0-<event id>`. */
    events: `${prefix}events`,
    /** Counter that issues event ids. */
    eventSeq: `${prefix}events:seq`,
  };
}
export type ClusterKeys = ReturnType<typeof clusterKeys>;
