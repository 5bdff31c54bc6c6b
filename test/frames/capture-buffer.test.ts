import { describe, expect, it } from 'vitest';
import { CaptureBuffer } from '../../src/frames/capture-buffer.js';

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
