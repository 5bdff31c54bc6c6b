import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseProvider, defaultSizes, ortBinaryDir, probeCuda, ProviderUnavailableError, resolveProvider } from '../../src/engine/provider.js';
import { loadModel } from './helpers.js';

const sizes = { pool_size: 0, intra_op_threads: 0 };
const noCuda = { available: false, reason: 'CUDA EP binaries not installed' };
const cuda = { available: true, reason: '' };

describe('provider choice', () => {
  it('auto takes CUDA when a CUDA session can be made, else CPU with the reason', () => {
    expect(chooseProvider('auto', cuda, 8, sizes).provider).toBe('cuda');
    const cpu = chooseProvider('auto', noCuda, 8, sizes);
    expect(cpu.provider).toBe('cpu');
    expect(cpu.reason).toContain('CUDA EP binaries not installed');
  });

  it('cuda without CUDA fails with the cause; cpu never needs it', () => {
    expect(() => chooseProvider('cuda', noCuda, 8, sizes)).toThrow(ProviderUnavailableError);
    expect(() => chooseProvider('cuda', noCuda, 8, sizes)).toThrow(/CUDA EP binaries not installed/);
    expect(chooseProvider('cpu', cuda, 8, sizes).provider).toBe('cpu');
  });

  it('derives pool size and intra-op threads from the cores unless configured', () => {
    expect(defaultSizes('cpu', 2, sizes)).toEqual({ poolSize: 2, intraOpThreads: 1 });
    expect(defaultSizes('cpu', 1, sizes)).toEqual({ poolSize: 1, intraOpThreads: 1 });
    expect(defaultSizes('cpu', 16, sizes)).toEqual({ poolSize: 16, intraOpThreads: 1 });
    expect(defaultSizes('cpu', 16, { pool_size: 2, intra_op_threads: 0 })).toEqual({ poolSize: 2, intraOpThreads: 8 });
    expect(defaultSizes('cpu', 16, { pool_size: 3, intra_op_threads: 5 })).toEqual({ poolSize: 3, intraOpThreads: 5 });
    expect(defaultSizes('cuda', 16, sizes)).toEqual({ poolSize: 2, intraOpThreads: 2 });
    expect(defaultSizes('cuda', 2, sizes)).toEqual({ poolSize: 1, intraOpThreads: 2 });
  });
});

describe('CUDA probe with the installed onnxruntime-node', () => {
  it('matches what is installed: auto falls back to CPU and cuda names the missing EP, or both use CUDA', async () => {
    const model = await loadModel('mobilenet_v2_int8');
    const probe = await probeCuda(model.modelPath);
    const cudaLib = path.join(ortBinaryDir(), 'libonnxruntime_providers_cuda.so');
    if (!existsSync(cudaLib)) {
      // This machine: onnxruntime-node installed with onnxruntime-node-install=skip.
      expect(probe.available).toBe(false);
      expect(probe.reason).toContain('CUDA EP binaries not installed');
      const auto = await resolveProvider({ provider: 'auto', ...sizes }, model.modelPath, 2);
      expect(auto.provider).toBe('cpu');
      expect(auto.reason).toMatch(/CPU execution provider \(auto: CUDA EP binaries not installed/);
      const err = await resolveProvider({ provider: 'cuda', ...sizes }, model.modelPath, 2).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect((err as Error).message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    } else if (probe.available) {
      expect((await resolveProvider({ provider: 'auto', ...sizes }, model.modelPath, 2)).provider).toBe('cuda');
    } else {
      expect(probe.reason).toMatch(/creating a CUDA session failed/);
      expect((await resolveProvider({ provider: 'auto', ...sizes }, model.modelPath, 2)).provider).toBe('cpu');
    }
  });
});
