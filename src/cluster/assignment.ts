/**
 * Which instance should run which camera: weighted rendezvous (highest
 * random weight) hashing, capped by each instance's declared capacity.
 * Pure and deterministic, so every instance computes the same answer from the
 * same membership; a join or leave moves only the cameras that must move.
 */
import { createHash } from 'node:crypto';

export interface Member {
  id: string;
  /** Cameras it may own; 0 = none. */
  capacity: number;
}

const TWO_POW_52 = 2 ** 52;

/** Weighted HRW score: -w / ln(u), u uniform in (0, 1) from a hash of the pair. */
export function rendezvousScore(cameraId: string, member: Member): number {
  const digest = createHash('sha1').update(cameraId).update('\0').update(member.id).digest();
  const bits = digest.readUIntBE(0, 6) * 16 + (digest[6] as number >> 4); // 52 bits
  const u = (bits + 0.5) / TWO_POW_52;
  return -member.capacity / Math.log(u);
}

/**
 * camera id → member id. Cameras are placed in id order on their highest
 * scoring member with room left; a camera with no room anywhere is absent.
 */
export function assignCameras(cameraIds: readonly string[], members: readonly Member[]): Map<string, string> {
  const load = new Map<string, number>();
  const usable = members.filter((m) => m.capacity > 0);
  const out = new Map<string, string>();
  for (const camera of [...cameraIds].sort()) {
    let best: Member | undefined;
    let bestScore = -Infinity;
    for (const member of usable) {
      if ((load.get(member.id) ?? 0) >= member.capacity) continue;
      const score = rendezvousScore(camera, member);
      if (score > bestScore || (score === bestScore && best !== undefined && member.id < best.id)) {
        best = member;
        bestScore = score;
      }
    }
    if (!best) continue;
    out.set(camera, best.id);
    load.set(best.id, (load.get(best.id) ?? 0) + 1);
  }
  return out;
}
