import { describe, expect, it } from 'vitest';
import { FrozenDetector, sampledHash } from '../../src/ingest/frozen.js';
import { StderrParser } from '../../src/ingest/stderr-log.js';

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

  it("reads input #0's duration (files), not a live stream's N/A or an output's", () => {
    const durations: number[] = [];
    const p = new StderrParser({ onSourceDuration: (s) => durations.push(s) }, 20);
    p.push(HEADER);
    p.push("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/m/a.mp4':\n  Duration: 00:01:02.50, start: 0.000000, bitrate: 310 kb/s\n");
    p.push("Output #0, rawvideo, to 'pipe:1':\n  Duration: 00:00:10.00, start: 0.000000\n");
    expect(durations).toEqual([62.5]);
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
