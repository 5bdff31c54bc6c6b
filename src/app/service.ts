/**
 * The one place that wires the service together and owns start-up and
 * shutdown order:
 *   model → frame arena → engine → cameras (ingest) → event hub → capture → HTTP.
 * Shutdown runs the other way: stop listening, stop cameras (no ffmpeg left),
 * drain inference, flush capture.
 */
import { resolve } from 'node:path';
import type { AppConfig, CameraConfig } from '../config/schema.js';
import { applyFpsLimit } from '../config/load.js';
import { checkCameraSource } from '../ingest/source-policy.js';
import { FrameArena } from '../frames/ring.js';
import { modelCacheDir } from '../models/registry.js';
import type { ResolvedModel } from '../models/types.js';
import { InferenceEngine } from '../engine/engine.js';
import { CameraManager } from '../ingest/camera-manager.js';
import { AdaptiveRates } from '../ingest/rate-governor.js';
import { InferenceCapture } from '../capture/inference-capture.js';
import { startServer } from '../api/server.js';
import { assertNativeUws } from '../api/native-check.js';
import type { ApiDeps, CameraLimits } from '../api/deps.js';
import { planListen } from '../api/exposure.js';
import { EventHub } from './event-hub.js';
import { parseCameraRequest } from './camera-request.js';
import { startClusterMode, type ClusterMode } from './cluster-mode.js';
import { ServiceCameras } from './camera-control.js';
import { JsonFileCameraStore } from './camera-store.js';
import { HealthMonitor } from './health.js';
import { ClientCounters, composeSnapshot } from './metrics.js';
import { resolveServiceModel } from './model-choice.js';
import { captureFeed } from './capture-feed.js';
import { frameTotals } from './rate-control.js';
import { predictor, previewSource } from './api-deps.js';
import { serverOptions } from './server-options.js';
import { startEmfReporter } from '../telemetry/emf.js';
import { emptyAuthMetrics, type MetricsSnapshot } from '../telemetry/snapshot.js';
import { logger as rootLogger, type Logger } from '../telemetry/logger.js';
import { VERSION } from './version.js';

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
  /** Camera control as the API uses it (validation, engine attach, the stored list). */
  control: ServiceCameras;
  health: HealthMonitor;
  events: EventHub;
  /** Stops everything in order; resolves when no ffmpeg child is left. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Project root for the model registry (default: the process working directory). */
  projectRoot?: string;
  log?: Logger;
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
  const offerCapture = capture ? captureFeed(cameras, capture) : null;

  // Cluster mode (cluster.redis_url): set below, before any camera runs.
  let cluster: ClusterMode | null = null;
  engine.onResult((result) => {
    if (cluster) return cluster.publish(result);
    const event = events.publish(result);
    offerCapture?.(event);
  });

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
  // In cluster mode the shared registry is the camera list; the local file store is for one instance.
  const store = config.streams.persist && !config.cluster.redis_url
    ? new JsonFileCameraStore(resolve(config.data_dir), {
        onCorrupt: ({ file, movedTo, reason }) => log.error({ file, moved_to: movedTo, reason }, 'stored camera list is corrupt: set aside, the configured cameras are used'),
      })
    : null;
  const usesDemo = config.cameras.length === 0 && config.streams.demo_camera;
  const control = new ServiceCameras(cameras, engine, store, log, {
    ephemeralIds: new Set(usesDemo ? [DEMO_CAMERA.id] : []),
    // Cameras from the API give up after a budget of failures (and free their slot); configured ones retry forever.
    apiMaxFailures: config.streams.api_camera_max_failures,
    limits: cameraLimits,
    admit: async (camera, origin) => {
      const admitted = origin === 'api' ? applyFpsLimit(camera, config.streams, 'camera', 'request') : camera;
      // The demo camera's test source is the service's own; operator cameras are trusted unless configured
      // otherwise; stored ones came from clients, so they are checked like new ones.
      if (origin !== 'config' || (camera !== DEMO_CAMERA && config.sources.check_config_cameras)) await checkCameraSource(admitted.url, sourceCheck);
      return admitted;
    },
  });
  if (config.cluster.redis_url) {
    cluster = await startClusterMode({
      config,
      log,
      hub: events,
      // Registry cameras are the operator's: they keep retrying (no give-up) wherever they run.
      runner: { start: async (camera) => void (await control.run(camera, 'config')), stop: async (id) => void (await control.stop(id)), status: (id) => control.status(id) },
      localStatus: (id) => control.status(id),
      limits: cameraLimits,
      parseRequest: (body) => parseCameraRequest(body, config.streams, sourceCheck),
      onPublished: (event) => offerCapture?.(event),
    });
  }
  await control.startAll(await control.initialList(initial));

  const adaptive = config.streams.strategy === 'adaptive' ? new AdaptiveRates({ cameras, totals: () => frameTotals(control.list(), engine), settings: config.streams.rate_control }) : null;
  adaptive?.start();

  const clients = new ClientCounters();
  const authMetrics = emptyAuthMetrics();
  const snapshot = (): MetricsSnapshot => ({
    ...composeSnapshot({
      startedAt,
      cameras: () => control.list(),
      engine: () => engine.metrics(),
      capture: () => capture?.metrics(),
      clients,
      eventsPublished: () => events.published,
      auth: authMetrics,
    }),
    ...(cluster ? { cluster: cluster.metrics() } : {}),
  });
  const health = new HealthMonitor({
    model: { name: model.spec.name, task: model.spec.task, path: model.modelPath },
    provider: () => engine.provider,
    engineProblems: () => engine.problems(),
    cameras: () => control.list(),
    startFailures: () => control.startFailures,
    delivery: () => events,
    stageProblems: () => cluster?.problems() ?? [],
    version: VERSION,
    startedAt,
  });

  const deps: ApiDeps = {
    health: () => ({ ...health.health(), ...(cluster ? { cluster: cluster.health() } : {}) }),
    live: () => health.live(),
    ready: () => health.ready(),
    predict: predictor(engine),
    cameras: cluster?.cameras ?? control,
    events: cluster?.events ?? events,
    previews: previewSource({
      runsHere: (id) => cameras.get(id) !== undefined,
      ownerOf: (id) => cluster?.cameras.list().find((c) => c.id === id)?.owner,
      snapshot: (id, timeoutMs) => engine.requestSnapshot(id, timeoutMs),
    }),
    metrics: snapshot,
    onClientDrop: (n) => {
      clients.events_dropped_slow_client += n;
    },
    onAuthFailure: (reason) => {
      authMetrics.failures[reason]++;
    },
  };

  const server = await startServer(
    deps,
    serverOptions(config, {
      host: listenPlan.host,
      logger: log.child({ component: 'http' }),
      onClients: (sse, ws) => {
        clients.sse_clients = sse;
        clients.ws_clients = ws;
      },
    }),
  );
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
    control,
    health,
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
