/**
 * Forms batches across cameras from the frame rings and submits them to the
 * inference pool.
 *
 * - Sleeps on the arena's commit sequence (Atomics.waitAsync), a batching
 *   deadline or a finished batch; never polls.
 * - Claims frames only when a batch may be submitted (fewer than
 *   `max_in_flight_batches` in flight): under overload frames stay in their
 *   ring, where the newest replaces older ones, so nothing queues without bound.
 * - Releases frames older than `max_frame_age_ms` uninferred (`stale`).
 * - Models with a fixed batch of 1 get one task per frame, run concurrently.
 * - A failed task releases its slots and counts `inference_error`.
 */
import type { EngineConfig } from '../config/schema.js';
import type { FrameArena, FrameRing } from '../frames/ring.js';
import type { InferenceOutput } from '../models/types.js';
import type { BatchingPolicy } from './batching.js';
import { CameraStats } from './camera-stats.js';
import { nowMs, type FramesResult, type FramesTask, type TaskTiming } from './protocol.js';
import type { FrameRef } from './types.js';

/** What the dispatcher needs from the pool. */
export interface FrameTaskRunner {
  run(task: FramesTask): Promise<FramesResult>;
}

export interface PublishedFrame {
  cameraId: string;
  frameNo: number;
  capturedAtMs: number;
  latencyMs: number;
  output: InferenceOutput;
}

export interface DispatcherOptions {
  arena: FrameArena;
  runner: FrameTaskRunner;
  policy: BatchingPolicy;
  limits: Pick<EngineConfig, 'max_in_flight_batches' | 'max_frame_age_ms' | 'inference_stall_ms'>;
  /** False for models whose batch axis is fixed at 1. */
  dynamicBatch: boolean;
  onFrame(frame: PublishedFrame): void;
  /** Once per finished (or failed) task, for engine-wide metrics; heldMs = from submission to the answer. */
  onTask?(size: number, timing: TaskTiming | null, error: unknown, heldMs: number): void;
  /** Wall clock in ms, the one the ring writers stamp frames with (tests may replace it). */
  clock?: () => number;
}

/** Called with a claimed frame's slot while the dispatcher still owns it. */
export type ClaimTap = (ring: FrameRing, slot: number, frameNo: number) => void;

class Lane {
  readonly stats = new CameraStats();
  inFlight = 0;
  detached = false;
  drained: (() => void) | null = null;
  taps: ClaimTap[] = [];

  constructor(
    readonly cameraId: string,
    readonly ringIndex: number,
    readonly ring: FrameRing,
  ) {}
}

/**
 * One batch: which lane, slot, frame and capture time each image is. Records
 * are made once (one per allowed in-flight batch) and reused, with the task
 * objects they submit, so forming a batch allocates nothing per frame.
 */
class Batch {
  readonly lanes: (Lane | null)[];
  readonly refs: FrameRef[];
  readonly capturedAt: Float64Array;
  size = 0;
  submittedAt = 0;
  /** Tasks of this batch not yet settled (several for fixed-batch models). */
  pending = 0;
  /** tasksBySize[n]: one task with the first n refs (dynamic batch). */
  private readonly tasksBySize: FramesTask[];
  /** singles[i]: one task with ref i alone (fixed batch of 1). */
  private readonly singles: FramesTask[];

  constructor(maxBatch: number) {
    this.lanes = new Array<Lane | null>(maxBatch).fill(null);
    this.refs = Array.from({ length: maxBatch }, () => ({ ring: 0, slot: 0, frameNo: 0 }));
    this.capturedAt = new Float64Array(maxBatch);
    this.tasksBySize = Array.from({ length: maxBatch + 1 }, (_, n) => ({ kind: 'frames', refs: this.refs.slice(0, n), submittedAt: 0 }));
    this.singles = this.refs.map((ref) => ({ kind: 'frames', refs: [ref], submittedAt: 0 }));
  }

  add(lane: Lane, slot: number, frameNo: number, capturedAt: number): void {
    const i = this.size++;
    this.lanes[i] = lane;
    const ref = this.refs[i]!;
    ref.ring = lane.ringIndex;
    ref.slot = slot;
    ref.frameNo = frameNo;
    this.capturedAt[i] = capturedAt;
  }

  task(first: number, count: number, submittedAt: number): FramesTask {
    const task = count === 1 ? this.singles[first]! : this.tasksBySize[count]!;
    task.submittedAt = submittedAt;
    return task;
  }

  clear(): void {
    this.lanes.fill(null);
    this.size = 0;
    this.pending = 0;
  }
}

/** Longest the loop sleeps with nothing to do (it also wakes on commits). */
const IDLE_WAIT_MS = 1000;

export class Dispatcher {
  private readonly arena: FrameArena;
  private readonly opts: DispatcherOptions;
  private readonly lanes: Lane[] = [];
  private readonly byId = new Map<string, Lane>();
  private readonly ready: Uint8Array;
  private readonly order: Int32Array;
  private readonly clock: () => number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private commitWait: Promise<void> | null = null;
  private kick: Promise<void> | null = null;
  private kickResolve: (() => void) | null = null;
  private inFlightBatches = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly freeBatches: Batch[];
  /** Last time a batch finished, or the in-flight count rose from 0 (for stall detection). */
  private lastProgressAt = 0;

  // Engine-wide counters.
  batchesTotal = 0;
  framesSubmitted = 0;
  errors = 0;

  constructor(opts: DispatcherOptions) {
    this.opts = opts;
    this.arena = opts.arena;
    this.ready = new Uint8Array(opts.arena.size);
    this.order = new Int32Array(opts.arena.size);
    this.clock = opts.clock ?? Date.now;
    // Validated by the config schema; the engine resolves 0 to a count first.
    this.freeBatches = Array.from({ length: opts.limits.max_in_flight_batches }, () => new Batch(opts.policy.maxBatch));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming frames and waits until every submitted batch has settled. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    if (this.inFlightBatches > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  attach(cameraId: string, ringIndex: number): void {
    const existing = this.byId.get(cameraId);
    if (existing && !existing.detached) throw new Error(`camera ${cameraId} is already attached (ring ${existing.ringIndex})`);
    const ring = this.arena.ring(ringIndex);
    for (const lane of this.lanes) {
      if (lane.ringIndex === ringIndex) throw new Error(`ring ${ringIndex} is already served for camera ${lane.cameraId}`);
    }
    const lane = new Lane(cameraId, ringIndex, ring);
    this.lanes.push(lane);
    this.byId.set(cameraId, lane);
    this.opts.policy.lanesChanged(this.lanes.length);
    this.wake();
  }

  /** Stops claiming the camera's frames; resolves when its in-flight frames are published or failed. */
  async detach(cameraId: string): Promise<void> {
    const lane = this.byId.get(cameraId);
    if (!lane || lane.detached) return;
    lane.detached = true;
    this.lanes.splice(this.lanes.indexOf(lane), 1);
    this.opts.policy.lanesChanged(this.lanes.length);
    lane.taps = [];
    if (lane.inFlight > 0) await new Promise<void>((resolve) => (lane.drained = resolve));
    if (this.byId.get(cameraId) === lane) this.byId.delete(cameraId);
  }

  /** Calls `tap` with the next frame claimed for the camera; false when the camera is unknown. */
  tapNextClaim(cameraId: string, tap: ClaimTap): boolean {
    const lane = this.byId.get(cameraId);
    if (!lane || lane.detached) return false;
    lane.taps.push(tap);
    return true;
  }

  untap(cameraId: string, tap: ClaimTap): void {
    const lane = this.byId.get(cameraId);
    if (lane) lane.taps = lane.taps.filter((t) => t !== tap);
  }

  stats(cameraId: string): CameraStats | undefined {
    return this.byId.get(cameraId)?.stats;
  }

  cameraIds(): string[] {
    return [...this.byId.keys()];
  }

  get batchesInFlight(): number {
    return this.inFlightBatches;
  }

  /** Cameras with a frame waiting to be batched. */
  waitingFrames(): number {
    let n = 0;
    for (const lane of this.lanes) if (lane.ring.hasReady()) n++;
    return n;
  }

  /** Stage problems for /health; empty when fine. */
  problems(now: number = this.clock()): string[] {
    const stallMs = this.opts.limits.inference_stall_ms;
    if (this.inFlightBatches > 0 && stallMs > 0 && now - this.lastProgressAt > stallMs) {
      const s = ((now - this.lastProgressAt) / 1000).toFixed(1);
      return [`inference stalled: ${this.inFlightBatches} batch(es) in flight, none completed for ${s} s`];
    }
    return [];
  }

  // ---- the loop ----

  private wake(): void {
    const resolve = this.kickResolve;
    this.kick = null;
    this.kickResolve = null;
    resolve?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const seq = this.arena.commitSeq();
      const waitMs = this.pump();
      if (!this.running) break;
      if (waitMs > 0) await this.sleep(seq, waitMs);
    }
  }

  /** Forms and submits at most one batch; returns how long to sleep (0 = look again now). */
  private pump(): number {
    const lanes = this.lanes;
    const n = lanes.length;
    for (let i = 0; i < n; i++) this.ready[i] = lanes[i]!.ring.hasReady() ? 1 : 0;
    const now = this.clock();
    const canDispatch = this.inFlightBatches < this.opts.limits.max_in_flight_batches;
    const take = this.opts.policy.plan(this.ready, n, now, this.order, canDispatch);
    if (take > 0) {
      this.formBatch(take, now);
      return 0;
    }
    if (!canDispatch) return IDLE_WAIT_MS; // a finished batch wakes the loop
    return Math.min(IDLE_WAIT_MS, Math.max(1, Math.ceil(this.opts.policy.nextDecisionAt() - now)));
  }

  /** Sleeps until a frame is committed after `seq`, the loop is woken, or `ms` pass. */
  private async sleep(seq: number, ms: number): Promise<void> {
    // One outstanding commit wait at a time: a pending one is still valid, as
    // it would have resolved on any commit since it started.
    this.commitWait ??= this.arena.waitForCommit(seq, IDLE_WAIT_MS).then(() => {
      this.commitWait = null;
    });
    this.kick ??= new Promise<void>((resolve) => (this.kickResolve = resolve));
    const timer = ms < IDLE_WAIT_MS ? setTimeout(() => this.wake(), ms) : undefined;
    await Promise.race([this.commitWait, this.kick]);
    if (timer) clearTimeout(timer);
  }

  private formBatch(take: number, now: number): void {
    const maxAge = this.opts.limits.max_frame_age_ms;
    // Planning only happens with a free record (fewer batches in flight than records).
    const batch = this.freeBatches.pop()!;
    for (let k = 0; k < take; k++) {
      const lane = this.lanes[this.order[k]!]!;
      this.opts.policy.served(this.order[k]!);
      const ring = lane.ring;
      const slot = ring.claimLatest();
      if (slot < 0) continue;
      const frameNo = ring.frameNo(slot);
      const capturedAt = ring.capturedAtMs(slot);
      if (lane.taps.length > 0) {
        const taps = lane.taps;
        lane.taps = [];
        for (const tap of taps) tap(ring, slot, frameNo);
      }
      if (maxAge > 0 && now - capturedAt > maxAge) {
        ring.release(slot, frameNo);
        lane.stats.dropped('stale');
        continue;
      }
      batch.add(lane, slot, frameNo, capturedAt);
    }
    if (batch.size === 0) {
      this.freeBatches.push(batch);
      return;
    }
    this.submit(batch);
  }

  private submit(batch: Batch): void {
    if (this.inFlightBatches === 0) this.lastProgressAt = this.clock();
    this.inFlightBatches++;
    this.batchesTotal++;
    this.framesSubmitted += batch.size;
    for (let i = 0; i < batch.size; i++) batch.lanes[i]!.inFlight++;
    const submittedAt = nowMs();
    batch.submittedAt = submittedAt;
    if (this.opts.dynamicBatch) {
      batch.pending = 1;
      this.runTask(batch, 0, batch.size, submittedAt);
    } else {
      batch.pending = batch.size;
      for (let i = 0; i < batch.size; i++) this.runTask(batch, i, 1, submittedAt);
    }
  }

  private runTask(batch: Batch, first: number, count: number, submittedAt: number): void {
    this.opts.runner.run(batch.task(first, count, submittedAt)).then(
      (result) => this.taskDone(batch, first, count, result, null),
      (err: unknown) => this.taskDone(batch, first, count, null, err ?? new Error('task failed')),
    );
  }

  private taskDone(batch: Batch, first: number, count: number, result: FramesResult | null, error: unknown): void {
    const now = this.clock();
    for (let i = 0; i < count; i++) {
      const k = first + i;
      const lane = batch.lanes[k] as Lane;
      const ref = batch.refs[k]!;
      const output = result?.frames[i]?.output ?? null;
      if (output === null) {
        // The worker may have died before giving the slot back; a slot that
        // already holds a newer frame is left alone (release checks frameNo).
        lane.ring.release(ref.slot, ref.frameNo);
        lane.stats.dropped('inference_error');
      } else {
        const capturedAtMs = batch.capturedAt[k]!;
        const latencyMs = now - capturedAtMs;
        lane.stats.published(latencyMs, now);
        try {
          this.opts.onFrame({ cameraId: lane.cameraId, frameNo: ref.frameNo, capturedAtMs, latencyMs, output });
        } catch {
          // Publishing is the listener's business; the batch accounting below must run regardless.
        }
      }
      lane.inFlight--;
      if (lane.inFlight === 0 && lane.drained) {
        const drained = lane.drained;
        lane.drained = null;
        drained();
      }
    }
    if (error !== null) this.errors++;
    this.opts.onTask?.(count, result?.timing ?? null, error, nowMs() - batch.submittedAt);
    batch.pending--;
    if (batch.pending > 0) return;
    batch.clear();
    this.freeBatches.push(batch);
    this.inFlightBatches--;
    this.lastProgressAt = now;
    if (this.inFlightBatches === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    this.wake();
  }
}
