/**
 * Frozen-picture detection: a cheap hash over a fixed sample of each frame's
 * bytes; the same hash for long enough means the source repeats one picture.
 */

const SAMPLES = 2048;

/** FNV-1a over about SAMPLES evenly spaced bytes; allocates nothing. */
export function sampledHash(pixels: Uint8Array, length = pixels.length): number {
  const step = Math.max(1, Math.floor(length / SAMPLES));
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i += step) {
    h ^= pixels[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class FrozenDetector {
  private lastHash = -1;
  private sameSince = 0;

  /** frozenAfterMs 0 disables detection. */
  constructor(private readonly frozenAfterMs: number) {}

  /** Feeds one frame; returns whether the picture has now been identical for frozenAfterMs. */
  update(pixels: Uint8Array, length: number, nowMs: number): boolean {
    if (this.frozenAfterMs <= 0) return false;
    const h = sampledHash(pixels, length);
    if (h !== this.lastHash) {
      this.lastHash = h;
      this.sameSince = nowMs;
      return false;
    }
    return nowMs - this.sameSince >= this.frozenAfterMs;
  }

  reset(): void {
    this.lastHash = -1;
  }
}
