/**
 * The one place that wires the service together and owns start-up and
 * shutdown order:
 *   model → frame arena → engine → cameras (ingest) → event hub → capture → HTTP.
 * Shutdown runs the other way: stop listening, stop cameras (no ffmpeg left),
 * drain inference, flush capture.
 */
import type { AppConfig, CameraConfig } from '../config/schema.js';
import { checkCameraSource } from '../ingest/source-policy.js';
import { FrameArena } from '../frames/ring.js';
import { AUTO_MODEL, ModelFileError, modelCacheDir, resolveModel } from '../models/registry.js';
import { resolveProvider } from '../engine/provider.js';
import type { ResolvedModel } from '../models/types.js';
import { ImageInputError } from '../models/image.js';
import { EngineBusyError, InferenceEngine } from '../engine/engine.js';
import type { StreamEvent } from '../contracts/events.js';
import { CameraManager } from '../ingest/camera-manager.js';
import type { CameraStatus } from '../contracts/camera.js';
import { AdaptiveRates, type FrameTotals } from '../ingest/rate-governor.js';
import { InferenceCapture } from '../capture/inference-capture.js';
import { startServer } from '../api/server.js';
import { assertNativeUws } from '../api/native-check.js';
import { HttpError, type ApiDeps, type CameraLimits, type HealthInfo } from '../api/deps.js';
import { planListen } from '../api/exposure.js';
import { EventHub } from './event-hub.js';
import { parseCameraRequest } from './camera-request.js';
import { startClusterMode, type ClusterMode } from './cluster-mode.js';
import { renderPreview } from './preview.js';
import { startEmfReporter } from '../telemetry/emf.js';
import { emptyAuthMetrics, type MetricsSnapshot } from '../telemetry/snapshot.js';
import { logger as rootLogger, type Logger } from '../telemetry/logger.js';
import { VERSION } from './version.js';
import { quoteShort } from '../config/echo.js';

export const DEMO_CAMERA: CameraConfig = {
  id: 'demo',
  url: 'lavfi:testsrc2=size=1280x720:rate=25',
  fps: 0,
  transport: 'tcp',
  loop: true,
  realtime: true,
};

export interface RunningService {
  port: number;
  config: AppConfig;
  model: ResolvedModel;
  engine: InferenceEngine;
  cameras: CameraManager;
  events: EventHub;
  /** Stops everything in order; resolves when no ffmpeg child is left. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Project root for the model registry (default: the process working directory). */
  projectRoot?: string;
  log?: Logger;
}

/**
 * `model.name: auto` is the classifier that suits the execution provider
 * (AUTO_MODEL): the provider is decided first, with the CPU model as the
 * probe. On CUDA without the float model on disk, the int8 one is used with
 * a warning saying how to get the float one.
 */
async function resolveServiceModel(config: AppConfig, root: string | undefined, log: Logger): Promise<ResolvedModel> {
  if (config.model.name !== 'auto') return resolveModel(config.model.name, config.model, { projectRoot: root });
  const cpuModel = await resolveModel(AUTO_MODEL.cpu, config.model, { projectRoot: root });
  if (config.engine.provider === 'cpu') return cpuModel;
  const { provider } = await resolveProvider(config.engine, cpuModel.modelPath);
  if (provider === 'cpu') return cpuModel;
  try {
    return await resolveModel(AUTO_MODEL.cuda, config.model, { projectRoot: root });
  } catch (err) {
    if (!(err instanceof ModelFileError)) throw err;
    log.warn({ model: AUTO_MODEL.cuda }, `model.name auto: the float classifier for CUDA is not available (${err.message}); using ${AUTO_MODEL.cpu}`);
    return cpuModel;
  }
}

export async function startService(config: AppConfig, options: StartOptions = {}): Promise<RunningService> {
  const log = options.log ?? rootLogger();
  const startedAt = Date.now();
  assertNativeUws();
  // Before anything slow: an unsafe exposure stops start-up at once.
  const auth = config.server.auth;
  const listenPlan = planListen(config.server.host, auth.keys.length, auth.disabled);
  if (listenPlan.notice) log[listenPlan.notice.level](listenPlan.notice.message);

  const model = await resolveServiceModel(config, options.projectRoot, log);
  log.info({ model: model.spec.name, path: model.modelPath, task: model.spec.task }, 'model resolved');

  const input = model.spec.input;
  // Memory for the configured cameras plus headroom for ones added over the API; grows up to max_cameras.
  // In cluster mode the shared registry decides what runs here (see cluster-mode.ts); YAML cameras only seed it.
  const initial = config.cluster.redis_url ? [] : config.cameras.length > 0 ? config.cameras : config.streams.demo_camera ? [DEMO_CAMERA] : [];
  const arena = FrameArena.create({ width: input.width, height: input.height, channels: 3 }, config.streams.ring_slots, config.streams.max_cameras, initial.length + 4);
  const engine = await InferenceEngine.create({
    model,
    engine: config.engine,
    postprocess: {
      topK: config.model.top_k,
      personScoreThreshold: config.model.person_score_threshold,
      detectionScoreThreshold: config.model.detection_score_threshold,
      nmsIouThreshold: config.model.nms_iou_threshold,
    },
    arena,
    maxImagePixels: config.server.max_image_pixels,
    modelCacheDir: modelCacheDir(config.model, options.projectRoot),
  });
  log.info({ provider: engine.provider, pool_size: engine.poolSize, intra_op_threads: engine.intraOpThreads }, 'inference engine ready');

  const events = new EventHub(config.streams.event_history);
  const capture = config.capture.inference || config.cameras.some((c) => c.capture?.enabled)
    ? new InferenceCapture(config.capture, { modelName: model.spec.name, modelSha256: model.spec.sha256, logger: log.child({ component: 'capture' }) })
    : null;

  const captureMaxSide = (camera: CameraConfig): number =>
    capture && (camera.capture?.enabled ?? config.capture.inference) ? config.capture.max_side || 1_000_000 : 0;
  const cameras = new CameraManager({ arena, streams: config.streams, input, captureMaxSide, log: log.child({ component: 'ingest' }), expectedCameras: initial.length });
  cameras.onStateChange((id, state, error) => log.info({ camera: id, state, error }, 'camera state'));

  // Cluster mode (cluster.redis_url): set below, before any camera runs.
  let cluster: ClusterMode | null = null;
  engine.onResult((result) => {
    if (cluster) return cluster.publish(result);
    const event = events.publish(result);
    if (capture) offerCapture(event);
  });

  function offerCapture(event: StreamEvent): void {
    const camera = cameras.get(event.camera);
    if (!camera || !capture || !capture.shouldCapture(camera.id, event.frame, camera.config)) return;
    const { source_width: width, source_height: height } = camera.status();
    capture.offer({ camera: camera.config, event, image: camera.captureFrame(event.frame), sourceSize: width > 0 ? { width, height } : undefined });
  }

  // Cameras from the API give up after a budget of failures (and free their slot); configured ones retry forever.
  async function addCamera(camera: CameraConfig, fromApi: boolean): Promise<CameraStatus> {
    const handle = await cameras.add(camera, { maxFailures: fromApi ? config.streams.api_camera_max_failures : 0 });
    engine.attachCamera(handle.id, handle.ringIndex);
    return cameraStatus(handle.id) as CameraStatus;
  }

  async function removeCamera(id: string): Promise<boolean> {
    if (!cameras.get(id)) return false;
    await engine.detachCamera(id);
    return cameras.remove(id);
  }

  /** Ingest-side status with the engine's output side laid over it. */
  function cameraStatus(id: string): CameraStatus | undefined {
    const handle = cameras.get(id);
    if (!handle) return undefined;
    const status = handle.status();
    const out = engine.cameraStats(id);
    if (!out) return status;
    return { ...status, fps_out: out.fps_out, frames_out: out.frames_out, drops: { ...status.drops, ...out.drops }, latency_ms: out.latency_ms };
  }

  cameras.onGiveUp((id) => {
    log.warn({ camera: id, error: cameras.get(id)?.status().last_error }, 'camera gave up retrying; its slot is free');
    void engine
      .detachCamera(id)
      .then(() => cameras.retire(id))
      .catch((err: unknown) => log.error({ camera: id, err: (err as Error).message }, 'camera could not be retired'));
  });

  // Ports this service listens on; a camera URL pointing at one of them on this machine is refused.
  const ownPorts: number[] = [config.server.port];
  const sourceCheck = { sources: config.sources, ownPorts };

  const cameraLimits = (): CameraLimits => ({ max_cameras: cameras.limit, active_cameras: cameras.active, max_fps: config.streams.max_fps });
  if (config.cluster.redis_url) {
    cluster = await startClusterMode({
      config,
      log,
      hub: events,
      // Registry cameras are the operator's: they keep retrying (no give-up) wherever they run.
      runner: { start: async (camera) => void (await addCamera(camera, false)), stop: async (id) => void (await removeCamera(id)), status: cameraStatus },
      localStatus: cameraStatus,
      limits: cameraLimits,
      parseRequest: (body) => parseCameraRequest(body, config.streams, sourceCheck),
      onPublished: (event) => {
        if (capture) offerCapture(event);
      },
    });
  }
  for (const camera of initial) {
    try {
      // The demo camera's test source is the service's own; operator cameras are trusted unless configured otherwise.
      if (camera !== DEMO_CAMERA && config.sources.check_config_cameras) await checkCameraSource(camera.url, sourceCheck);
      await addCamera(camera, false);
    } catch (err) {
      // One bad camera must not keep the others (or the API) down.
      log.error({ camera: camera.id, err: (err as Error).message }, 'camera could not start');
    }
  }

  /** Whole-service frame counters for the adaptive strategy: what reached the rings, what was inferred, what was dropped. */
  function frameTotals(): FrameTotals {
    const totals = { inferred: 0, offered: 0, dropped: 0, engineBusyMs: engine.busyMs, engineWorkers: engine.poolSize };
    for (const handle of cameras.list()) {
      const status = cameraStatus(handle.id);
      if (!status) continue;
      totals.offered += status.frames_in;
      totals.inferred += status.frames_out;
      for (const n of Object.values(status.drops)) totals.dropped += n;
    }
    return totals;
  }
  const adaptive = config.streams.strategy === 'adaptive' ? new AdaptiveRates({ cameras, totals: frameTotals, settings: config.streams.rate_control }) : null;
  adaptive?.start();

  function snapshot(): MetricsSnapshot {
    const list = cameras.list().map((h) => cameraStatus(h.id) as CameraStatus);
    return {
      timestamp_ms: Date.now(),
      uptime_s: (Date.now() - startedAt) / 1000,
      cameras: list.map((s) => ({
        id: s.id,
        state: s.state,
        fps_in: s.fps_in,
        fps_out: s.fps_out,
        frames_in: s.frames_in,
        frames_out: s.frames_out,
        drops: s.drops,
        reconnects: s.reconnects,
        fps_configured: s.fps_configured,
        fps_effective: s.fps_effective,
        rate_changes: s.rate_changes,
        latency_ms: s.latency_ms ?? { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, count: 0 },
      })),
      engine: engine.metrics(),
      capture: capture?.metrics() ?? { captured: 0, skipped: 0, uploaded: 0, upload_failures: 0, pending_uploads: 0, pending_bytes: 0 },
      clients: { ...clientCounters, events_published: events.published },
      auth: { failures: { ...authMetrics.failures } },
      ...(cluster ? { cluster: cluster.metrics() } : {}),
    };
  }
  const clientCounters = { sse_clients: 0, ws_clients: 0, events_dropped_slow_client: 0 };
  const authMetrics = emptyAuthMetrics();

  function health(): HealthInfo {
    // Each stage reports progress on its own: inference (engine), decoding
    // (camera states) and delivery (subscribers of the hub).
    const problems = [...engine.problems()];
    for (const handle of cameras.list()) {
      const { state, last_error } = handle.status();
      if (state === 'stalled' || state === 'error') problems.push(`camera ${handle.id} ${state}${last_error ? `: ${last_error}` : ''}`);
    }
    if (Date.now() - events.lastListenerErrorAt < 60_000) problems.push(`result delivery failing (${events.listenerErrors} subscriber errors)`);
    if (cluster) problems.push(...cluster.problems());
    return {
      status: problems.length === 0 ? 'ok' : 'degraded',
      model: model.spec.name,
      task: model.spec.task,
      provider: engine.provider,
      uptime_s: Math.round((Date.now() - startedAt) / 100) / 10,
      cameras: cameras.list().length,
      version: VERSION,
      problems,
      ...(cluster ? { cluster: cluster.health() } : {}),
    };
  }

  const deps: ApiDeps = {
    health,
    predict: async (image) => {
      try {
        return await engine.predictImage(image);
      } catch (err) {
        if (err instanceof ImageInputError) throw new HttpError(err.status, err.message, err.status === 415 ? 'unsupported_media_type' : 'invalid_image');
        if (err instanceof EngineBusyError) throw new HttpError(503, err.message, 'busy');
        throw err;
      }
    },
    cameras: cluster?.cameras ?? {
      list: () => cameras.list().map((h) => cameraStatus(h.id) as CameraStatus),
      limits: cameraLimits,
      configs: () => cameras.list().map((h) => h.config),
      add: async (body) => {
        const camera = await parseCameraRequest(body, config.streams, sourceCheck);
        if (cameras.get(camera.id)) throw new HttpError(409, `camera ${quoteShort(camera.id)} already exists`, 'camera_exists');
        try {
          return await addCamera(camera, true);
        } catch (err) {
          throw new HttpError(/max_cameras|no free ring/i.test((err as Error).message) ? 503 : 400, (err as Error).message, 'camera_not_started');
        }
      },
      remove: removeCamera,
    },
    events: cluster?.events ?? events,
    previews: {
      preview: async (id) => {
        if (!cameras.get(id)) {
          const owner = cluster?.cameras.list().find((c) => c.id === id)?.owner;
          if (owner) throw new HttpError(409, `camera ${quoteShort(id)} runs on instance ${owner}; previews come from the instance that runs the camera`, 'not_owner');
          throw new HttpError(404, `no camera ${quoteShort(id)}`, 'not_found');
        }
        const shot = await engine.requestSnapshot(id, 2000);
        return shot ? { ...(await renderPreview(shot)), frame: shot.frameNo } : null;
      },
    },
    metrics: snapshot,
    onClientDrop: (n) => {
      clientCounters.events_dropped_slow_client += n;
    },
    onAuthFailure: (reason) => {
      authMetrics.failures[reason]++;
    },
  };

  const server = await startServer(deps, {
    host: listenPlan.host,
    port: config.server.port,
    maxUploadBytes: config.server.max_upload_bytes,
    corsOrigins: config.server.cors_origins,
    auth: {
      keys: auth.keys,
      tokenSecret: auth.token_secret,
      tokenTtlS: auth.token_ttl_s,
      maxFailuresPerMinute: auth.max_failures_per_minute,
      trustProxy: config.server.trust_proxy,
    },
    requestTimeoutMs: config.server.request_timeout_s * 1000,
    refusalDrainBytes: config.server.refusal_drain_bytes,
    refusalDrainMs: config.server.refusal_drain_s * 1000,
    sseHeartbeatMs: config.streams.sse_heartbeat_ms,
    clientMaxBufferedBytes: config.streams.client_max_buffered_bytes,
    slowClientDisconnectMs: config.streams.client_max_lag_s * 1000,
    clientMaxLagMs: config.streams.client_max_lag_s * 1000,
    logger: log.child({ component: 'http' }),
    onClients: (sse: number, ws: number) => {
      clientCounters.sse_clients = sse;
      clientCounters.ws_clients = ws;
    },
  });
  ownPorts.push(server.port);
  log.info({ host: listenPlan.host, port: server.port, auth: auth.keys.length > 0 ? `${auth.keys.length} API key(s)` : 'off' }, 'listening');

  const stopEmf = config.telemetry.emf_interval_s > 0
    ? startEmfReporter(snapshot, { intervalS: config.telemetry.emf_interval_s, namespace: config.telemetry.emf_namespace, write: (line) => process.stdout.write(`${line}\n`) })
    : () => {};

  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    config,
    model,
    engine,
    cameras,
    events,
    stop: () =>
      (stopping ??= (async () => {
        stopEmf();
        adaptive?.stop();
        await server.close();
        // Cluster: stop this instance's cameras before releasing their leases, so a successor never overlaps.
        await cluster?.stop();
        await cameras.close();
        await engine.close();
        await capture?.close();
        log.info('stopped');
      })()),
  };
}
