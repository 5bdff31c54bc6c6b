/**
 * Why a frame was not turned into a result. One list, used wherever a reason
 * is counted, exported or shown, so a new reason cannot be half-added.
 */

/** Counted by the frame ring (latest frame wins). */
export const RING_DROP_REASONS = ['overwritten', 'superseded', 'busy'] as const;
/** Decided by the engine after a frame was claimed. */
export const ENGINE_DROP_REASONS = ['stale', 'inference_error'] as const;
export const DROP_REASONS = [...RING_DROP_REASONS, ...ENGINE_DROP_REASONS] as const;

export type RingDropReason = (typeof RING_DROP_REASONS)[number];
export type EngineDropReason = (typeof ENGINE_DROP_REASONS)[number];
export type DropReason = (typeof DROP_REASONS)[number];
