/**
 * The shared camera registry in Redis: a hash of camera configs plus a
 * version counter bumped on every change and a pub/sub hint. It has the
 * shape of the app's CameraStore (list/put/remove) plus what a shared store
 * needs: atomic add/delete that say whether they happened, a one-time seed,
 * and the version for change detection.
 */
import type { Redis } from 'ioredis';
import type { CameraConfig } from '../config/schema.js';
import { ConfigError, parseCamera } from '../config/load.js';
import { defineScript, type ClusterKeys } from './redis.js';

// KEYS: cameras hash, version, ARGV: channel, then id/json pairs. Seeds only a registry never written.
const SEED_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], 'seed')
return 1`;

// KEYS: cameras hash, version; ARGV: channel, mode (put|add|del), id, json.
const CHANGE_LUA = `
local changed
if ARGV[2] == 'del' then changed = redis.call('HDEL', KEYS[1], ARGV[3])
elseif ARGV[2] == 'add' then changed = redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[4])
else redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]); changed = 1 end
if changed == 1 then
  redis.call('INCR', KEYS[2])
  redis.call('PUBLISH', ARGV[1], ARGV[3])
end
return changed`;

export interface RegistrySnapshot {
  /** null: the registry was never seeded (or Redis lost its data). */
  version: number | null;
  cameras: CameraConfig[];
  /** Entries that failed validation (kept in Redis, not run). */
  invalid: string[];
}

export class RedisCameraStore {
  private readonly seedScript: (...args: (string | number)[]) => Promise<number>;
  private readonly changeScript: (...args: (string | number)[]) => Promise<number>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
  ) {
    this.seedScript = defineScript<number>(redis, 'smsSeedCameras', 2, SEED_LUA);
    this.changeScript = defineScript<number>(redis, 'smsChangeCamera', 2, CHANGE_LUA);
  }

  /** The registered cameras, or null when the registry was never seeded. */
  async list(): Promise<CameraConfig[] | null> {
    const snapshot = await this.snapshot();
    return snapshot.version === null ? null : snapshot.cameras;
  }

  async put(camera: CameraConfig): Promise<void> {
    await this.changeScript(this.keys.cameras, this.keys.camerasVersion, this.keys.camerasChanged, 'put', camera.id, JSON.stringify(camera));
  }

  async remove(id: string): Promise<void> {
    await this.delete(id);
  }

  /** Adds unless the id is taken (atomically, across instances); returns whether it was added. */
  async add(camera: CameraConfig): Promise<boolean> {
    return (await this.changeScript(this.keys.cameras, this.keys.camerasVersion, this.keys.camerasChanged, 'add', camera.id, JSON.stringify(camera))) === 1;
  }

  /** Removes; returns whether the camera existed. */
  async delete(id: string): Promise<boolean> {
    return (await this.changeScript(this.keys.cameras, this.keys.camerasVersion, this.keys.camerasChanged, 'del', id, '')) === 1;
  }

  /** Writes `cameras` only if the registry was never seeded; returns whether it did. */
  async seed(cameras: readonly CameraConfig[]): Promise<boolean> {
    const args = cameras.flatMap((c) => [c.id, JSON.stringify(c)]);
    return (await this.seedScript(this.keys.cameras, this.keys.camerasVersion, this.keys.camerasChanged, ...args)) === 1;
  }

  /** The version counter alone (cheap; read every heartbeat). */
  async version(): Promise<number | null> {
    const raw = await this.redis.get(this.keys.camerasVersion);
    return raw === null ? null : Number(raw);
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const replies = await this.redis.multi().get(this.keys.camerasVersion).hgetall(this.keys.cameras).exec();
    if (!replies) throw new Error('registry read aborted');
    const [versionReply, hashReply] = replies;
    if (versionReply?.[0]) throw versionReply[0];
    if (hashReply?.[0]) throw hashReply[0];
    const raw = versionReply?.[1] as string | null;
    const cameras: CameraConfig[] = [];
    const invalid: string[] = [];
    for (const [id, json] of Object.entries((hashReply?.[1] ?? {}) as Record<string, string>)) {
      try {
        cameras.push(parseCamera(JSON.parse(json), `cameras[${JSON.stringify(id)}]`, 'redis registry'));
      } catch (err) {
        if (!(err instanceof ConfigError) && !(err instanceof SyntaxError)) throw err;
        invalid.push(id);
      }
    }
    cameras.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { version: raw === null ? null : Number(raw), cameras, invalid };
  }
}

/** What differs between the YAML list and the registry, for the start-up log line. */
export function compareRegistry(yaml: readonly CameraConfig[], registry: readonly CameraConfig[]): { only_in_yaml: string[]; only_in_registry: string[]; different: string[] } {
  const byId = new Map(registry.map((c) => [c.id, c]));
  const yamlIds = new Set(yaml.map((c) => c.id));
  return {
    only_in_yaml: yaml.filter((c) => !byId.has(c.id)).map((c) => c.id),
    only_in_registry: registry.filter((c) => !yamlIds.has(c.id)).map((c) => c.id),
    different: yaml.filter((c) => byId.has(c.id) && JSON.stringify(canonical(c)) !== JSON.stringify(canonical(byId.get(c.id) as CameraConfig))).map((c) => c.id),
  };
}

function canonical(camera: CameraConfig): unknown {
  return Object.fromEntries(Object.entries(camera).sort(([a], [b]) => (a < b ? -1 : 1)));
}
