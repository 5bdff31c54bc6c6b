import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/lib/backoff.js';
import { CaptureBuffer } from '../../src/frames/capture-buffer.js';
import { FrozenDetector, sampledHash } from '../../src/ingest/frozen.js';
import { StderrParser } from '../../src/ingest/stderr-log.js';

const reconnect = { initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.2, reset_after_ms: 60_000 };

describe('Backoff', () => {
  it('doubles from 0.5 s to a 30 s ceiling and starts over after reset', () => {
    const b = new Backoff(reconnect, () => 0.5); // 0.5 → no jitter
    expect(Array.from({ length: 9 }, () => b.next())).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.attempts).toBe(9);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('spreads each delay by ± jitter', () => {
    expect(new Backoff(reconnect, () => 0).next()).toBe(400);
    expect(new Backoff(reconnect, () => 1).next()).toBe(600);
    expect(new Backoff({ ...reconnect, jitter: 0 }, () => 0).next()).toBe(500);
  });
});

const HEADER = `Input #0, rtsp, from 'rtsp://127.0.0.1:8554/live':
  Metadata:
    title           : Session streamed with GStreamer
  Duration: N/A, start: 0.066667, bitrate: N/A
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(tv, bt709, progressive), 1280x720 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 90k tbn
Stream mapping:
  Stream #0:0 (h264) -> fps:default
Output #0, rawvideo, to 'pipe:1':
  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/unknown/unknown, progressive), 224x224, q=2-31, 6021 kb/s, 5 fps, 5 tbn
Output #1, rawvideo, to 'pipe:3':
  Stream #1:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/unknown/unknown, progressive), 640x360, q=2-31, 6048 kb/s, 5 fps, 5 tbn
`;

describe('StderrParser', () => {
  it('reads the source and per-pipe output sizes from the header, even split across chunks', () => {
    const sizes: string[] = [];
    const logs: string[] = [];
    const p = new StderrParser(
      { onSourceSize: (w, h) => sizes.push(`in ${w}x${h}`), onOutputSize: (fd, w, h) => sizes.push(`fd${fd} ${w}x${h}`), onLog: (level, line) => level === 'warn' && logs.push(line) },
      20,
    );
    for (let i = 0; i < HEADER.length; i += 7) p.push(HEADER.slice(i, i + 7));
    expect(sizes).toEqual(['in 1280x720', 'fd1 224x224', 'fd3 640x360']);
    expect(logs).toEqual([]);
    p.push("[hls @ 0x55d0c8a3e2c0] Opening 'https://cdn/seg1.ts' for reading\nExiting normally, received signal 15.\n");
    expect(logs).toEqual([]);
    p.push('[rtsp @ 0x55d] method DESCRIBE failed: 404 Not Found\r');
    p.end();
    expect(logs).toEqual(['[rtsp @ 0x55d] method DESCRIBE failed: 404 Not Found']);
    expect(p.lastProblem).toBe('[rtsp @ 0x55d] method DESCRIBE failed: 404 Not Found');
  });

  it('logs at most N problem lines a minute and reports how many it held back', () => {
    let now = 0;
    const logs: string[] = [];
    const p = new StderrParser({ onLog: (level, line) => level === 'warn' && logs.push(line) }, 3, () => now);
    for (let i = 0; i < 10; i++) p.push(`error ${i}\n`);
    expect(logs).toEqual(['error 0', 'error 1', 'error 2']);
    now = 60_000;
    p.push('error 10\n');
    expect(logs.slice(3)).toEqual(['(7 ffmpeg log lines suppressed in the last minute)', 'error 10']);
    expect(p.lastProblem).toBe('error 10');
  });
});

describe('FrozenDetector', () => {
  it('flags a picture identical for frozen_after_ms and clears on change', () => {
    const a = new Uint8Array(224 * 224 * 3).fill(7);
    const b = a.slice();
    b[0] = 8; // the first byte is always sampled
    const d = new FrozenDetector(1000);
    expect(d.update(a, a.length, 0)).toBe(false);
    expect(d.update(a, a.length, 999)).toBe(false);
    expect(d.update(a, a.length, 1000)).toBe(true);
    expect(d.update(b, b.length, 1100)).toBe(false);
    expect(d.update(b, b.length, 2099)).toBe(false);
    expect(d.update(b, b.length, 2100)).toBe(true);
  });

  it('is off at 0 and hashes sampled bytes', () => {
    const a = new Uint8Array(5000);
    expect(new FrozenDetector(0).update(a, a.length, 1e9)).toBe(false);
    const b = a.slice();
    b[4096] = 1; // step is 2 for 5000 bytes: index 4096 is sampled
    expect(sampledHash(a)).not.toBe(sampledHash(b));
  });
});

describe('CaptureBuffer', () => {
  it('hands back the frame tagged with a ring frame number, or the nearest newer one', () => {
    const writer = CaptureBuffer.create(4, 2, 3);
    const reader = new CaptureBuffer(writer.handle); // what the main thread opens
    const put = (index: number, value: number, frameNo: number): void => {
      writer.beginWrite(index).fill(value);
      writer.commitWrite(frameNo);
    };
    put(0, 10, 5);
    put(1, 11, 0); // model frame not committed yet
    put(2, 12, 9);
    expect(reader.read(5)).toMatchObject({ frameNo: 5, width: 4, height: 2 });
    expect(reader.read(5)?.rgb[0]).toBe(10);
    expect(reader.read(6)?.frameNo).toBe(9); // untagged slot is skipped
    writer.tag(1, 7);
    expect(reader.read(6)?.frameNo).toBe(7);
    expect(reader.read(6)?.rgb[0]).toBe(11);
    expect(reader.read(10)).toBeNull();
    // The oldest slot is reused: frame 5 is gone, 7 is the nearest newer.
    put(3, 13, 11);
    expect(reader.read(5)?.frameNo).toBe(7);
    expect(reader.read(11)?.rgb.length).toBe(4 * 2 * 3);
  });

  it('never returns a slot being written or a dropped frame', () => {
    const buf = CaptureBuffer.create(2, 2, 3);
    buf.beginWrite(0).fill(1);
    buf.commitWrite(3);
    buf.beginWrite(1).fill(2);
    expect(buf.read(4)).toBeNull(); // slot 1 is mid-write
    buf.abortWrite();
    expect(buf.read(4)).toBeNull();
    buf.beginWrite(2);
    buf.commitWrite(-1);
    expect(buf.read(1)?.frameNo).toBe(3);
  });
});
