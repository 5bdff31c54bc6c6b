// Test writer thread: commits numbered frames into one ring of a shared arena.
import { workerData } from 'node:worker_threads';
import { FrameArena, type FrameArenaHandle } from '../../src/frames/ring.js';

const { handle, ringIndex, frames } = workerData as { handle: FrameArenaHandle; ringIndex: number; frames: number };
const ring = new FrameArena(handle).ring(ringIndex);
let committed = 0;
while (committed < frames) {
  const slot = ring.beginWrite();
  if (slot < 0) continue;
  ring.pixels(slot).fill((committed + 1) % 251);
  ring.commitWrite(slot, Date.now());
  committed++;
}
