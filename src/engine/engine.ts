/**
 * The inference engine as the app sees it: picks the execution provider,
 * starts the worker pool, serves camera rings through the dispatcher,
 * answers still images, and reports metrics and problems. Results leave
 * through `onResult` listeners; the engine knows nothing of the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineConfig } from '../config/schema.js';
import type { FrameArena } from '../frames/ring.js';
import { identityTransform, inputTransform } from '../models/geometry.js';
import { decodeImageForModel } from '../models/image.js';
import { projectRoot } from '../models/paths.js';
import { preparePixelInput } from '../models/pixel-input.js';
import { AUTO_MODEL } from '../models/registry.js';
import { quantizedOps } from '../models/wrap.js';
import type { InputTransform, PostprocessOptions, ResolvedModel } from '../models/types.js';
import { checkEngineConfig } from '../config/load.js';
import { logger, type Logger } from '../telemetry/logger.js';
import { SampleWindow } from '../telemetry/latency.js';
import type { EngineMetrics } from '../telemetry/snapshot.js';
import type { LatencySummary } from '../contracts/latency.js';
import { DynamicBatching, type BatchingPolicy } from './batching.js';
import { summarize, type CameraOutputStats } from './camera-stats.js';
import { Dispatcher, type ClaimTap, type PublishedFrame } from './dispatcher.js';
import { InferencePool } from './pool.js';
import { nowMs, type TaskTiming, type WorkerTestHooks } from './protocol.js';
import { defaultMaxBatch, defaultMaxWaitMs, parseDeviceIds, resolveProvider, type ResolvedProvider } from './provider.js';
import type { PredictResponse, StreamEvent } from '../contracts/events.js';

/**
 * Batches in flight: 0 = one per worker (at least 2, so a lone worker has
 * its next batch queued). A set value is kept; below the pool size some
 * workers idle, which is said once at start.
 */
function inFlightBatches(configured: number, poolSize: number, log: Logger): number {
  if (configured === 0) return Math.max(2, poolSize);
  if (configured < poolSize) log.warn({ max_in_flight_batches: configured, pool_size: poolSize }, 'fewer batches in flight than workers: some workers will idle');
  return configured;
}

export interface InferenceEngineOptions {
  model: ResolvedModel;
  engine: EngineConfig;
  postprocess: PostprocessOptions;
  arena: FrameArena;
  maxImagePixels: number;
  /** Replaces the default dynamic batching policy. */
  batching?: BatchingPolicy;
  log?: Logger;
  /** Test-only worker behaviour (crash on a given frame). */
  testHooks?: WorkerTestHooks;
  /**
   * `auto` (default): uint8 pixels into a wrapped graph that pre-processes
   * itself when the model can be wrapped, else JavaScript pre-processing;
   * `js`: always JavaScript (benchmarks compare the two).
   */
  pixelInput?: 'auto' | 'js';
  /** Where wrapped models are cached (model.cache_dir); defaults to `.cache/models` in the project. */
  modelCacheDir?: string;
}

export type EngineResult = Omit<StreamEvent, 'id'>;

/** predictImage was called with too many still images already waiting; carries the HTTP status to answer with. */
export class EngineBusyError extends Error {
  readonly status = 503;
  readonly code = 'busy';
  constructor(pending: number) {
    super(`inference engine is busy: ${pending} images already waiting; retry shortly`);
    this.name = 'EngineBusyError';
  }
}

export interface FrameSnapshot {
  rgb: Uint8Array;
  width: number;
  height: number;
  transform: InputTransform;
  frameNo: number;
}

/** ISO-8601 of an epoch-ms stamp; a writer's bad stamp becomes the epoch instead of a RangeError. */
function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

/** int8 models are a CPU choice: on CUDA most of their ops run on the CPU, with copies in between. */
function warnIfQuantized(model: ResolvedModel, log: Logger): void {
  let ops: string[];
  try {
    ops = quantizedOps(readFileSync(model.modelPath));
  } catch {
    return; // Unreadable: the session load reports it.
  }
  if (ops.length === 0) return;
  log.warn(
    { model: model.spec.name, quantized_ops: ops },
    `model ${model.spec.name} is int8-quantized (${ops.join(', ')}) and the provider is CUDA: onnxruntime's CUDA EP has no kernels for ` +
      'most of these ops, so they run on the CPU with copies between host and GPU (measured on an H200: 111 ms per batch of 32); ' +
      `use a float model on CUDA (model.name: auto picks ${AUTO_MODEL.cuda})`,
  );
}

export class InferenceEngine {
  readonly provider: ResolvedProvider;
  readonly poolSize: number;
  private busyTotalMs = 0;
  readonly intraOpThreads: number;
  private readonly listeners = new Set<(e: EngineResult) => void>();
  private readonly inferMs = new SampleWindow(1024);
  private readonly queueMs = new SampleWindow(1024);
  private readonly preMs = new SampleWindow(1024);
  private readonly postMs = new SampleWindow(1024);
  private imageErrors = 0;
  /** Still images decoding or waiting for a worker; bounded so uploads cannot queue without limit. */
  private pendingImages = 0;
  private readonly maxPendingImages: number;
  private closed = false;

  private constructor(
    private readonly opts: InferenceEngineOptions,
    private readonly pool: InferencePool,
    private readonly dispatcher: Dispatcher,
    choice: { provider: ResolvedProvider; poolSize: number; intraOpThreads: number },
    private readonly log: Logger,
  ) {
    this.provider = choice.provider;
    this.poolSize = choice.poolSize;
    this.intraOpThreads = choice.intraOpThreads;
    this.maxPendingImages = Math.max(8, 4 * choice.poolSize);
  }

  static async create(opts: InferenceEngineOptions): Promise<InferenceEngine> {
    const log = opts.log ?? logger().child({ component: 'engine' });
    const { model, engine: cfg, arena } = opts;
    const input = model.spec.input;
    const g = arena.geometry;
    if (g.width !== input.width || g.height !== input.height || g.channels !== 3) {
      throw new Error(`frame arena is ${g.width}x${g.height}x${g.channels}, model ${model.spec.name} needs ${input.width}x${input.height}x3`);
    }
    checkEngineConfig(cfg, 'InferenceEngine.create');
    const resolved = await resolveProvider(cfg, model.modelPath);
    // Checked before any thread starts.
    const policy = opts.batching ?? new DynamicBatching({ maxBatch: defaultMaxBatch(resolved.provider, cfg), maxWaitMs: defaultMaxWaitMs(resolved.provider, cfg) });
    const deviceIds = resolved.provider === 'cuda' ? parseDeviceIds(cfg.device_ids) : [];
    // On CUDA pool_size is per GPU.
    const choice = { ...resolved, poolSize: resolved.poolSize * Math.max(1, deviceIds.length) };
    log.info(
      { provider: choice.provider, pool_size: choice.poolSize, intra_op_threads: choice.intraOpThreads, max_batch: policy.maxBatch, ...(deviceIds.length > 0 ? { device_ids: deviceIds } : {}) },
      choice.reason,
    );
    if (choice.provider === 'cuda') warnIfQuantized(model, log);
    const pixels =
      opts.pixelInput === 'js'
        ? ({ kind: 'js', modelPath: model.modelPath, reason: 'JavaScript pre-processing requested' } as const)
        : await preparePixelInput(model, { cacheDir: opts.modelCacheDir ?? join(projectRoot(), '.cache', 'models') });
    if (pixels.kind === 'uint8') {
      log.info(
        { model: model.spec.name, pixel_input: 'uint8', wrapped: pixels.modelPath, sha256: pixels.sha256, precision: pixels.precision, reused: pixels.reused },
        'uint8 pixels into the model: pre-processing runs inside the graph',
      );
    } else {
      log.info({ model: model.spec.name, pixel_input: 'js' }, `JavaScript pre-processing for ${model.spec.name}: ${pixels.reason}`);
    }
    const pool = await InferencePool.create({
      size: choice.poolSize,
      log,
      init: {
        modelPath: pixels.modelPath,
        pixelInput: pixels.kind === 'uint8' ? { kind: 'uint8', inputName: pixels.inputName } : { kind: 'js' },
        spec: model.spec,
        labels: model.labels,
        provider: choice.provider,
        intraOpThreads: choice.intraOpThreads,
        deviceIds,
        workerCounter: new SharedArrayBuffer(4),
        postprocess: opts.postprocess,
        arena: arena.handle,
        testHooks: opts.testHooks,
      },
    });
    // The engine object does not exist yet when the dispatcher is made: route through a holder.
    let self: InferenceEngine | null = null;
    let dispatcher: Dispatcher;
    try {
      dispatcher = new Dispatcher({
        arena,
        runner: { run: (task) => pool.runFrames(task) },
        policy,
        limits: { ...cfg, max_in_flight_batches: inFlightBatches(cfg.max_in_flight_batches, choice.poolSize, log) },
        dynamicBatch: input.dynamic_batch,
        onFrame: (frame) => self?.publish(frame),
        onTask: (_size, timing, error, heldMs) => self?.taskFinished(timing, error, heldMs),
      });
    } catch (err) {
      await pool.destroy();
      throw err;
    }
    self = new InferenceEngine(opts, pool, dispatcher, choice, log);
    dispatcher.start();
    return self;
  }

  get modelName(): string {
    return this.opts.model.spec.name;
  }

  /** Decodes a still image (JPEG/PNG/WebP) and runs the model on it. ImageInputError propagates. */
  async predictImage(bytes: Buffer): Promise<PredictResponse> {
    if (this.closed) throw new Error('inference engine is closed');
    if (this.pendingImages >= this.maxPendingImages) throw new EngineBusyError(this.pendingImages);
    this.pendingImages++;
    try {
      const started = performance.now();
      const { input } = this.opts.model.spec;
      const { rgb, transform } = await decodeImageForModel(bytes, input, { maxPixels: this.opts.maxImagePixels });
      // Transfer needs a buffer of its own; sharp's output may share a larger one.
      const own = rgb.byteOffset === 0 && rgb.byteLength === rgb.buffer.byteLength && rgb.buffer instanceof ArrayBuffer ? new Uint8Array(rgb.buffer) : new Uint8Array(rgb);
      let result;
      const submittedAt = nowMs();
      try {
        result = await this.pool.runImage({ kind: 'image', rgb: own, transform, submittedAt });
      } catch (err) {
        this.imageErrors++;
        throw err;
      }
      this.taskFinished(result.timing, null, nowMs() - submittedAt);
      return {
        model: this.modelName,
        latency_ms: performance.now() - started,
        width: transform.sourceWidth,
        height: transform.sourceHeight,
        ...result.output,
      };
    } finally {
      this.pendingImages--;
    }
  }

  /** Starts serving a camera's ring. Detach before the ring is freed or reused. */
  attachCamera(cameraId: string, ringIndex: number): void {
    if (this.closed) throw new Error('inference engine is closed');
    this.dispatcher.attach(cameraId, ringIndex);
  }

  /** Stops claiming the camera's frames; resolves once its in-flight frames are done. */
  detachCamera(cameraId: string): Promise<void> {
    return this.dispatcher.detach(cameraId);
  }

  onResult(listener: (e: EngineResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Copies the pixels of the next frame claimed for the camera (only when
   * asked: dashboard previews). Null on timeout or for an unknown camera.
   */
  requestSnapshot(cameraId: string, timeoutMs: number): Promise<FrameSnapshot | null> {
    const { input } = this.opts.model.spec;
    return new Promise<FrameSnapshot | null>((resolve) => {
      const timer = setTimeout(() => {
        this.dispatcher.untap(cameraId, tap);
        resolve(null);
      }, timeoutMs);
      const tap: ClaimTap = (ring, slot, frameNo) => {
        clearTimeout(timer);
        const w = ring.sourceWidth();
        const h = ring.sourceHeight();
        const transform = w > 0 && h > 0 ? inputTransform(input, w, h) : identityTransform(input.width, input.height);
        resolve({ rgb: ring.pixels(slot).slice(), width: input.width, height: input.height, transform, frameNo });
      };
      if (!this.dispatcher.tapNextClaim(cameraId, tap)) {
        clearTimeout(timer);
        resolve(null);
      }
    });
  }

  cameraStats(cameraId: string): CameraOutputStats | undefined {
    return this.dispatcher.stats(cameraId)?.snapshot();
  }

  metrics(): EngineMetrics {
    const d = this.dispatcher;
    return {
      model: this.modelName,
      provider: this.provider,
      queue_depth: d.waitingFrames() + d.batchesInFlight,
      batches_in_flight: d.batchesInFlight,
      batches_total: d.batchesTotal,
      mean_batch_size: d.batchesTotal > 0 ? d.framesSubmitted / d.batchesTotal : 0,
      inference_ms: summarize(this.inferMs),
      queue_ms: summarize(this.queueMs),
      worker_restarts: this.pool.restarts,
      errors: d.errors + this.imageErrors,
    };
  }

  /** Per task, ms: waiting for a worker, pre-processing, the model run, decoding (recent tasks). */
  stageTimings(): Record<'queue' | 'pre' | 'infer' | 'post', LatencySummary> {
    return { queue: summarize(this.queueMs), pre: summarize(this.preMs), infer: summarize(this.inferMs), post: summarize(this.postMs) };
  }

  problems(): string[] {
    const problems = this.dispatcher.problems();
    if (this.pool.size === 0 && !this.closed) problems.push('inference pool has no worker threads');
    return problems;
  }

  /**
   * Stops dispatching, lets in-flight batches finish (for at most
   * `inference_stall_ms`, so a wedged worker cannot hold shutdown), then stops
   * the workers; batches still running then fail and give their slots back.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(1, this.opts.engine.inference_stall_ms))));
    await Promise.race([this.dispatcher.stop(), limit]);
    clearTimeout(timer);
    await this.pool.destroy();
    this.listeners.clear();
  }

  /** The worker pool (tests observe and stop threads through it). */
  get workers(): InferencePool {
    return this.pool;
  }

  private publish(frame: PublishedFrame): void {
    const event: EngineResult = {
      camera_id: frame.cameraId,
      camera: frame.cameraId,
      frame: frame.frameNo,
      captured_at: isoTime(frame.capturedAtMs),
      latency_ms: frame.latencyMs,
      model: this.modelName,
      ...frame.output,
    };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        // One faulty listener must not stop results reaching the others.
        this.log.error({ err }, 'result listener failed');
      }
    }
  }

  /**
   * Time tasks were held by the pool since start, from submission to answer,
   * ms: busy share = Δ / (Δt × poolSize). It counts the hand-over between
   * tasks too (a worker waits for the next one a round trip through the main
   * thread, ~2 ms), so a saturated pool reads as fully busy and the adaptive
   * strategy's capacity estimate (inferred / busy share) is not inflated by it.
   */
  get busyMs(): number {
    return this.busyTotalMs;
  }

  private taskFinished(timing: TaskTiming | null, error: unknown, heldMs: number): void {
    this.busyTotalMs += heldMs;
    if (timing) {
      this.inferMs.record(timing.inferMs);
      this.queueMs.record(timing.queueMs);
      this.preMs.record(timing.preMs);
      this.postMs.record(timing.postMs);
    }
    if (error) this.log.warn({ err: error }, 'inference task failed');
  }
}
