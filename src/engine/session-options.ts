/**
 * onnxruntime session options used by every inference worker (and by the
 * benchmark's bare baseline, so both run the model the same way).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { ResolvedProvider } from './provider.js';

export function sessionOptions(provider: ResolvedProvider, intraOpThreads: number, deviceId = 0): InferenceSession.SessionOptions {
  return {
    executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId }] : [provider],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Idle intra-op threads sleep instead of spinning: the cores are shared
    // with ffmpeg decoders and other workers, and spinning threads starve them
    // (measured here on 2 busy cores: about 2x the images/s without spinning).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}
