/**
 * Chooses the onnxruntime execution provider and the pool/thread sizes.
 *
 * CUDA is probed once per process: first whether the CUDA EP library exists
 * next to the onnxruntime-node binding (it is not shipped by default), then by
 * creating a real session with it. The choice itself is a pure function of
 * the request, the probe and the core count, so it is testable anywhere.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { EngineConfig, Provider } from '../config/schema.js';

export type ResolvedProvider = 'cpu' | 'cuda';

export interface CudaProbe {
  available: boolean;
  /** Why CUDA cannot be used (empty when available). */
  reason: string;
}

export interface ProviderChoice {
  provider: ResolvedProvider;
  poolSize: number;
  intraOpThreads: number;
  /** One line for the log: what was chosen and why. */
  reason: string;
}

export const CUDA_INSTALL_HINT =
  'install the CUDA build of onnxruntime-node with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (see Dockerfile.cuda)';

/** Raised when `provider: cuda` is configured and CUDA cannot be used. */
export class ProviderUnavailableError extends Error {
  constructor(readonly detail: string) {
    super(`engine.provider is 'cuda' but the CUDA execution provider cannot be used: ${detail}`);
    this.name = 'ProviderUnavailableError';
  }
}

/** Directory holding onnxruntime_binding.node (where provider libraries must sit). */
export function ortBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('onnxruntime-node');
  return path.resolve(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

let cudaProbe: Promise<CudaProbe> | undefined;

/**
 * Whether a CUDA session can be created for `modelPath`. Runs once per
 * process (the answer cannot change while it runs); later calls share it.
 */
export function probeCuda(modelPath: string): Promise<CudaProbe> {
  cudaProbe ??= runCudaProbe(modelPath);
  return cudaProbe;
}

async function runCudaProbe(modelPath: string): Promise<CudaProbe> {
  const backends = ort.listSupportedBackends();
  if (!backends.some((b) => b.name === 'cuda')) {
    return { available: false, reason: `this onnxruntime-node build has no CUDA backend on ${process.platform}/${process.arch}` };
  }
  const dir = ortBinaryDir();
  const lib = path.join(dir, 'libonnxruntime_providers_cuda.so');
  // Checked first: without the library onnxruntime only prints a native error.
  if (!existsSync(lib)) {
    return { available: false, reason: `CUDA EP binaries not installed (${lib} is missing); ${CUDA_INSTALL_HINT}` };
  }
  try {
    const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cuda'], logSeverityLevel: 3 });
    await session.release();
    return { available: true, reason: '' };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { available: false, reason: `creating a CUDA session failed (no GPU, driver or CUDA/cuDNN libraries?): ${message}` };
  }
}

/** Pool size and intra-op threads for a provider, unless the config fixes them. */
export function defaultSizes(
  provider: ResolvedProvider,
  cores: number,
  cfg: Pick<EngineConfig, 'pool_size' | 'intra_op_threads'>,
): { poolSize: number; intraOpThreads: number } {
  const c = Math.max(1, Math.floor(cores));
  let poolSize: number;
  let intra: number;
  if (provider === 'cuda') {
    // The GPU does the work; a second worker overlaps pre/post-processing with it.
    poolSize = c >= 4 ? 2 : 1;
    intra = Math.min(2, c);
  } else {
    // One single-threaded session per core: measured on 2 cores (bench:engine),
    // 2 workers × 1 thread beat 1 × 2 threads by 1.2× (MobileNetV2, batch 8)
    // and 2.5× (YOLOX-Nano, batch 1): onnxruntime's intra-op threads scale
    // poorly on small models, separate sessions scale with the cores.
    poolSize = c;
    intra = Math.max(1, Math.floor(c / (cfg.pool_size > 0 ? cfg.pool_size : poolSize)));
  }
  return {
    poolSize: cfg.pool_size > 0 ? cfg.pool_size : poolSize,
    intraOpThreads: cfg.intra_op_threads > 0 ? cfg.intra_op_threads : intra,
  };
}

/**
 * Largest cross-camera batch unless configured: on CPU a batch of 8 already
 * keeps a session busy; a GPU needs 32–64 images per run before its time per
 * image stops falling (measured on an H200 with MobileNetV3-Small, see README).
 */
export function defaultMaxBatch(provider: ResolvedProvider, cfg: Pick<EngineConfig, 'max_batch'>): number {
  // -1 = the provider's default; anything else is checked by the batching policy.
  if (cfg.max_batch !== -1) return cfg.max_batch;
  return provider === 'cuda' ? 32 : 8;
}

/**
 * How long an idle worker waits for a fuller batch unless configured. On CPU
 * not at all: a batch of 4 costs 2.86 ms per MobileNetV2-int8 image against
 * 3.10 ms alone (one thread), far less than a worker left idle for the batch
 * to fill (16 cameras × 25 fps: 4–10 % more inferred/s, p50 latency 30 → 5 ms
 * with 0 instead of 10). A GPU gains several times per image from a full batch.
 */
export function defaultMaxWaitMs(provider: ResolvedProvider, cfg: Pick<EngineConfig, 'max_wait_ms'>): number {
  if (cfg.max_wait_ms !== -1) return cfg.max_wait_ms;
  return provider === 'cuda' ? 10 : 0;
}

/** `engine.device_ids` ("0,1,3"; empty = GPU 0) → distinct device numbers. */
export function parseDeviceIds(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === '') return [0];
  const ids = trimmed.split(',').map((part) => {
    const t = part.trim();
    if (!/^\d{1,3}$/.test(t)) throw new RangeError(`engine.device_ids must be GPU numbers separated by commas (like "0,1"), got '${text}'`);
    return Number(t);
  });
  return [...new Set(ids)];
}

/** The pure decision: requested provider + probe result + cores → choice. */
export function chooseProvider(
  requested: Provider,
  probe: CudaProbe,
  cores: number,
  cfg: Pick<EngineConfig, 'pool_size' | 'intra_op_threads'>,
): ProviderChoice {
  let provider: ResolvedProvider;
  let reason: string;
  switch (requested) {
    case 'cpu':
      provider = 'cpu';
      reason = 'CPU execution provider (configured)';
      break;
    case 'cuda':
      if (!probe.available) throw new ProviderUnavailableError(probe.reason);
      provider = 'cuda';
      reason = 'CUDA execution provider (configured)';
      break;
    case 'auto':
      provider = probe.available ? 'cuda' : 'cpu';
      reason = probe.available ? 'CUDA execution provider (auto: a CUDA session could be created)' : `CPU execution provider (auto: ${probe.reason})`;
      break;
    default: {
      const never: never = requested;
      throw new RangeError(`unknown engine.provider ${String(never)}`);
    }
  }
  return { provider, ...defaultSizes(provider, cores, cfg), reason };
}

/** Probes only when the request could use CUDA, then decides. */
export async function resolveProvider(
  cfg: Pick<EngineConfig, 'provider' | 'pool_size' | 'intra_op_threads'>,
  modelPath: string,
  cores: number = os.availableParallelism(),
): Promise<ProviderChoice> {
  const probe: CudaProbe = cfg.provider === 'cpu' ? { available: false, reason: 'not probed' } : await probeCuda(modelPath);
  return chooseProvider(cfg.provider, probe, cores, cfg);
}
