import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FrameReader, type FrameSink } from '../../src/ingest/frame-reader.js';

const W = 32;
const H = 24;
const BYTES = W * H * 3;
const SRC = `testsrc2=size=${W}x${H}:rate=10:duration=1`;
const base = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'info', '-f', 'lavfi', '-i', SRC, '-f', 'rawvideo', '-pix_fmt', 'rgb24'];

/** A sink writing into two caller-owned frames, recording what it got. */
function recordingSink(size: FrameSink['size'], dropEvery = 0) {
  const memory = [new Uint8Array(BYTES), new Uint8Array(BYTES)];
  const frames: Uint8Array[] = [];
  let calls = 0;
  let current: Uint8Array | null = null;
  const sizes: string[] = [];
  const sink: FrameSink = {
    size,
    onSize: (w, h) => sizes.push(`${w}x${h}`),
    acquire: () => {
      calls++;
      current = dropEvery && calls % dropEvery === 0 ? null : (memory[calls % 2] as Uint8Array);
      return current;
    },
    commit: () => frames.push((current as Uint8Array).slice()),
    abort: () => undefined,
  };
  return { sink, frames, sizes, calls: () => calls };
}

describe('FrameReader (real ffmpeg)', () => {
  it('assembles exact frames into caller memory, identical to what ffmpeg writes', async () => {
    const rec = recordingSink({ width: W, height: H });
    const reader = new FrameReader({ ffmpegPath: 'ffmpeg', args: [...base, 'pipe:1'], sinks: new Map([[1, rec.sink]]), logLinesPerMinute: 10 });
    const exit = await reader.exited;
    expect(exit).toEqual({ code: 0, signal: null, error: null });
    const reference = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', SRC, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']).stdout;
    expect(rec.frames).toHaveLength(10);
    expect(Buffer.concat(rec.frames)).toEqual(reference);
    expect(rec.sizes).toEqual([`${W}x${H}`]);
    expect(reader.counts(1)).toEqual({ frames: 10, dropped: 0 });
  });

  it('skips a frame the sink has no memory for, and learns an unknown size from the header', async () => {
    const rec = recordingSink(null, 2);
    let source = '';
    const reader = new FrameReader({
      ffmpegPath: 'ffmpeg',
      args: [...base, 'pipe:1'],
      sinks: new Map([[1, rec.sink]]),
      logLinesPerMinute: 10,
      onSourceSize: (w, h) => (source = `${w}x${h}`),
    });
    await reader.exited;
    expect(rec.sizes).toEqual([`${W}x${H}`]);
    expect(source).toBe(`${W}x${H}`);
    expect(reader.counts(1)).toEqual({ frames: 5, dropped: 5 });
    expect(rec.calls()).toBe(10);
  });

  it('ends even when an output it waits to size never gets a size (its bytes are discarded)', async () => {
    const rec = recordingSink({ width: W, height: H });
    const unsized = recordingSink(null);
    // No header at loglevel error: pipe:3 is written (23 KB, fits the pipe) but never sized.
    const args = ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', SRC, '-map', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1', '-map', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:3'];
    const reader = new FrameReader({ ffmpegPath: 'ffmpeg', args, sinks: new Map([[1, rec.sink], [3, unsized.sink]]), logLinesPerMinute: 10 });
    expect((await reader.exited).code).toBe(0);
    expect(unsized.calls()).toBe(0);
    expect(rec.frames).toHaveLength(10);
  });

  it("reports ffmpeg's own complaint and a failed spawn", async () => {
    const logs: string[] = [];
    const bad = new FrameReader({
      ffmpegPath: 'ffmpeg',
      args: ['-nostdin', '-hide_banner', '-i', '/nonexistent/clip.mp4', '-f', 'rawvideo', 'pipe:1'],
      sinks: new Map([[1, recordingSink({ width: W, height: H }).sink]]),
      logLinesPerMinute: 10,
      onLog: (level, line) => level === 'warn' && logs.push(line),
    });
    const exit = await bad.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.error).toMatch(/No such file or directory/);
    expect(logs.some((l) => l.includes('No such file'))).toBe(true);

    const missing = new FrameReader({ ffmpegPath: '/nonexistent/ffmpeg', args: [], sinks: new Map([[1, recordingSink(null).sink]]), logLinesPerMinute: 10 });
    expect((await missing.exited).error).toMatch(/ffmpeg could not start: .*ENOENT/);
  });

  it('stop() ends a live ffmpeg and resolves once it is reaped', async () => {
    const rec = recordingSink({ width: W, height: H });
    const reader = new FrameReader({ ffmpegPath: 'ffmpeg', args: ['-nostdin', '-re', '-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=10`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], sinks: new Map([[1, rec.sink]]), logLinesPerMinute: 10 });
    const pid = reader.pid as number;
    while (rec.frames.length < 2) await new Promise((r) => setTimeout(r, 20));
    await reader.stop(1000);
    expect(reader.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow(); // no such process (reaped, not a zombie)
  });
});
