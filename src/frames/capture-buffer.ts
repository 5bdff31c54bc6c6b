/**
 * A few capture-size frames of one camera in a SharedArrayBuffer, each tagged
 * with the ring frame number it belongs to, so the main thread can save the
 * full-resolution picture of an inferred frame. One writer (decoder worker),
 * any readers; a per-slot sequence lock lets a reader detect a torn copy.
 */

export interface CaptureBufferHandle {
  buffer: SharedArrayBuffer;
  width: number;
  height: number;
  slots: number;
}

export interface CapturedFrame {
  rgb: Uint8Array;
  width: number;
  height: number;
  frameNo: number;
}

// Per-slot Int32 header: sequence (odd while written), ring frame number
// (0 = not known yet, -1 = the model frame was dropped), output index.
const H_SEQ = 0;
const H_FRAME = 1;
const H_INDEX = 2;
const H_INTS = 4;

export class CaptureBuffer {
  readonly width: number;
  readonly height: number;
  readonly slots: number;
  readonly frameBytes: number;
  private readonly header: Int32Array;
  private readonly views: Uint8Array[];
  private writeSlot = -1;
  private nextSlot = 0;

  static create(width: number, height: number, slots = 3): CaptureBuffer {
    const frameBytes = width * height * 3;
    const buffer = new SharedArrayBuffer(slots * H_INTS * 4 + slots * frameBytes);
    return new CaptureBuffer({ buffer, width, height, slots });
  }

  constructor(readonly handle: CaptureBufferHandle) {
    this.width = handle.width;
    this.height = handle.height;
    this.slots = handle.slots;
    this.frameBytes = handle.width * handle.height * 3;
    this.header = new Int32Array(handle.buffer, 0, handle.slots * H_INTS);
    const base = handle.slots * H_INTS * 4;
    this.views = Array.from({ length: handle.slots }, (_, i) => new Uint8Array(handle.buffer, base + i * this.frameBytes, this.frameBytes));
  }

  // ---- writer (decoder worker) ----

  /** Memory for output frame `index`; overwrites the oldest slot. */
  beginWrite(index: number): Uint8Array {
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % this.slots;
    const h = slot * H_INTS;
    Atomics.add(this.header, h + H_SEQ, 1);
    Atomics.store(this.header, h + H_FRAME, 0);
    Atomics.store(this.header, h + H_INDEX, index);
    this.writeSlot = slot;
    return this.views[slot] as Uint8Array;
  }

  /** Publishes the slot; frameNo 0 when the model frame's number is not known yet (see tag). */
  commitWrite(frameNo: number): void {
    if (this.writeSlot < 0) return;
    const h = this.writeSlot * H_INTS;
    Atomics.store(this.header, h + H_FRAME, frameNo);
    Atomics.add(this.header, h + H_SEQ, 1);
    this.writeSlot = -1;
  }

  abortWrite(): void {
    if (this.writeSlot < 0) return;
    const h = this.writeSlot * H_INTS;
    Atomics.store(this.header, h + H_FRAME, -1);
    Atomics.add(this.header, h + H_SEQ, 1);
    this.writeSlot = -1;
  }

  /** The model frame for output `index` got ring frame `frameNo` (-1: dropped). */
  tag(index: number, frameNo: number): void {
    for (let s = 0; s < this.slots; s++) {
      const h = s * H_INTS;
      if (Atomics.load(this.header, h + H_INDEX) === index && Atomics.load(this.header, h + H_FRAME) === 0) {
        Atomics.compareExchange(this.header, h + H_FRAME, 0, frameNo);
      }
    }
  }

  // ---- reader (main thread) ----

  /** A copy of the frame tagged `frameNo`, else of the nearest newer one; null when neither is held. */
  read(frameNo: number): CapturedFrame | null {
    for (let attempt = 0; attempt < 3; attempt++) {
      let best = -1;
      let bestNo = Infinity;
      for (let s = 0; s < this.slots; s++) {
        const h = s * H_INTS;
        if (Atomics.load(this.header, h + H_SEQ) & 1) continue;
        const no = Atomics.load(this.header, h + H_FRAME);
        if (no >= frameNo && no > 0 && no < bestNo) {
          best = s;
          bestNo = no;
        }
      }
      if (best < 0) return null;
      const h = best * H_INTS;
      const seq = Atomics.load(this.header, h + H_SEQ);
      if (seq & 1) continue;
      const rgb = (this.views[best] as Uint8Array).slice();
      // Overwritten while copying: try again with whatever is there now.
      if (Atomics.load(this.header, h + H_SEQ) !== seq || Atomics.load(this.header, h + H_FRAME) !== bestNo) continue;
      return { rgb, width: this.width, height: this.height, frameNo: bestNo };
    }
    return null;
  }
}
