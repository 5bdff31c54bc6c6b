/**
 * Which way pixels go into a model: as uint8 into a wrapped graph that does
 * its own pre-processing (wrap.ts), or as floats made by preprocessInto in
 * JavaScript when wrapping does not apply. The wrapped model is cached in the
 * model cache directory under a key made of the source model's sha256 and
 * the pre-processing it bakes in; a changed source gets a new key, and the
 * stale wrap is deleted.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { cachedSha256 } from './sha256.js';
import type { ResolvedModel } from './types.js';
import { sha256Hex, UnwrappableModelError, wrapKey, wrapWithUint8Input, type ModelPrecision } from './wrap.js';

export type PixelInput =
  | {
      kind: 'uint8';
      /** The wrapped model file. */
      modelPath: string;
      sha256: string;
      /** Name of its uint8 NHWC input. */
      inputName: string;
      precision: ModelPrecision;
      /** True when an existing wrap was reused. */
      reused: boolean;
    }
  | {
      kind: 'js';
      modelPath: string;
      /** Why the model is not wrapped (one line). */
      reason: string;
    };

interface Sidecar {
  source_sha256: string;
  wrap_key: string;
  sha256: string;
  input_name: string;
  precision: ModelPrecision;
}

export const WRAP_DIR = 'uint8';

function readSidecar(path: string): Sidecar | undefined {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as Partial<Sidecar>;
    if (typeof s.source_sha256 === 'string' && typeof s.wrap_key === 'string' && typeof s.sha256 === 'string' &&
      typeof s.input_name === 'string' && (s.precision === 'float32' || s.precision === 'float16')) {
      return s as Sidecar;
    }
  } catch {
    // Missing or unreadable: the wrap is rebuilt.
  }
  return undefined;
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * Removes wraps of the same model file with the same settings made from
 * another source (the model changed). Wraps with other settings stay: another
 * process may be using them.
 */
function removeStale(dir: string, stem: string, keep: string, key: string): void {
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`${stem}.`) || f.startsWith(keep) || !f.endsWith('.onnx.json')) continue;
    const side = readSidecar(join(dir, f));
    if (side === undefined || side.wrap_key === key) {
      rmSync(join(dir, f.slice(0, -'.json'.length)), { force: true });
      rmSync(join(dir, f), { force: true });
    }
  }
}

export interface PixelInputOptions {
  /** Directory that holds the wraps (in `uint8/`) and the remembered hashes. */
  cacheDir: string;
}

/**
 * Returns the uint8 wrap of `model` (made or reused), or the JavaScript path
 * with the reason when the model cannot be wrapped. Never throws for a model
 * it cannot wrap; a file that cannot be read at all is reported the same way
 * (the session load then says what is wrong with it).
 */
export async function preparePixelInput(model: Pick<ResolvedModel, 'spec' | 'modelPath'>, opts: PixelInputOptions): Promise<PixelInput> {
  const js = (reason: string): PixelInput => ({ kind: 'js', modelPath: model.modelPath, reason });
  const input = model.spec.input;
  let sourceSha: string;
  try {
    sourceSha = await cachedSha256(model.modelPath, opts.cacheDir);
  } catch (err) {
    return js(`cannot read ${model.modelPath}: ${(err as Error).message}`);
  }
  const key = wrapKey(input);
  const id = sha256Hex(`${sourceSha}\n${key}`).slice(0, 16);
  const dir = join(opts.cacheDir, WRAP_DIR);
  const stem = basename(model.modelPath, extname(model.modelPath));
  const wrapPath = join(dir, `${stem}.${id}.onnx`);
  const sidecarPath = `${wrapPath}.json`;

  const side = readSidecar(sidecarPath);
  if (side !== undefined && side.source_sha256 === sourceSha && side.wrap_key === key && existsSync(wrapPath)) {
    if ((await cachedSha256(wrapPath, opts.cacheDir)) === side.sha256) {
      return { kind: 'uint8', modelPath: wrapPath, sha256: side.sha256, inputName: side.input_name, precision: side.precision, reused: true };
    }
  }

  let wrapped;
  try {
    wrapped = wrapWithUint8Input(readFileSync(model.modelPath), input);
  } catch (err) {
    if (err instanceof UnwrappableModelError) return js(err.message);
    return js(`wrapping failed: ${(err as Error).message}`);
  }
  const sha256 = sha256Hex(wrapped.bytes);
  try {
    mkdirSync(dir, { recursive: true });
    writeAtomic(wrapPath, wrapped.bytes);
    const sidecar: Sidecar = { source_sha256: sourceSha, wrap_key: key, sha256, input_name: wrapped.inputName, precision: wrapped.precision };
    writeAtomic(sidecarPath, `${JSON.stringify(sidecar, null, 1)}\n`);
    removeStale(dir, stem, `${stem}.${id}.`, key);
  } catch (err) {
    return js(`cannot write the wrapped model to ${dir}: ${(err as Error).message}`);
  }
  return { kind: 'uint8', modelPath: wrapPath, sha256, inputName: wrapped.inputName, precision: wrapped.precision, reused: false };
}
