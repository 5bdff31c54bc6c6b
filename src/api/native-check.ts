/**
 * The uWebSockets.js package silently falls back to a slow pure-JS server
 * when no binary matches the Node ABI (or when UWS_USE_FALLBACK is set).
 * The service must run on the native build, so start-up fails loudly instead.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

/** Exports only the native binary has; the JS fallback lacks them. */
const NATIVE_ONLY = ['SSLApp', 'getParts', 'getString'] as const;
const FALLBACK_FLAG = /^(true|1)$/i;

export class UwsNativeError extends Error {}

function describeAbi(): string {
  return `Node ${process.version} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`;
}

/** Why `mod` is not the native uWS build, or null when it is. */
export function nativeProblem(mod: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string | null {
  if (FALLBACK_FLAG.test(env.UWS_USE_FALLBACK ?? '')) {
    return 'UWS_USE_FALLBACK is set: the pure-JS uWebSockets.js fallback is not supported; unset it';
  }
  const missing = NATIVE_ONLY.filter((name) => typeof mod[name] !== 'function');
  if (missing.length > 0) {
    return (
      `uWebSockets.js loaded its pure-JS fallback, not the native binary (missing ${missing.join(', ')}): ` +
      `no uws_${process.platform}_${process.arch}_${process.versions.modules}.node for ${describeAbi()}; ` +
      'use a Node version the installed uWebSockets.js ships a binary for'
    );
  }
  return null;
}

let loaded: UwsModule | undefined;

/**
 * Loads uWebSockets.js and throws UwsNativeError unless it is the native
 * build. The env flag is checked before loading so the fallback never runs.
 */
export function loadNativeUws(env: NodeJS.ProcessEnv = process.env): UwsModule {
  if (FALLBACK_FLAG.test(env.UWS_USE_FALLBACK ?? '')) throw new UwsNativeError(nativeProblem({}, env) ?? '');
  if (loaded) return loaded;
  const mod = createRequire(import.meta.url)('uWebSockets.js') as UwsModule;
  const problem = nativeProblem(mod as unknown as Record<string, unknown>, env);
  if (problem !== null) throw new UwsNativeError(problem);
  loaded = mod;
  return mod;
}

/** Start-up guard: throws UwsNativeError with a message naming the Node ABI. */
export function assertNativeUws(env: NodeJS.ProcessEnv = process.env): void {
  loadNativeUws(env);
}
