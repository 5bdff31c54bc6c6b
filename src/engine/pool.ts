/**
 * The Piscina pool of inference workers: starts a fixed number of threads,
 * warms each session, counts workers replaced after a crash, and never lets a
 * worker error escape as an unhandled 'error' event.
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../telemetry/logger.js';
import type { FramesResult, FramesTask, ImageResult, ImageTask, WarmupResult, WorkerInit } from './protocol.js';
import { nowMs } from './protocol.js';
import { workerEntry } from '../lib/worker-entry.js';

export interface InferencePoolOptions {
  size: number;
  init: WorkerInit;
  log?: Logger;
}

export class InferencePool {
  private readonly piscina: Piscina;
  private closing = false;
  /** Workers that exited while the pool was running (Piscina starts a replacement). */
  restarts = 0;

  private constructor(piscina: Piscina) {
    this.piscina = piscina;
  }

  /** Starts the threads and waits until each has loaded the model and run it once. */
  static async create(opts: InferencePoolOptions): Promise<InferencePool> {
    const entry = workerEntry(import.meta.url, './worker');
    const piscina = new Piscina({
      ...entry,
      workerData: opts.init,
      minThreads: opts.size,
      maxThreads: opts.size,
      // Threads hold a loaded model: never reap them for idleness.
      idleTimeout: Number.POSITIVE_INFINITY,
      // The next task waits inside the worker, not on the main thread: no gap between batches.
      concurrentTasksPerWorker: 2,
    });
    const pool = new InferencePool(piscina);
    piscina.on('workerDestroy', () => {
      if (!pool.closing) pool.restarts++;
    });
    piscina.on('error', (err: unknown) => opts.log?.error({ err }, 'inference worker error'));
    try {
      const warm = Array.from({ length: opts.size }, () => piscina.run({ kind: 'warmup', submittedAt: nowMs() }) as Promise<WarmupResult>);
      const results = await Promise.all(warm);
      const first = results[0];
      const inputName = opts.init.pixelInput.kind === 'uint8' ? opts.init.pixelInput.inputName : opts.init.spec.input.name;
      if (first && !first.inputNames.includes(inputName)) {
        throw new Error(`model ${opts.init.spec.name} has no input named '${inputName}' (it has: ${first.inputNames.join(', ')})`);
      }
    } catch (err) {
      await pool.destroy();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.piscina.threads.length;
  }

  /** The worker threads (tests use them to observe or stop a thread). */
  get threads(): readonly Worker[] {
    return this.piscina.threads;
  }

  runFrames(task: FramesTask): Promise<FramesResult> {
    return this.piscina.run(task) as Promise<FramesResult>;
  }

  runImage(task: ImageTask): Promise<ImageResult> {
    // The pixels move to the worker instead of being copied.
    return this.piscina.run(task, { transferList: [task.rgb.buffer as ArrayBuffer] }) as Promise<ImageResult>;
  }

  async destroy(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.piscina.destroy();
  }
}
