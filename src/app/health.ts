/**
 * Health as three questions, for three audiences:
 * - live (GET /health/live): the process answers HTTP. A failing liveness
 *   check restarts the container, so nothing else goes in it.
 * - ready (GET /health/ready): this instance does its job. 503 with the
 *   problems while inference makes no progress, no camera could ever start,
 *   or the model file is gone (`not_ready`), or while the cluster's Redis is
 *   unreachable (`degraded`); load balancers and ECS take it out of service.
 * - health (GET /health): the operator's overview, `degraded` with every
 *   stage problem (a stalled camera included), always 200.
 */
import { existsSync } from 'node:fs';
import type { HealthInfo, LiveInfo, ReadyInfo } from '../api/deps.js';
import type { CameraStatus } from '../contracts/camera.js';

/** Result delivery failures this recent count as a problem. */
const DELIVERY_PROBLEM_WINDOW_MS = 60_000;

export interface HealthSources {
  model: { name: string; task: string; path: string };
  provider(): string;
  /** Inference-stage problems (stalled batches, no workers). */
  engineProblems(): string[];
  cameras(): CameraStatus[];
  /** Cameras that could not even be added at start-up, with why. */
  startFailures(): ReadonlyMap<string, string>;
  delivery(): { listenerErrors: number; lastListenerErrorAt: number };
  /**
   * Problems of the shared state this instance depends on (cluster mode:
   * Redis unreachable). The instance still runs what it holds, so readiness
   * says `degraded` (503, with the reason) rather than `not_ready`.
   */
  stageProblems?: () => string[];
  version: string;
  startedAt: number;
  now?: () => number;
}

export class HealthMonitor {
  private readonly now: () => number;

  constructor(private readonly sources: HealthSources) {
    this.now = sources.now ?? Date.now;
  }

  private uptimeS(): number {
    return Math.round((this.now() - this.sources.startedAt) / 100) / 10;
  }

  live(): LiveInfo {
    return { status: 'live', uptime_s: this.uptimeS(), version: this.sources.version };
  }

  ready(): ReadyInfo {
    const problems = [...this.sources.engineProblems()];
    if (!existsSync(this.sources.model.path)) problems.push(`model ${this.sources.model.name}: file ${this.sources.model.path} is missing`);
    const cameras = this.sources.cameras();
    const failures = this.sources.startFailures();
    // A camera still connecting for the first time may yet start; one that streamed once is working or recovering.
    const neverStarted = cameras.filter((c) => c.frames_in === 0 && c.state !== 'connecting');
    if (cameras.length + failures.size > 0 && neverStarted.length === cameras.length) {
      const why = [...neverStarted.map((c) => `${c.id} ${c.state}${c.last_error ? `: ${c.last_error}` : ''}`), ...[...failures].map(([id, err]) => `${id}: ${err}`)];
      problems.push(`no camera could start (${why.join('; ')})`);
    }
    const shared = this.sources.stageProblems?.() ?? [];
    const status = problems.length > 0 ? 'not_ready' : shared.length > 0 ? 'degraded' : 'ready';
    return { status, problems: [...problems, ...shared] };
  }

  health(): HealthInfo {
    // Each stage reports progress on its own: inference (engine), decoding
    // (camera states) and delivery (subscribers of the hub).
    const problems = [...this.sources.engineProblems()];
    for (const { id, state, last_error } of this.sources.cameras()) {
      if (state === 'stalled' || state === 'error') problems.push(`camera ${id} ${state}${last_error ? `: ${last_error}` : ''}`);
    }
    const delivery = this.sources.delivery();
    if (this.now() - delivery.lastListenerErrorAt < DELIVERY_PROBLEM_WINDOW_MS) problems.push(`result delivery failing (${delivery.listenerErrors} subscriber errors)`);
    problems.push(...(this.sources.stageProblems?.() ?? []));
    return {
      status: problems.length === 0 ? 'ok' : 'degraded',
      model: this.sources.model.name,
      task: this.sources.model.task,
      provider: this.sources.provider(),
      uptime_s: this.uptimeS(),
      cameras: this.sources.cameras().length,
      version: this.sources.version,
      problems,
    };
  }
}
