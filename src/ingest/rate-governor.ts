/**
 * The adaptive strategy's loop: once a tick, turns the cumulative frame
 * counters into rates, asks the RateController for decisions and applies them
 * to the cameras' ffmpeg. The counters come from the app (engine output +
 * ring input), so ingest needs nothing of the engine.
 */
import type { CameraManager } from './camera-manager.js';
import { RateController, type RateCamera, type RateControlSettings } from './rate-control.js';

/** Cumulative totals over all cameras since start. */
export interface FrameTotals {
  inferred: number;
  /** Frames committed to the rings. */
  offered: number;
  /** Dropped for any reason before a result. */
  dropped: number;
  /** Inference worker time spent on frames, ms, and the worker count (for the busy share). */
  engineBusyMs?: number;
  engineWorkers?: number;
}

export interface AdaptiveRatesOptions {
  cameras: CameraManager;
  totals(): FrameTotals;
  settings: RateControlSettings;
  /** Seconds; the controller's clock. */
  now?: () => number;
  tickMs?: number;
}

const ACTIVE = new Set(['streaming', 'frozen']);

export class AdaptiveRates {
  private readonly controller: RateController;
  private timer: NodeJS.Timeout | null = null;
  private last: (FrameTotals & { at: number }) | null = null;

  constructor(private readonly opts: AdaptiveRatesOptions) {
    this.controller = new RateController(opts.settings);
  }

  /** Rate changes applied so far (per camera change). */
  get changes(): number {
    return this.controller.changes;
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One observation and whatever it decides. */
  tick(): void {
    const now = (this.opts.now ?? (() => performance.now() / 1000))();
    const totals = this.opts.totals();
    const last = this.last;
    this.last = { ...totals, at: now };
    if (!last || now <= last.at) return;
    const dt = now - last.at;
    const cameras: RateCamera[] = this.opts.cameras
      .list()
      .map((h) => ({ id: h.id, configuredFps: h.configuredFps, weight: h.config.weight ?? 1, active: ACTIVE.has(h.status().state) }));
    const decisions = this.controller.update(now, cameras, {
      inferredPerS: (totals.inferred - last.inferred) / dt,
      offeredPerS: (totals.offered - last.offered) / dt,
      droppedPerS: (totals.dropped - last.dropped) / dt,
      engineBusy:
        totals.engineBusyMs !== undefined && last.engineBusyMs !== undefined && totals.engineWorkers
          ? (totals.engineBusyMs - last.engineBusyMs) / (dt * 1000 * totals.engineWorkers)
          : undefined,
    });
    for (const d of decisions) this.opts.cameras.setRate(d.id, d.fps, d.reason);
  }
}
