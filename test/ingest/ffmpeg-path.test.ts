import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOnPath, FfmpegNotFoundError, resolveFfmpegPath } from '../../src/ingest/ffmpeg-path.js';

const dir = mkdtempSync(join(tmpdir(), 'ffpath-'));
const exe = (name: string): string => {
  const p = join(dir, name);
  writeFileSync(p, '#!/bin/sh\n');
  chmodSync(p, 0o755);
  return p;
};
const configured = exe('configured-ffmpeg');
const fromEnv = exe('env-ffmpeg');
const fromStatic = exe('static-ffmpeg');
const pathDir = mkdtempSync(join(tmpdir(), 'ffbin-'));
writeFileSync(join(pathDir, 'ffmpeg'), '#!/bin/sh\n');
chmodSync(join(pathDir, 'ffmpeg'), 0o755);

describe('resolveFfmpegPath', () => {
  it('takes the configured path first, then FFMPEG_BIN', async () => {
    expect(await resolveFfmpegPath({ configured, env: { FFMPEG_BIN: fromEnv }, loadStatic: async () => fromStatic })).toBe(configured);
    expect(await resolveFfmpegPath({ env: { FFMPEG_BIN: fromEnv }, loadStatic: async () => fromStatic })).toBe(fromEnv);
  });

  it('rejects an explicit path that is not an executable file', async () => {
    await expect(resolveFfmpegPath({ configured: join(dir, 'nope') })).rejects.toThrow(/configured ffmpeg .*nope is not an executable file/);
    await expect(resolveFfmpegPath({ env: { FFMPEG_BIN: dir } })).rejects.toThrow(/FFMPEG_BIN=.* is not an executable file/);
  });

  it("uses ffmpeg-static's binary only when the file exists, else ffmpeg on PATH", async () => {
    expect(await resolveFfmpegPath({ env: { PATH: pathDir }, loadStatic: async () => fromStatic })).toBe(fromStatic);
    expect(await resolveFfmpegPath({ env: { PATH: pathDir }, loadStatic: async () => join(dir, 'absent-static') })).toBe(join(pathDir, 'ffmpeg'));
    expect(await resolveFfmpegPath({ env: { PATH: pathDir }, loadStatic: async () => null })).toBe(join(pathDir, 'ffmpeg'));
  });

  it('explains what it tried when there is none', async () => {
    const err = await resolveFfmpegPath({ env: { PATH: dir }, loadStatic: async () => join(dir, 'absent-static') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FfmpegNotFoundError);
    expect((err as Error).message).toMatch(/ffmpeg not found; tried ffmpeg-static \(.*absent-static is absent\), ffmpeg on PATH/);
  });

  it('loads the real optional ffmpeg-static module without failing, and finds the system ffmpeg', async () => {
    // Its install script is denied here, so its binary is absent: PATH wins.
    const found = await resolveFfmpegPath({ env: { PATH: '/usr/bin:/bin' } });
    expect(found).toMatch(/ffmpeg$/);
    expect(findOnPath('ffmpeg', { PATH: '/usr/bin' })).toBe('/usr/bin/ffmpeg');
  });
});
