/**
 * Adaptive sampling rates: gives each camera its weighted fair share of what
 * the engine measurably infers, so that an overloaded box stops decoding and
 * scaling frames it would only drop. Pure: the caller feeds one observation
 * per tick with its own clock (tests drive it), and applies the decisions.
 *
 * Hysteresis: rates change only after overload (or spare capacity) has lasted
 * `sustain_s`, and at most once per `min_change_interval_s`, so a camera's
 * ffmpeg is not restarted in a storm.
 *
 * A cut must pay for itself: when the engine infers clearly less after a cut
 * than it did before, or than the rates it handed out, while the drops go
 * on, the drops were not the engine's (decoders behind on a decode-bound
 * machine, frames gone stale) and a lower rate only removed frames. The cut
 * is then undone and no other is made for CUT_HOLD_INTERVALS change
 * intervals; without this, each cut lowered the measured capacity and the
 * next cut followed it down (128 cameras × 5 fps on 2 cores: 0.3 fps each
 * and under 1 inferred/s).
 */
import { defaultConfig, type RateControlConfig } from '../config/schema.js';
import type { RateReason } from '../contracts/camera.js';

export type RateControlSettings = RateControlConfig;

export const DEFAULT_RATE_CONTROL: RateControlSettings = defaultConfig().streams.rate_control;

export interface RateCamera {
  id: string;
  /** What the configuration asks for (fps). */
  configuredFps: number;
  /** Relative share under overload (default 1). */
  weight: number;
  /** False while the camera delivers nothing (reconnecting, ended): it keeps its rate and takes no share. */
  active?: boolean;
}

export interface RateObservation {
  /** Frames inferred per second over the last tick (the engine's measured throughput). */
  inferredPerS: number;
  /** Frames that reached the engine per second (committed to the rings). */
  offeredPerS: number;
  /** Frames dropped per second for any reason (overwritten, superseded, busy, stale). */
  droppedPerS: number;
  /** Share of the inference workers' time spent on frames (0..1), when known. */
  engineBusy?: number;
}

export type { RateReason };

export interface RateDecision {
  id: string;
  fps: number;
  reason: RateReason;
}

/**
 * Weighted max-min fair split of `budget` fps: every camera gets
 * weight × level, capped at what it asks for; the level is raised until the
 * budget is spent (water-filling).
 */
export function fairShares(cameras: readonly RateCamera[], budget: number, minFps = 0): Map<string, number> {
  const shares = new Map<string, number>();
  let open = cameras.filter((c) => c.configuredFps > 0);
  let left = Math.max(0, budget);
  while (open.length > 0) {
    const weights = open.reduce((sum, c) => sum + Math.max(c.weight, 1e-6), 0);
    const level = left / weights;
    const capped = open.filter((c) => c.configuredFps <= Math.max(c.weight, 1e-6) * level);
    if (capped.length === 0) {
      for (const c of open) shares.set(c.id, Math.max(minFps, Math.max(c.weight, 1e-6) * level));
      break;
    }
    for (const c of capped) {
      shares.set(c.id, c.configuredFps);
      left -= c.configuredFps;
    }
    open = open.filter((c) => !capped.includes(c));
  }
  for (const c of cameras) if (!shares.has(c.id)) shares.set(c.id, c.configuredFps);
  return shares;
}

/** Frames/s the engine would infer with its workers busy all the time (what it did, when their busy share is unknown). */
function capacityOf(o: RateObservation): number {
  const inferred = Math.max(0, o.inferredPerS);
  return o.engineBusy !== undefined && o.engineBusy >= MIN_BUSY_TO_SCALE ? inferred / Math.min(1, o.engineBusy) : inferred;
}
/** Below this busy share a tick says too little about capacity to scale it up. */
const MIN_BUSY_TO_SCALE = 0.2;

/** A cut that loses more than this share of inferred/s is undone. */
const CUT_LOSS_TOLERANCE = 0.1;
/** After an undone cut, no cut for this many min_change_interval_s. */
const CUT_HOLD_INTERVALS = 6;

/** Two decimals are plenty for an fps filter and keep tiny changes from restarting ffmpeg. */
const roundFps = (fps: number): number => Math.max(0.01, Math.round(fps * 100) / 100);

/** A cut: the inferred/s it should keep (what the engine did before, at most what the cut handed out) and each changed camera's decision before it. */
interface Cut {
  keep: number;
  before: Map<string, RateDecision | undefined>;
}

export class RateController {
  private readonly settings: RateControlSettings;
  private readonly effective = new Map<string, RateDecision>();
  /** Observations since the last change (or start), oldest first. */
  private readonly window: (RateObservation & { at: number })[] = [];
  private since: number | null = null;
  private lastChangeAt = Number.NEGATIVE_INFINITY;
  /** The last cut, until it is judged (or rates are raised). */
  private lastCut: Cut | null = null;
  private noCutUntil = Number.NEGATIVE_INFINITY;
  /** Rate changes decided so far, per camera change. */
  changes = 0;
  /** Cuts undone because inferred/s fell after them. */
  undoneCuts = 0;

  constructor(settings: Partial<RateControlSettings> = {}) {
    this.settings = { ...DEFAULT_RATE_CONTROL, ...settings };
  }

  /** The rate currently decided for a camera (its configured rate until overload). */
  rateOf(camera: RateCamera): RateDecision {
    return this.effective.get(camera.id) ?? { id: camera.id, fps: camera.configuredFps, reason: 'configured' };
  }

  /** Forgets cameras that are gone. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.effective.keys()) if (!ids.has(id)) this.effective.delete(id);
  }

  /**
   * One observation at `nowS` (seconds, any origin). Returns the cameras whose
   * rate changed (empty most of the time). Overload and spare capacity are
   * judged on the totals of the last sustain_s seconds, not on single ticks:
   * drops come in bursts (a batch forms, a ring is superseded), so one quiet
   * tick must not reset a sustained overload.
   */
  update(nowS: number, cameras: readonly RateCamera[], seen: RateObservation): RateDecision[] {
    const s = this.settings;
    this.retain(new Set(cameras.map((c) => c.id)));
    this.since ??= nowS;
    this.window.push({ ...seen, at: nowS });
    while (this.window.length > 0 && (this.window[0] as { at: number }).at <= nowS - s.sustain_s) this.window.shift();
    // The window must cover sustain_s since the last change (or start), and the interval must have passed.
    if (nowS - this.since < s.sustain_s || nowS - this.lastChangeAt < s.min_change_interval_s) return [];

    const n = this.window.length;
    const offered = this.window.reduce((sum, o) => sum + Math.max(0, o.offeredPerS), 0) / n;
    const dropped = this.window.reduce((sum, o) => sum + Math.max(0, o.droppedPerS), 0) / n;
    const inferred = this.window.reduce((sum, o) => sum + Math.max(0, o.inferredPerS), 0) / n;
    const busyTicks = this.window.filter((o) => o.engineBusy !== undefined);
    const busy = busyTicks.length > 0 ? busyTicks.reduce((sum, o) => sum + (o.engineBusy as number), 0) / busyTicks.length : 0;
    const dropShare = offered > 0 ? dropped / offered : 0;
    const throttled = cameras.some((c) => this.rateOf(c).fps < c.configuredFps);
    // Sustained: over the window as a whole, and in at least half of its ticks (one burst is not overload).
    const over = this.window.filter((o) => o.offeredPerS > 0 && o.droppedPerS / o.offeredPerS > s.overload_drop_share);
    const overTicks = over.length;

    const overloaded = offered > 0 && dropShare > s.overload_drop_share && overTicks * 2 >= n;
    const cut = this.lastCut;
    if (overloaded && cut !== null && inferred < cut.keep * (1 - CUT_LOSS_TOLERANCE)) return this.undo(cut, nowS, cameras);
    if (overloaded && nowS < this.noCutUntil) return [];

    let budget: number;
    let reason: RateReason;
    if (overloaded) {
      // What the engine does while saturated is its capacity: per second of busy workers, when known, so that
      // seconds in which it idled (cameras restarting after a change, a slow start) do not read as lost capacity.
      budget = (over.reduce((sum, o) => sum + capacityOf(o), 0) / overTicks) * s.target_utilization;
      reason = 'overload';
    } else if (throttled && dropShare < s.overload_drop_share / 5 && busy < s.spare_utilization) {
      // No drops alone is not spare capacity (the rates were set just under it): the workers must idle too.
      const current = cameras.reduce((sum, c) => sum + this.rateOf(c).fps, 0);
      budget = Math.max(current, inferred) * s.raise_factor;
      reason = 'recovering';
    } else {
      return [];
    }

    const active = cameras.filter((c) => c.active !== false);
    const shares = fairShares(active, budget, s.min_fps);
    const changed: RateDecision[] = [];
    const before = new Map<string, RateDecision | undefined>();
    for (const camera of active) {
      const share = roundFps(Math.min(camera.configuredFps, shares.get(camera.id) ?? camera.configuredFps));
      const current = this.rateOf(camera);
      const next: RateDecision = { id: camera.id, fps: share, reason: share >= camera.configuredFps ? 'configured' : reason };
      if (next.fps === current.fps) continue;
      // Never raise while overloaded, never lower while recovering.
      if (reason === 'overload' ? next.fps > current.fps : next.fps < current.fps) continue;
      before.set(camera.id, this.effective.get(camera.id));
      this.effective.set(camera.id, next);
      changed.push(next);
    }
    if (changed.length > 0) {
      this.lastCut = reason === 'overload' ? { keep: Math.min(inferred, budget), before } : null;
      this.applied(nowS, changed.length);
    }
    return changed;
  }

  /** Puts the cameras of a cut back at their rates before it, and holds off cutting. */
  private undo(cut: Cut, nowS: number, cameras: readonly RateCamera[]): RateDecision[] {
    this.lastCut = null;
    this.undoneCuts++;
    this.noCutUntil = nowS + CUT_HOLD_INTERVALS * this.settings.min_change_interval_s;
    const changed: RateDecision[] = [];
    for (const camera of cameras) {
      if (!cut.before.has(camera.id)) continue;
      const previous = cut.before.get(camera.id);
      if (previous === undefined) this.effective.delete(camera.id);
      else this.effective.set(camera.id, previous);
      changed.push(this.rateOf(camera));
    }
    if (changed.length > 0) this.applied(nowS, changed.length);
    return changed;
  }

  private applied(nowS: number, count: number): void {
    this.lastChangeAt = nowS;
    this.changes += count;
    // Judge the new rates on what they do, not on what came before.
    this.since = nowS;
    this.window.length = 0;
  }
}
