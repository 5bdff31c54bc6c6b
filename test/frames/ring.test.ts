import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { workerEntry } from '../../src/lib/worker-entry.js';
import { FrameArena, SLOT_EMPTY, SLOT_READING, SLOT_READY } from '../../src/frames/ring.js';

const geometry = { width: 4, height: 2, channels: 3 };

function writeFrame(arena: FrameArena, ringIndex: number, fill: number): number {
  const ring = arena.ring(ringIndex);
  const slot = ring.beginWrite();
  expect(slot).toBeGreaterThanOrEqual(0);
  ring.pixels(slot).fill(fill);
  return ring.commitWrite(slot, 1000 + fill);
}

describe('FrameRing', () => {
  it('hands the newest ready frame to the reader and counts older ready frames as superseded', () => {
    const arena = FrameArena.create(geometry, 4, 1);
    const ring = arena.ring(0);
    writeFrame(arena, 0, 1);
    writeFrame(arena, 0, 2);
    writeFrame(arena, 0, 3);
    const slot = ring.claimLatest();
    expect(ring.pixels(slot)[0]).toBe(3);
    expect(ring.frameNo(slot)).toBe(3);
    expect(ring.capturedAtMs(slot)).toBe(1003);
    expect(ring.slotState(slot)).toBe(SLOT_READING);
    expect(ring.counters()).toEqual({ written: 3, overwritten: 0, superseded: 2, busy: 0 });
    expect(ring.claimLatest()).toBe(-1);
    expect(ring.hasReady()).toBe(false);
  });

  it('overwrites the oldest ready frame when every slot is full (latest frame wins)', () => {
    const arena = FrameArena.create(geometry, 3, 1);
    const ring = arena.ring(0);
    for (let i = 1; i <= 5; i++) writeFrame(arena, 0, i);
    expect(ring.counters().overwritten).toBe(2);
    const slot = ring.claimLatest();
    expect(ring.pixels(slot)[0]).toBe(5);
  });

  it('never writes into a slot that is being read, and reports busy when none is free', () => {
    const arena = FrameArena.create(geometry, 3, 1);
    const ring = arena.ring(0);
    const claimed: number[] = [];
    for (let i = 1; i <= 3; i++) {
      writeFrame(arena, 0, i);
      claimed.push(ring.claimLatest());
    }
    expect(new Set(claimed).size).toBe(3);
    expect(ring.beginWrite()).toBe(-1);
    expect(ring.counters().busy).toBe(1);
    for (const slot of claimed) expect(ring.pixels(slot)[0]).toBe(claimed.indexOf(slot) + 1);
  });

  it('release checks the frame number so a late second release cannot free a newer frame', () => {
    const arena = FrameArena.create(geometry, 3, 1);
    const ring = arena.ring(0);
    writeFrame(arena, 0, 7);
    const slot = ring.claimLatest();
    const frameNo = ring.frameNo(slot);
    expect(ring.release(slot, frameNo)).toBe(true);
    expect(ring.slotState(slot)).toBe(SLOT_EMPTY);
    expect(ring.release(slot, frameNo)).toBe(false);
    // The slot is reused for frame 2 and claimed; a stale release for frame 1 must not free it.
    writeFrame(arena, 0, 8);
    const again = ring.claimLatest();
    expect(ring.release(again, frameNo)).toBe(false);
    expect(ring.slotState(again)).toBe(SLOT_READING);
  });

  it('aborted writes leave no ready frame', () => {
    const arena = FrameArena.create(geometry, 3, 1);
    const ring = arena.ring(0);
    const slot = ring.beginWrite();
    ring.abortWrite(slot);
    expect(ring.claimLatest()).toBe(-1);
    expect(ring.counters().written).toBe(0);
  });

  it('allocates rings to owners and resets a ring when it changes hands', () => {
    const arena = FrameArena.create(geometry, 3, 2);
    expect(arena.allocate('a')).toBe(0);
    expect(arena.allocate('b')).toBe(1);
    expect(arena.allocate('c')).toBe(-1);
    writeFrame(arena, 0, 1);
    arena.free(0);
    expect(arena.allocate('c')).toBe(0);
    expect(arena.owner(0)).toBe('c');
    expect(arena.ring(0).counters().written).toBe(0);
    expect(arena.ring(0).slotState(0)).toBe(SLOT_EMPTY);
  });

  it('shares frames across threads through one SharedArrayBuffer and wakes an async waiter', async () => {
    const arena = FrameArena.create({ width: 64, height: 64, channels: 3 }, 4, 2);
    const seq = arena.commitSeq();
    const entry = workerEntry(import.meta.url, './ring-writer.worker');
    const worker = new Worker(entry.filename, {
      argv: entry.argv,
      workerData: { handle: arena.handle, ringIndex: 1, frames: 200 },
      execArgv: entry.execArgv,
    });
    await arena.waitForCommit(seq, 10_000);
    expect(arena.commitSeq()).toBeGreaterThan(seq);
    const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
    const seen: number[] = [];
    const ring = arena.ring(1);
    while (seen.length === 0 || seen[seen.length - 1] !== 200) {
      const slot = ring.claimLatest();
      if (slot < 0) {
        await arena.waitForCommit(arena.commitSeq(), 50);
        continue;
      }
      const pixels = ring.pixels(slot);
      const frameNo = ring.frameNo(slot);
      // Each frame is filled with its own number modulo 251: a torn frame would mix values.
      expect(pixels[0]).toBe(frameNo % 251);
      expect(pixels[pixels.length - 1]).toBe(frameNo % 251);
      seen.push(frameNo);
      ring.release(slot, frameNo);
    }
    expect(await exit).toBe(0);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    const c = ring.counters();
    expect(c.written).toBe(200);
    // Every frame was either read, or dropped for a reason that was counted.
    expect(seen.length + c.overwritten + c.superseded).toBe(200);
    expect(ring.slotState(0) === SLOT_READY || ring.slotState(0) === SLOT_EMPTY).toBe(true);
  });
});
