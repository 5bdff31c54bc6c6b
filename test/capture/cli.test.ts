import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, SLIDESHOW_360P, tempDir, waitUntil } from './support.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The real CLI, as `npm run capture` starts it. */
function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ReturnType<typeof spawn>; result: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/capture/cli.ts', ...args], {
    cwd: ROOT,
    // Its own process group, so a test can Ctrl-C it the way a terminal does (CLI and ffmpeg together).
    detached: true,
    env: { ...process.env, APP_CONFIG_PATH: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  const result = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, result };
}

/** Every image must decode completely; a truncated file fails here. */
async function decodeAll(dir: string, names: string[]): Promise<{ width: number; height: number; format: string }[]> {
  return Promise.all(
    names.map(async (name) => {
      const { info } = await sharp(join(dir, name), { failOn: 'warning' }).raw().toBuffer({ resolveWithObject: true });
      const meta = await sharp(join(dir, name)).metadata();
      return { width: info.width, height: info.height, format: meta.format };
    }),
  );
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeDir(d);
});

async function outputDir(): Promise<string> {
  const dir = await tempDir('cli');
  dirs.push(dir);
  return join(dir, 'raw');
}

describe('capture CLI', () => {
  it('captures 20 frames from a video file as numbered JPEGs at the source size', async () => {
    const out = await outputDir();
    const run = await startCli(['--source', SLIDESHOW_360P, '--output', out, '--max-frames', '20']).result;
    expect(run.stderr).not.toMatch(/dropped|failed/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/wrote 20 images .*frame_000001\.jpg … frame_000020\.jpg.*reached --max-frames/);
    const names = (await readdir(out)).sort();
    expect(names).toEqual(Array.from({ length: 20 }, (_, i) => `frame_${String(i + 1).padStart(6, '0')}.jpg`));
    for (const image of await decodeAll(out, names)) expect(image).toEqual({ width: 640, height: 360, format: 'jpeg' });
    // Plain progress lines when not on a terminal.
    expect(run.stderr).toMatch(/^20\/20 frames, [\d.]+ fps$/m);
  });

  it('takes a camera from the config file, resizes, samples, writes PNG, and continues the numbering', async () => {
    const out = await outputDir();
    const config = join(out, '..', 'config.yaml');
    await writeFile(config, `cameras:\n  - id: slides\n    url: ${SLIDESHOW_360P}\n    fps: 2\n`);
    const first = await startCli(['--camera', 'slides', '--config', config, '--output', out, '--max-frames', '3', '--every', '5', '--size', '320x240', '--resize', 'letterbox', '--format', 'png']).result;
    expect(first.code).toBe(0);
    const second = await startCli(['--output', out, '--max-frames', '2', '--format', 'png', '--size', '320x240'], { APP_CONFIG_PATH: config }).result;
    expect(second.code).toBe(0);
    const names = (await readdir(out)).sort();
    expect(names).toEqual(['frame_000001.png', 'frame_000002.png', 'frame_000003.png', 'frame_000004.png', 'frame_000005.png']);
    for (const image of await decodeAll(out, names)) expect(image).toEqual({ width: 320, height: 240, format: 'png' });
    // Letterbox of a 16:9 picture into 4:3 pads the bottom (like the models' letterbox) with black.
    const bottom = await sharp(join(out, 'frame_000001.png')).extract({ left: 0, top: 181, width: 320, height: 59 }).raw().toBuffer();
    const picture = await sharp(join(out, 'frame_000001.png')).extract({ left: 0, top: 0, width: 320, height: 179 }).raw().toBuffer();
    expect(bottom.every((v) => v === 0)).toBe(true);
    expect(picture.some((v) => v > 100)).toBe(true);
    // The second run stretched: no black band.
    const stretched = await sharp(join(out, 'frame_000004.png')).extract({ left: 40, top: 200, width: 240, height: 40 }).raw().toBuffer();
    expect(stretched.some((v) => v > 100)).toBe(true);
  });

  it('keeps every Nth decoded frame with --every', async () => {
    // testsrc2 changes every frame, so each sampled image can be matched to its source frame.
    const source = 'lavfi:testsrc2=size=160x120:rate=25';
    const all = await outputDir();
    const sampled = await outputDir();
    expect((await startCli(['--source', source, '--output', all, '--max-frames', '11', '--format', 'png']).result).code).toBe(0);
    expect((await startCli(['--source', source, '--output', sampled, '--max-frames', '3', '--every', '5', '--format', 'png']).result).code).toBe(0);
    const pixels = async (dir: string, n: number): Promise<Buffer> => sharp(join(dir, `frame_${String(n).padStart(6, '0')}.png`)).raw().toBuffer();
    expect((await pixels(sampled, 1)).equals(await pixels(all, 1))).toBe(true);
    expect((await pixels(sampled, 2)).equals(await pixels(all, 6))).toBe(true);
    expect((await pixels(sampled, 3)).equals(await pixels(all, 11))).toBe(true);
    expect((await pixels(sampled, 2)).equals(await pixels(all, 2))).toBe(false);
  });

  it('stops cleanly on SIGINT with only complete images on disk', async () => {
    const out = await outputDir();
    // --realtime: 25 fps, so the run is still going when interrupted.
    const { child, result } = startCli(['--source', SLIDESHOW_360P, '--output', out, '--realtime']);
    await waitUntil('some frames written', async () => (await readdir(out).catch(() => [])).filter((n) => n.endsWith('.jpg')).length >= 5, 30_000);
    // Like Ctrl-C in a terminal: the whole foreground group, ffmpeg included, gets SIGINT.
    process.kill(-(child.pid as number), 'SIGINT');
    const run = await result;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/wrote \d+ images .*; interrupted/);
    const all = (await readdir(out)).sort();
    const count = Number(/wrote (\d+) images/.exec(run.stdout)?.[1]);
    expect(count).toBeGreaterThanOrEqual(5);
    // Nothing but finished images: no temp files, consecutive numbers, each one decodes.
    expect(all).toEqual(Array.from({ length: count }, (_, i) => `frame_${String(i + 1).padStart(6, '0')}.jpg`));
    for (const image of await decodeAll(out, all)) expect(image).toEqual({ width: 640, height: 360, format: 'jpeg' });
  });

  it('rejects bad arguments with exit code 2 and the usage', async () => {
    const out = await outputDir();
    const cases: [string[], RegExp][] = [
      [['--size', '640by480', '--source', SLIDESHOW_360P], /--size "640by480" is invalid/],
      [['--source', join(out, 'missing.mp4')], /video file not found/],
      [['--bogus'], /unknown argument "--bogus"/],
    ];
    for (const [args, message] of cases) {
      const run = await startCli(['--output', out, ...args]).result;
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain('Usage: npm run capture');
    }
    // No images and no directory for runs that never started.
    await expect(readdir(out)).rejects.toThrow();
  });
});
