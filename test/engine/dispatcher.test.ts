/**
 * Dispatcher rules with real rings and a runner the test answers by hand, so
 * "in flight" lasts exactly as long as the test wants (no timing involved).
 */
import { describe, expect, it } from 'vitest';
import { DynamicBatching } from '../../src/engine/batching.js';
import { Dispatcher, type PublishedFrame } from '../../src/engine/dispatcher.js';
import type { FramesResult, FramesTask } from '../../src/engine/protocol.js';
import { FrameArena, SLOT_READING, SLOT_READY } from '../../src/frames/ring.js';

const geometry = { width: 2, height: 2, channels: 3 };

class HandRunner {
  readonly tasks: { task: FramesTask; resolve: (r: FramesResult) => void; reject: (e: Error) => void }[] = [];
  private arrived: (() => void) | null = null;

  run(task: FramesTask): Promise<FramesResult> {
    // Tasks are reused by the dispatcher once answered: keep a copy, as a worker would receive.
    const copy = structuredClone(task);
    return new Promise((resolve, reject) => {
      this.tasks.push({ task: copy, resolve, reject });
      this.arrived?.();
    });
  }

  /** Resolves once `n` tasks have arrived in total. */
  async until(n: number): Promise<void> {
    while (this.tasks.length < n) await new Promise<void>((r) => (this.arrived = r));
  }

  answer(i: number, arena: FrameArena): void {
    const { task, resolve } = this.tasks[i]!;
    // Like the worker: give the slots back, then answer.
    for (const r of task.refs) arena.ring(r.ring).release(r.slot, r.frameNo);
    resolve({ kind: 'frames', frames: task.refs.map((r) => ({ ring: r.ring, frameNo: r.frameNo, output: { predictions: [{ label: `ring${r.ring}`, score: 1 }] } })), timing: { queueMs: 0, preMs: 0, inferMs: 0, postMs: 0 } });
  }
}

function write(arena: FrameArena, ring: number, capturedAt = Date.now()): number {
  const r = arena.ring(ring);
  const slot = r.beginWrite();
  return r.commitWrite(slot, capturedAt);
}

function setup(opts: { maxBatch?: number; inFlight?: number; dynamic?: boolean; maxAge?: number; clock?: () => number; onTask?: (size: number, heldMs: number) => void } = {}) {
  const arena = FrameArena.create(geometry, 3, 4);
  const runner = new HandRunner();
  const published: PublishedFrame[] = [];
  const dispatcher = new Dispatcher({
    arena,
    runner,
    policy: new DynamicBatching({ maxBatch: opts.maxBatch ?? 8, maxWaitMs: 0 }),
    limits: { max_in_flight_batches: opts.inFlight ?? 1, max_frame_age_ms: opts.maxAge ?? 60_000, inference_stall_ms: 5000 },
    dynamicBatch: opts.dynamic ?? true,
    onFrame: (f) => published.push(f),
    onTask: (size, _timing, _error, heldMs) => opts.onTask?.(size, heldMs),
    clock: opts.clock,
  });
  return { arena, runner, published, dispatcher };
}

describe('Dispatcher', () => {
  it('batches one frame per camera across rings and publishes each result to its camera', async () => {
    const { arena, runner, published, dispatcher } = setup();
    dispatcher.attach('a', 0);
    dispatcher.attach('b', 1);
    dispatcher.attach('c', 2);
    write(arena, 0);
    write(arena, 1);
    write(arena, 2);
    dispatcher.start();
    await runner.until(1);
    expect(runner.tasks[0]!.task.refs.map((r) => r.ring)).toEqual([0, 1, 2]);
    runner.answer(0, arena);
    await dispatcher.stop();
    expect(published.map((p) => [p.cameraId, p.output.predictions[0]!.label])).toEqual([
      ['a', 'ring0'],
      ['b', 'ring1'],
      ['c', 'ring2'],
    ]);
    expect(dispatcher.stats('b')!.snapshot().frames_out).toBe(1);
  });

  it('reports how long each task was held, from submission to answer (the busy time the adaptive strategy divides by)', async () => {
    const held: [number, number][] = [];
    const { arena, runner, dispatcher } = setup({ onTask: (size, heldMs) => held.push([size, heldMs]) });
    dispatcher.attach('a', 0);
    dispatcher.attach('b', 1);
    write(arena, 0);
    write(arena, 1);
    dispatcher.start();
    await runner.until(1);
    await new Promise((r) => setTimeout(r, 60));
    runner.answer(0, arena);
    await dispatcher.stop();
    expect(held).toHaveLength(1);
    expect(held[0]![0]).toBe(2);
    expect(held[0]![1]).toBeGreaterThanOrEqual(59);
  });

  it('claims nothing while the pool is saturated: frames stay in the ring where the newest wins', async () => {
    const { arena, runner, dispatcher } = setup({ inFlight: 1 });
    dispatcher.attach('a', 0);
    write(arena, 0);
    dispatcher.start();
    await runner.until(1);
    // While that batch is in flight, ten more frames arrive.
    for (let i = 0; i < 10; i++) write(arena, 0);
    await new Promise((r) => setImmediate(r));
    expect(runner.tasks).toHaveLength(1);
    const ring = arena.ring(0);
    const states = [0, 1, 2].map((s) => ring.slotState(s));
    expect(states.filter((s) => s === SLOT_READING)).toHaveLength(1);
    expect(states.filter((s) => s === SLOT_READY)).toHaveLength(2);
    expect(ring.counters().overwritten).toBe(8);
    expect(dispatcher.waitingFrames()).toBe(1);
    // Capacity frees: the newest frame (11) is taken, the older ready one is superseded.
    runner.answer(0, arena);
    await runner.until(2);
    expect(runner.tasks[1]!.task.refs.map((r) => r.frameNo)).toEqual([11]);
    expect(ring.counters().superseded).toBe(1);
    runner.answer(1, arena);
    await dispatcher.stop();
  });

  it('releases frames older than max_frame_age_ms uninferred and counts them stale', async () => {
    const { arena, runner, published, dispatcher } = setup({ maxAge: 1000 });
    dispatcher.attach('a', 0);
    dispatcher.attach('b', 1);
    write(arena, 0, Date.now() - 60_000);
    write(arena, 1);
    dispatcher.start();
    await runner.until(1);
    expect(runner.tasks[0]!.task.refs.map((r) => r.ring)).toEqual([1]);
    runner.answer(0, arena);
    await dispatcher.stop();
    expect(dispatcher.stats('a')!.snapshot().drops).toEqual({ stale: 1, inference_error: 0 });
    expect(arena.ring(0).slotState(0)).not.toBe(SLOT_READING);
    expect(published.map((p) => p.cameraId)).toEqual(['b']);
  });

  it('on a failed task releases the slots, counts inference_error and goes on', async () => {
    const { arena, runner, published, dispatcher } = setup();
    dispatcher.attach('a', 0);
    dispatcher.attach('b', 1);
    write(arena, 0);
    write(arena, 1);
    dispatcher.start();
    await runner.until(1);
    // The worker died without giving the slots back.
    runner.tasks[0]!.reject(new Error('worker exited with code: 70'));
    await new Promise((r) => setImmediate(r));
    for (const ring of [0, 1]) expect([0, 1, 2].map((s) => arena.ring(ring).slotState(s))).not.toContain(SLOT_READING);
    expect(dispatcher.stats('a')!.snapshot().drops.inference_error).toBe(1);
    expect(dispatcher.errors).toBe(1);
    write(arena, 0);
    await runner.until(2);
    runner.answer(1, arena);
    await dispatcher.stop();
    expect(published.map((p) => p.cameraId)).toEqual(['a']);
  });

  it('turns a batch into one task per frame for fixed-batch models', async () => {
    const { arena, runner, published, dispatcher } = setup({ dynamic: false, inFlight: 1 });
    dispatcher.attach('a', 0);
    dispatcher.attach('b', 1);
    write(arena, 0);
    write(arena, 1);
    dispatcher.start();
    await runner.until(2);
    expect(runner.tasks.map((t) => t.task.refs.length)).toEqual([1, 1]);
    expect(dispatcher.batchesInFlight).toBe(1);
    runner.answer(1, arena);
    runner.answer(0, arena);
    await dispatcher.stop();
    expect(published.map((p) => p.cameraId).sort()).toEqual(['a', 'b']);
    expect(dispatcher.batchesInFlight).toBe(0);
  });

  it('detach stops claiming at once and waits for the frames in flight', async () => {
    const { arena, runner, published, dispatcher } = setup();
    dispatcher.attach('a', 0);
    write(arena, 0);
    dispatcher.start();
    await runner.until(1);
    let detached = false;
    const done = dispatcher.detach('a').then(() => (detached = true));
    write(arena, 0);
    await new Promise((r) => setImmediate(r));
    expect(detached).toBe(false);
    runner.answer(0, arena);
    await done;
    expect(published).toHaveLength(1);
    expect(runner.tasks).toHaveLength(1);
    expect(arena.ring(0).hasReady()).toBe(true);
    await dispatcher.stop();
  });

  it('reports an inference stall when batches are in flight and none completes in time', async () => {
    let now = 1_000_000;
    const { arena, runner, dispatcher } = setup({ clock: () => now });
    dispatcher.attach('a', 0);
    write(arena, 0, now);
    dispatcher.start();
    await runner.until(1);
    expect(dispatcher.problems()).toEqual([]);
    now += 6000;
    expect(dispatcher.problems()).toEqual(['inference stalled: 1 batch(es) in flight, none completed for 6.0 s']);
    runner.answer(0, arena);
    await dispatcher.stop();
    expect(dispatcher.problems()).toEqual([]);
  });

  it('keeps its accounting when the result callback throws', async () => {
    const arena = FrameArena.create(geometry, 3, 1);
    const runner = new HandRunner();
    let calls = 0;
    const dispatcher = new Dispatcher({
      arena,
      runner,
      policy: new DynamicBatching({ maxBatch: 1, maxWaitMs: 0 }),
      limits: { max_in_flight_batches: 1, max_frame_age_ms: 60_000, inference_stall_ms: 5000 },
      dynamicBatch: true,
      onFrame: () => {
        calls++;
        throw new Error('listener bug');
      },
    });
    dispatcher.attach('a', 0);
    write(arena, 0);
    dispatcher.start();
    await runner.until(1);
    runner.answer(0, arena);
    write(arena, 0);
    await runner.until(2);
    runner.answer(1, arena);
    await dispatcher.stop();
    expect(calls).toBe(2);
    expect(dispatcher.batchesInFlight).toBe(0);
    expect(dispatcher.stats('a')!.snapshot().frames_out).toBe(2);
  });

  it('refuses a camera twice or two cameras on one ring', () => {
    const { dispatcher } = setup();
    dispatcher.attach('a', 0);
    expect(() => dispatcher.attach('a', 1)).toThrow(/already attached/);
    expect(() => dispatcher.attach('b', 0)).toThrow(/already served/);
  });
});
