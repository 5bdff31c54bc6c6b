import { describe, expect, it } from 'vitest';
import { parseCaptureArgs, UsageError } from '../../src/capture/cli-args.js';
import { Progress } from '../../src/capture/progress.js';

describe('capture CLI arguments', () => {
  it('has defaults that capture the source as it is', () => {
    expect(parseCaptureArgs([])).toMatchObject({ output: 'data/raw', maxFrames: 0, every: 1, fps: 0, size: null, format: 'jpg', quality: 90, realtime: false });
  });

  it('reads every option, with spaces or =', () => {
    const opts = parseCaptureArgs(['--output=out', '--max-frames', '200', '--source', 'rtsp://cam/live', '--fps', '2.5', '--size', '640x480', '--resize', 'center_crop', '--quality=75', '--realtime']);
    expect(opts).toMatchObject({ output: 'out', maxFrames: 200, source: 'rtsp://cam/live', fps: 2.5, size: { width: 640, height: 480 }, resize: 'center_crop', quality: 75, realtime: true });
    expect(parseCaptureArgs(['--camera', 'door', '--config', 'c.yaml', '--every', '10', '--format', 'png', '--size', 'original'])).toMatchObject({ camera: 'door', config: 'c.yaml', every: 10, format: 'png', size: null });
  });

  it.each([
    [['--max-frames', '0'], /--max-frames "0" is invalid/],
    [['--max-frames', '1.5'], /--max-frames "1.5" is invalid/],
    [['--every', '-2'], /--every "-2" is invalid/],
    [['--fps', '0'], /--fps "0" is invalid/],
    [['--size', '640x'], /--size "640x" is invalid/],
    [['--size', '1x1'], /--size "1x1" is invalid/],
    [['--format', 'gif'], /--format "gif" is invalid/],
    [['--quality', '101'], /--quality "101" is invalid/],
    [['--output'], /--output needs a value/],
    [['--output', '--max-frames', '3'], /--output needs a value/],
    [['--source', 'a', '--camera', 'b'], /cannot be used together/],
    [['--every', '2', '--fps', '5'], /--every and --fps/],
    [['--resize', 'letterbox'], /only applies with --size/],
    [['--format', 'png', '--quality', '50'], /only applies to --format jpg/],
    [['--every', '2', '--every', '3'], /given twice/],
    [['frames'], /unknown argument "frames"/],
  ])('rejects %j', (args, message) => {
    expect(() => parseCaptureArgs(args)).toThrow(UsageError);
    expect(() => parseCaptureArgs(args)).toThrow(message);
  });

  it('lets --help through whatever else is given', () => {
    expect(parseCaptureArgs(['--help', '--source', 'a', '--camera', 'b']).help).toBe(true);
  });
});

describe('capture progress', () => {
  it('prints a plain line every 10 % when not on a terminal', () => {
    const lines: string[] = [];
    const progress = new Progress({ write: (t: string) => lines.push(t), isTTY: false }, 20);
    for (let i = 1; i <= 20; i++) progress.update(i);
    progress.finish();
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['2/20', '4/20', '6/20', '8/20', '10/20', '12/20', '14/20', '16/20', '18/20', '20/20']);
    expect(lines.every((l) => l.endsWith(' fps\n'))).toBe(true);
  });

  it('redraws one bar line on a terminal and ends it with a newline', () => {
    const out: string[] = [];
    const progress = new Progress({ write: (t: string) => out.push(t), isTTY: true, columns: 80 }, 4);
    progress.update(4);
    progress.finish();
    expect(out[0]?.startsWith('\r')).toBe(true);
    expect(out[0]?.endsWith('\u001b[K')).toBe(true); // clear the rest of the line
    expect(out[0]).toMatch(/\[#+\] 4\/4 frames, [\d.]+ fps/);
    expect(out[1]).toBe('\n');
  });
});
