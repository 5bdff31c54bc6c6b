/**
 * Decoders yield the CPU to inference: every ffmpeg runs at a lower priority
 * (a higher nice value) than the service, so under overload the scheduler
 * serves the inference threads first and decoding slows instead of them.
 */
import { getPriority, setPriority } from 'node:os';

/** Makes a child `nice` steps nicer than this process (at most 19); does nothing where that is refused. */
export function setNice(pid: number, nice: number): boolean {
  if (nice <= 0) return false;
  try {
    setPriority(pid, Math.min(19, getPriority() + nice));
    return true;
  } catch {
    return false;
  }
}
