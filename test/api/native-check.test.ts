import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { assertNativeUws, loadNativeUws, nativeProblem, UwsNativeError } from '../../src/api/native-check.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

describe('native uWebSockets.js check', () => {
  it('accepts the native build that loads on this Node', () => {
    const uws = loadNativeUws({});
    expect(typeof uws.App).toBe('function');
    expect(nativeProblem(uws as unknown as Record<string, unknown>, {})).toBeNull();
  });

  it('rejects the package\'s pure-JS fallback, naming the Node ABI', () => {
    const fallback = require('uWebSockets.js/dist/index.js') as Record<string, unknown>;
    expect(typeof fallback.App).toBe('function');
    const problem = nativeProblem(fallback, {});
    expect(problem).toContain('fallback');
    expect(problem).toContain(`ABI ${process.versions.modules}`);
    expect(problem).toContain(`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  });

  it('refuses UWS_USE_FALLBACK before loading anything', () => {
    for (const value of ['1', 'true', 'TRUE']) {
      expect(() => assertNativeUws({ UWS_USE_FALLBACK: value })).toThrow(UwsNativeError);
      expect(() => assertNativeUws({ UWS_USE_FALLBACK: value })).toThrow(/UWS_USE_FALLBACK/);
    }
    expect(() => assertNativeUws({ UWS_USE_FALLBACK: '0' })).not.toThrow();
  });

  it('makes start-up fail in a real process with UWS_USE_FALLBACK set', async () => {
    const script = "import('./src/api/native-check.ts').then((m) => { m.assertNativeUws(); console.log('native ok'); })";
    const ok = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: process.cwd(), env: { ...process.env, UWS_USE_FALLBACK: '' } });
    expect(ok.stdout).toContain('native ok');
    const failed = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: process.cwd(), env: { ...process.env, UWS_USE_FALLBACK: '1' } }).then(
      () => null,
      (err: { code: number; stderr: string; stdout: string }) => err,
    );
    expect(failed).not.toBeNull();
    expect(failed!.code).not.toBe(0);
    expect(failed!.stderr).toContain('UWS_USE_FALLBACK is set');
    // The fallback never ran (it announces itself on stdout when loaded).
    expect(failed!.stdout).not.toContain('fallback implementation');
  });
});
