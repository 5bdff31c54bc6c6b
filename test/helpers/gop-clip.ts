/**
 * Small H.264 clips with a known keyframe spacing, made with ffmpeg on the
 * fly (cached per process in a temporary directory): a fixed GOP, no scene-cut
 * keyframes, no B-frames.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'gop-clips-'));

export function gopClip(opts: { gopFrames: number; seconds: number; fps?: number; size?: string }): string {
  const fps = opts.fps ?? 25;
  const size = opts.size ?? '320x240';
  const out = join(dir, `gop${opts.gopFrames}-${opts.seconds}s-${fps}fps-${size}.mp4`);
  if (existsSync(out)) return out;
  const res = spawnSync('ffmpeg', [
    '-hide_banner', '-nostdin', '-v', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}:duration=${opts.seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(opts.gopFrames), '-keyint_min', String(opts.gopFrames),
    '-sc_threshold', '0', '-bf', '0', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-y', out,
  ], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`ffmpeg could not make a GOP clip: ${res.stderr}`);
  return out;
}
