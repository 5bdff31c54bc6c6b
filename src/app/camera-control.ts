/**
 * Camera control for the API and start-up: validate, start (ingest ring +
 * engine attach), stop, report status with the engine's output side laid
 * over the ingest side, and keep the run-time list in a CameraStore.
 * HTTP statuses come from typed error codes here, never from message text.
 */
import type { CameraConfig } from '../config/schema.js';
import { ConfigError, parseCamera } from '../config/load.js';
import { HttpError, type CameraControl, type CameraLimits } from '../api/deps.js';
import { CameraManagerError, type CameraManager } from '../ingest/camera-manager.js';
import { SourcePolicyError } from '../ingest/source-policy.js';
import type { CameraStatus } from '../contracts/camera.js';
import type { InferenceEngine } from '../engine/engine.js';
import type { CameraStore } from './camera-store.js';

/** What camera control needs from the engine (attach a ring, detach, per-camera output stats). */
export type CameraEngine = Pick<InferenceEngine, 'attachCamera' | 'detachCamera' | 'cameraStats'>;

const STATUS_FOR: Record<CameraManagerError['code'], number> = {
  camera_exists: 409,
  no_free_ring: 503,
};

/** The HTTP error for a camera that could not be added. */
export function cameraAddError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ConfigError) return new HttpError(400, err.message, 'invalid_camera');
  if (err instanceof SourcePolicyError) return new HttpError(400, err.message, 'source_not_allowed');
  if (err instanceof CameraManagerError) return new HttpError(STATUS_FOR[err.code], err.message, err.code);
  // ffmpeg missing, a worker that cannot start: the server's fault, not the request's.
  return new HttpError(503, (err as Error).message, 'camera_not_started');
}

export interface CameraLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Where a camera comes from: the configuration, the stored run-time list, or a client now. */
export type CameraOrigin = 'config' | 'store' | 'api';

export interface CameraRules {
  /** Cameras not written to the store (the demo camera is a default, not configuration). */
  ephemeralIds: ReadonlySet<string>;
  /** Failures in a row after which a camera that came from a client gives up (0 = never). */
  apiMaxFailures: number;
  limits(): CameraLimits;
  /** Limits and source policy for a camera of this origin; throws ConfigError or SourcePolicyError. */
  admit(camera: CameraConfig, origin: CameraOrigin): Promise<CameraConfig>;
}

export class ServiceCameras implements CameraControl {
  /** Ids whose add() failed at start-up (they could never start). */
  readonly startFailures = new Map<string, string>();
  private seeded = false;

  constructor(
    private readonly cameras: CameraManager,
    private readonly engine: CameraEngine,
    private readonly store: CameraStore | null,
    private readonly log: CameraLog,
    private readonly rules: CameraRules,
  ) {}

  private get ephemeralIds(): ReadonlySet<string> {
    return this.rules.ephemeralIds;
  }

  limits(): CameraLimits {
    return this.rules.limits();
  }

  /**
   * The cameras to start with: the stored run-time list when there is one,
   * else the configured list. Disagreements between the two are logged.
   */
  async initialList(configured: readonly CameraConfig[]): Promise<{ cameras: CameraConfig[]; origin: CameraOrigin }> {
    const stored = this.store ? await this.store.list() : null;
    if (stored === null) return { cameras: [...configured], origin: 'config' };
    const storedIds = new Set(stored.map((c) => c.id));
    const onlyInConfig = configured.filter((c) => !storedIds.has(c.id) && !this.ephemeralIds.has(c.id)).map((c) => c.id);
    const changed = configured.filter((c) => storedIds.has(c.id) && JSON.stringify(c) !== JSON.stringify(stored.find((s) => s.id === c.id))).map((c) => c.id);
    if (onlyInConfig.length > 0 || changed.length > 0) {
      this.log.warn(
        { only_in_config: onlyInConfig, different_in_store: changed },
        'the stored camera list (added/removed at run time) is used, not the configured one; delete the store file or set streams.persist: false to use the configuration',
      );
    }
    this.seeded = true;
    return { cameras: stored, origin: 'store' };
  }

  /** Starts each camera; one that cannot start is logged and remembered, the others go on. */
  async startAll({ cameras, origin }: { cameras: readonly CameraConfig[]; origin: CameraOrigin }): Promise<void> {
    for (const camera of cameras) {
      try {
        await this.start(await this.rules.admit(camera, origin), origin);
      } catch (err) {
        this.startFailures.set(camera.id, (err as Error).message);
        this.log.error({ camera: camera.id, err: (err as Error).message }, 'camera could not start');
      }
    }
  }

  list(): CameraStatus[] {
    return this.cameras.list().map((h) => this.status(h.id) as CameraStatus);
  }

  configs(): CameraConfig[] {
    return this.cameras.list().map((h) => h.config);
  }

  async add(input: unknown): Promise<CameraStatus> {
    let status: CameraStatus;
    try {
      status = await this.start(await this.rules.admit(parseCamera(input, 'camera', 'request'), 'api'), 'api');
    } catch (err) {
      throw cameraAddError(err);
    }
    await this.persist((store) => store.put(this.cameras.get(status.id)!.config));
    return status;
  }

  async remove(id: string): Promise<boolean> {
    if (!this.cameras.get(id)) {
      // A camera that could not even start is still configuration the operator may remove.
      if (!this.startFailures.delete(id)) return false;
      await this.persist((store) => store.remove(id));
      return true;
    }
    await this.engine.detachCamera(id);
    const removed = await this.cameras.remove(id);
    if (removed) await this.persist((store) => store.remove(id));
    return removed;
  }

  /** Starts a camera someone else keeps the list of (the cluster registry): no store, no give-up for `config`. */
  run(camera: CameraConfig, origin: CameraOrigin): Promise<CameraStatus> {
    return this.start(camera, origin);
  }

  /** Stops a camera someone else keeps the list of; false when it does not run here. */
  async stop(id: string): Promise<boolean> {
    if (!this.cameras.get(id)) return false;
    await this.engine.detachCamera(id);
    return this.cameras.remove(id);
  }

  /** Ingest-side status with the engine's output side laid over it. */
  status(id: string): CameraStatus | undefined {
    const handle = this.cameras.get(id);
    if (!handle) return undefined;
    const status = handle.status();
    const out = this.engine.cameraStats(id);
    if (!out) return status;
    return { ...status, fps_out: out.fps_out, frames_out: out.frames_out, drops: { ...status.drops, ...out.drops }, latency_ms: out.latency_ms };
  }

  private async start(camera: CameraConfig, origin: CameraOrigin): Promise<CameraStatus> {
    // Cameras from clients (now or stored) give up after a budget of failures; configured ones retry forever.
    const handle = await this.cameras.add(camera, { maxFailures: origin === 'config' ? 0 : this.rules.apiMaxFailures });
    this.engine.attachCamera(handle.id, handle.ringIndex);
    this.startFailures.delete(camera.id);
    return this.status(handle.id) as CameraStatus;
  }

  /**
   * Applies one change to the store. The first change writes the whole
   * running list, so that the stored list is complete from then on.
   */
  private async persist(change: (store: CameraStore) => Promise<void>): Promise<void> {
    const store = this.store;
    if (!store) return;
    try {
      if (!this.seeded && (await store.list()) === null) {
        for (const config of this.configs()) if (!this.ephemeralIds.has(config.id)) await store.put(config);
      }
      this.seeded = true;
      await change(store);
    } catch (err) {
      // The camera runs; only its survival across a restart is at risk: say so loudly.
      this.log.error({ err: (err as Error).message }, 'camera list could not be saved; the change is lost at restart');
    }
  }
}
