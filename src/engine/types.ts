/** What the engine passes between its own parts. */

/** A frame waiting in a ring: the task carries this, never pixels. */
export interface FrameRef {
  ring: number;
  slot: number;
  frameNo: number;
}
