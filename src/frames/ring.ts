/**
 * Per-camera frame rings in one SharedArrayBuffer (the arena).
 *
 * The decoder worker writes frames; the dispatcher (main thread) claims the
 * newest ready frame; an inference worker reads its pixels and releases it.
 * Each slot's state lives in an Int32Array over the same buffer and moves
 * only by Atomics.compareExchange, so no side ever blocks the other.
 * Latest frame wins: a ready frame that is overwritten or skipped for a newer
 * one is counted as dropped. Nothing here allocates per frame.
 *
 * This module imports nothing of ours: it is a data structure.
 */

export const SLOT_EMPTY = 0;
export const SLOT_WRITING = 1;
export const SLOT_READY = 2;
export const SLOT_READING = 3;

export interface FrameGeometry {
  width: number;
  height: number;
  /** Bytes per pixel; 3 for packed RGB. */
  channels: number;
}

export interface RingCounters {
  /** Frames committed by the writer. */
  written: number;
  /** Ready frames overwritten by the writer before anyone claimed them. */
  overwritten: number;
  /** Ready frames skipped by the reader because a newer one was ready. */
  superseded: number;
  /** Frames the writer discarded because every slot was in use. */
  busy: number;
}

// Ring control block (Int32 indices).
const C_WRITTEN = 0;
const C_OVERWRITTEN = 1;
const C_SUPERSEDED = 2;
const C_BUSY = 3;
const C_SOURCE_WIDTH = 4;
const C_SOURCE_HEIGHT = 5;
const C_NEXT_FRAME = 6;
const C_FIXED = 8;
// Arena header (Int32 indices): a sequence bumped on every commit, for waiters.
const A_COMMIT_SEQ = 0;
const ARENA_HEADER_BYTES = 64;

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Byte layout of one ring; identical on every thread that opens the arena. */
function ringLayout(geometry: FrameGeometry, slots: number) {
  const controlInts = C_FIXED + 2 * slots; // fixed counters, then state[slots], frameNo[slots]
  const controlBytes = align(controlInts * 4, 8);
  const timesBytes = align(slots * 8, 64);
  const frameBytes = geometry.width * geometry.height * geometry.channels;
  const slotBytes = align(frameBytes, 64);
  return { controlInts, controlBytes, timesBytes, frameBytes, slotBytes, totalBytes: controlBytes + timesBytes + slotBytes * slots };
}

export class FrameRing {
  readonly frameBytes: number;
  private readonly control: Int32Array;
  private readonly capturedAt: Float64Array;
  private readonly slotViews: Uint8Array[];
  private readonly stateBase = C_FIXED;
  private readonly frameNoBase: number;

  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    readonly geometry: FrameGeometry,
    readonly slots: number,
    private readonly arenaHeader: Int32Array,
  ) {
    const layout = ringLayout(geometry, slots);
    this.frameBytes = layout.frameBytes;
    this.control = new Int32Array(buffer, byteOffset, layout.controlInts);
    this.capturedAt = new Float64Array(buffer, byteOffset + layout.controlBytes, slots);
    const pixelsStart = byteOffset + layout.controlBytes + layout.timesBytes;
    this.slotViews = Array.from({ length: slots }, (_, i) => new Uint8Array(buffer, pixelsStart + i * layout.slotBytes, layout.frameBytes));
    this.frameNoBase = C_FIXED + slots;
  }

  /** Empties every slot and zeroes the counters (the ring's owner changed). */
  reset(): void {
    this.control.fill(0);
    this.capturedAt.fill(0);
  }

  // ---- writer side (decoder worker) ----

  /**
   * Picks the slot for the next frame: an empty one, else the oldest ready one
   * (counted as overwritten). Returns -1 when every slot is being written or read.
   */
  beginWrite(): number {
    for (let attempt = 0; attempt < 4; attempt++) {
      let target = -1;
      let targetState = SLOT_EMPTY;
      let oldest = Infinity;
      for (let i = 0; i < this.slots; i++) {
        const state = Atomics.load(this.control, this.stateBase + i);
        if (state === SLOT_EMPTY) {
          target = i;
          targetState = SLOT_EMPTY;
          break;
        }
        if (state === SLOT_READY) {
          const frameNo = Atomics.load(this.control, this.frameNoBase + i);
          if (frameNo < oldest) {
            oldest = frameNo;
            target = i;
            targetState = SLOT_READY;
          }
        }
      }
      if (target < 0) break;
      if (Atomics.compareExchange(this.control, this.stateBase + target, targetState, SLOT_WRITING) === targetState) {
        if (targetState === SLOT_READY) Atomics.add(this.control, C_OVERWRITTEN, 1);
        return target;
      }
    }
    Atomics.add(this.control, C_BUSY, 1);
    return -1;
  }

  /** The slot's pixel memory (a view made once; write the frame into it). */
  pixels(slot: number): Uint8Array {
    return this.slotViews[slot] as Uint8Array;
  }

  /** Publishes a fully written slot; returns the frame number it got. */
  commitWrite(slot: number, capturedAtMs: number): number {
    const frameNo = Atomics.add(this.control, C_NEXT_FRAME, 1) + 1;
    this.capturedAt[slot] = capturedAtMs;
    Atomics.store(this.control, this.frameNoBase + slot, frameNo);
    Atomics.store(this.control, this.stateBase + slot, SLOT_READY);
    Atomics.add(this.control, C_WRITTEN, 1);
    Atomics.add(this.arenaHeader, A_COMMIT_SEQ, 1);
    Atomics.notify(this.arenaHeader, A_COMMIT_SEQ);
    return frameNo;
  }

  /** Gives back a slot whose frame was incomplete. */
  abortWrite(slot: number): void {
    Atomics.compareExchange(this.control, this.stateBase + slot, SLOT_WRITING, SLOT_EMPTY);
  }

  setSourceSize(width: number, height: number): void {
    Atomics.store(this.control, C_SOURCE_WIDTH, width);
    Atomics.store(this.control, C_SOURCE_HEIGHT, height);
  }

  // ---- reader side (dispatcher claims, inference worker reads and releases) ----

  /**
   * Claims the newest ready frame for inference and retires older ready ones
   * (counted as superseded). Returns the slot, or -1 when nothing is ready.
   */
  claimLatest(): number {
    for (let attempt = 0; attempt < 4; attempt++) {
      let newest = -1;
      let newestNo = -1;
      for (let i = 0; i < this.slots; i++) {
        if (Atomics.load(this.control, this.stateBase + i) !== SLOT_READY) continue;
        const frameNo = Atomics.load(this.control, this.frameNoBase + i);
        if (frameNo > newestNo) {
          newestNo = frameNo;
          newest = i;
        }
      }
      if (newest < 0) return -1;
      if (Atomics.compareExchange(this.control, this.stateBase + newest, SLOT_READY, SLOT_READING) !== SLOT_READY) continue;
      for (let i = 0; i < this.slots; i++) {
        if (i === newest) continue;
        if (Atomics.load(this.control, this.frameNoBase + i) < newestNo && Atomics.compareExchange(this.control, this.stateBase + i, SLOT_READY, SLOT_EMPTY) === SLOT_READY) {
          Atomics.add(this.control, C_SUPERSEDED, 1);
        }
      }
      return newest;
    }
    return -1;
  }

  /** True when some slot holds a frame ready for inference. */
  hasReady(): boolean {
    for (let i = 0; i < this.slots; i++) if (Atomics.load(this.control, this.stateBase + i) === SLOT_READY) return true;
    return false;
  }

  frameNo(slot: number): number {
    return Atomics.load(this.control, this.frameNoBase + slot);
  }

  capturedAtMs(slot: number): number {
    return this.capturedAt[slot] as number;
  }

  /**
   * Returns a claimed slot to the writer. Checks the frame number so that a
   * late second release (say, after a worker crash) cannot free a slot that
   * already holds a newer frame. Returns whether this call released it.
   */
  release(slot: number, frameNo: number): boolean {
    if (Atomics.load(this.control, this.frameNoBase + slot) !== frameNo) return false;
    return Atomics.compareExchange(this.control, this.stateBase + slot, SLOT_READING, SLOT_EMPTY) === SLOT_READING;
  }

  slotState(slot: number): number {
    return Atomics.load(this.control, this.stateBase + slot);
  }

  sourceWidth(): number {
    return Atomics.load(this.control, C_SOURCE_WIDTH);
  }

  sourceHeight(): number {
    return Atomics.load(this.control, C_SOURCE_HEIGHT);
  }

  counters(): RingCounters {
    return {
      written: Atomics.load(this.control, C_WRITTEN),
      overwritten: Atomics.load(this.control, C_OVERWRITTEN),
      superseded: Atomics.load(this.control, C_SUPERSEDED),
      busy: Atomics.load(this.control, C_BUSY),
    };
  }
}

/** What a thread needs to open the same arena: post it once, at thread start. */
export interface FrameArenaHandle {
  /** Growable up to `rings` rings: memory is committed only for rings in use. */
  buffer: SharedArrayBuffer;
  geometry: FrameGeometry;
  slotsPerRing: number;
  /** Most rings the arena can hold. */
  rings: number;
}

/**
 * Up to `rings` rings of one geometry (the active model's input) in one
 * SharedArrayBuffer, shared with every worker once at start. The buffer
 * starts with room for the rings expected and grows in place (every thread
 * sees the new length) when a camera needs one more, up to the limit.
 */
export class FrameArena {
  private readonly header: Int32Array;
  private readonly ringList: (FrameRing | undefined)[];
  private readonly owners: (string | null)[];
  private readonly ringBytes: number;

  /** `initialRings` (default all) are committed now; the rest when first allocated. */
  static create(geometry: FrameGeometry, slotsPerRing: number, rings: number, initialRings = rings): FrameArena {
    const ringBytes = ringLayout(geometry, slotsPerRing).totalBytes;
    const bytes = (n: number): number => ARENA_HEADER_BYTES + ringBytes * n;
    const buffer = new SharedArrayBuffer(bytes(Math.min(rings, Math.max(0, initialRings))), { maxByteLength: bytes(rings) });
    return new FrameArena({ buffer, geometry, slotsPerRing, rings });
  }

  constructor(readonly handle: FrameArenaHandle) {
    const { buffer, slotsPerRing, rings, geometry } = handle;
    this.header = new Int32Array(buffer, 0, ARENA_HEADER_BYTES / 4);
    this.ringBytes = ringLayout(geometry, slotsPerRing).totalBytes;
    this.ringList = new Array<FrameRing | undefined>(rings).fill(undefined);
    this.owners = new Array<string | null>(rings).fill(null);
  }

  get geometry(): FrameGeometry {
    return this.handle.geometry;
  }

  /** Most rings the arena can hold. */
  get size(): number {
    return this.ringList.length;
  }

  /** Rings the buffer has memory for now. */
  get committed(): number {
    return Math.min(this.size, Math.floor((this.handle.buffer.byteLength - ARENA_HEADER_BYTES) / this.ringBytes));
  }

  ring(index: number): FrameRing {
    let ring = this.ringList[index];
    if (ring) return ring;
    if (!Number.isInteger(index) || index < 0 || index >= this.committed) {
      throw new RangeError(`ring ${index} does not exist (arena has ${this.committed} of at most ${this.size})`);
    }
    // Once per ring and thread: views over the grown buffer.
    ring = new FrameRing(this.handle.buffer, ARENA_HEADER_BYTES + index * this.ringBytes, this.handle.geometry, this.handle.slotsPerRing, this.header);
    this.ringList[index] = ring;
    return ring;
  }

  /** Reserves a free ring for `owner` (main thread only), growing the buffer when needed; -1 when all are taken. */
  allocate(owner: string): number {
    const index = this.owners.indexOf(null);
    if (index < 0) return -1;
    if (index >= this.committed) {
      // Grow by a quarter at least, so adding cameras one by one does not grow every time.
      const target = Math.min(this.size, Math.max(index + 1, Math.ceil(this.committed * 1.25)));
      this.handle.buffer.grow(ARENA_HEADER_BYTES + target * this.ringBytes);
    }
    this.owners[index] = owner;
    this.ring(index).reset();
    return index;
  }

  /** Frees a ring whose writer has stopped. */
  free(index: number): void {
    this.owners[index] = null;
  }

  owner(index: number): string | null {
    return this.owners[index] ?? null;
  }

  /** Increases on every commit in any ring. */
  commitSeq(): number {
    return Atomics.load(this.header, A_COMMIT_SEQ);
  }

  /**
   * Resolves when a frame is committed after `seenSeq` or after `timeoutMs`,
   * without blocking the thread.
   */
  async waitForCommit(seenSeq: number, timeoutMs: number): Promise<void> {
    const result = Atomics.waitAsync(this.header, A_COMMIT_SEQ, seenSeq, timeoutMs);
    if (result.async) await result.value;
  }
}
