/**
 * Retention: the set of capture groups kept on local disk, oldest first,
 * and the choice of which to delete so the directory stays within its byte
 * and age limits. Pure bookkeeping; the caller deletes the files.
 */
import { groupBytes, type CaptureGroup } from './local-store.js';

export interface RetentionLimits {
  /** 0 = no byte limit. */
  maxBytes: number;
  /** 0 = no age limit. */
  maxAgeMs: number;
}

export class RetainedCaptures {
  /** Sorted by stem, which sorts by time because the stem starts with it. */
  private groups: CaptureGroup[] = [];
  private bytes = 0;

  get totalBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.groups.length;
  }

  /** Adds a group; new captures arrive almost in order, so search from the end. */
  add(group: CaptureGroup): void {
    let i = this.groups.length;
    while (i > 0 && (this.groups[i - 1] as CaptureGroup).stem > group.stem) i--;
    this.groups.splice(i, 0, group);
    this.bytes += groupBytes(group);
  }

  /** Forgets groups by stem (deleted by the uploader, for example). */
  remove(stems: ReadonlySet<string>): void {
    if (stems.size === 0) return;
    const kept: CaptureGroup[] = [];
    for (const group of this.groups) {
      if (stems.has(group.stem)) this.bytes -= groupBytes(group);
      else kept.push(group);
    }
    this.groups = kept;
  }

  /**
   * Oldest-first groups to delete: everything past the age limit, then the
   * oldest until the total fits the byte limit. Groups `canDelete` refuses
   * (not uploaded yet) are kept and do not stop newer ones from going.
   */
  select(limits: RetentionLimits, nowMs: number, canDelete: (group: CaptureGroup) => boolean): CaptureGroup[] {
    const chosen: CaptureGroup[] = [];
    let remaining = this.bytes;
    const oldestKept = limits.maxAgeMs > 0 ? nowMs - limits.maxAgeMs : -Infinity;
    for (const group of this.groups) {
      const tooOld = group.timeMs < oldestKept;
      const tooBig = limits.maxBytes > 0 && remaining > limits.maxBytes;
      if (!tooOld && !tooBig) break;
      if (!canDelete(group)) continue;
      chosen.push(group);
      remaining -= groupBytes(group);
    }
    return chosen;
  }
}
