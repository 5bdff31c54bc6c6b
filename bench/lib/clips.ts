/**
 * Held-out benchmark clips: 720p H.264 at 25 fps made from the COCO slideshow
 * with temporal noise (so every frame is coded like a real camera's, not a
 * still picture), a fixed keyframe spacing and no scene-cut keyframes.
 * Cached in .cache/bench.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath } from '../../test/helpers/fixtures.js';
import { PROJECT_ROOT } from '../../test/helpers/service.js';

export async function heldOutClip(gopFrames: number, seconds = 20): Promise<string> {
  const dir = join(PROJECT_ROOT, '.cache', 'bench');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `heldout-720p25-gop${gopFrames}-${seconds}s.mp4`);
  if (existsSync(out)) return out;
  const source = await fixturePath('media', 'coco_slideshow_720p.mp4');
  const res = spawnSync('ffmpeg', [
    '-hide_banner', '-nostdin', '-v', 'error', '-i', source, '-t', String(seconds),
    '-vf', 'noise=alls=6:allf=t,format=yuv420p', '-r', '25',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '26', '-g', String(gopFrames), '-keyint_min', String(gopFrames),
    '-sc_threshold', '0', '-bf', '0', '-an', '-movflags', '+faststart', '-y', out,
  ], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`could not make the held-out clip: ${res.stderr}`);
  return out;
}
