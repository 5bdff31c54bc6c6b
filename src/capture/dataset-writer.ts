/**
 * Numbered dataset images (`frame_000001.jpg`, …) for the capture CLI.
 * Numbers are given out in frame order when a frame is accepted, encoding
 * runs on libuv's pool (sharp), and each file appears by rename only when
 * complete, so an interrupted run leaves whole images and nothing else.
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ImageFormat } from './cli-args.js';
import { writeFileAtomic } from './local-store.js';

const FRAME_NAME = /^frame_(\d{6,})\.(jpg|png)$/;
const TEMP_NAME = /^\.frame_\d{6,}\.(jpg|png)\.tmp-/;

export function frameFileName(index: number, format: ImageFormat): string {
  return `frame_${String(index).padStart(6, '0')}.${format}`;
}

export interface DatasetWriterOptions {
  dir: string;
  format: ImageFormat;
  /** JPEG quality (1..100). */
  quality: number;
  /** Pixel bytes held by frames being encoded or written; `accept` refuses more (one frame always fits). */
  maxPendingBytes: number;
}

export class DatasetWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private nextIndex: number;
  private pendingBytes = 0;
  private writtenCount = 0;
  private failed: Error | null = null;

  private constructor(
    private readonly opts: DatasetWriterOptions,
    firstIndex: number,
  ) {
    this.nextIndex = firstIndex;
  }

  /** Creates the directory, removes temp files of an interrupted run, and continues the numbering. */
  static async open(opts: DatasetWriterOptions): Promise<DatasetWriter> {
    await mkdir(opts.dir, { recursive: true });
    let highest = 0;
    for (const name of await readdir(opts.dir)) {
      const m = FRAME_NAME.exec(name);
      if (m) highest = Math.max(highest, Number(m[1]));
      else if (TEMP_NAME.test(name)) await unlink(join(opts.dir, name)).catch(() => undefined);
    }
    return new DatasetWriter(opts, highest + 1);
  }

  get written(): number {
    return this.writtenCount;
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /** First write error, if any; later frames are still attempted. */
  get error(): Error | null {
    return this.failed;
  }

  /** The file name the next accepted frame gets. */
  get nextFileName(): string {
    return frameFileName(this.nextIndex, this.opts.format);
  }

  /** Whether a frame of `bytes` pixel bytes would be accepted now. */
  hasRoom(bytes: number): boolean {
    return this.inFlight.size === 0 || this.pendingBytes + bytes <= this.opts.maxPendingBytes;
  }

  /**
   * Takes one packed-RGB frame (copied before returning, so the caller may
   * reuse its memory). Returns the file name it will have, or null when
   * the frames in flight already hold `maxPendingBytes`.
   */
  accept(rgb: Uint8Array, width: number, height: number): string | null {
    const bytes = width * height * 3;
    if (!this.hasRoom(bytes)) return null;
    const name = frameFileName(this.nextIndex++, this.opts.format);
    const pixels = Buffer.from(rgb.subarray(0, bytes));
    this.pendingBytes += bytes;
    const task = this.encodeAndWrite(name, pixels, width, height).finally(() => {
      this.inFlight.delete(task);
      this.pendingBytes -= bytes;
    });
    this.inFlight.add(task);
    return name;
  }

  /** Resolves once every accepted frame is on disk (or failed). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async encodeAndWrite(name: string, pixels: Buffer, width: number, height: number): Promise<void> {
    try {
      const image = sharp(pixels, { raw: { width, height, channels: 3 } });
      const data = this.opts.format === 'png' ? await image.png().toBuffer() : await image.jpeg({ quality: this.opts.quality }).toBuffer();
      await writeFileAtomic(this.opts.dir, name, data);
      this.writtenCount++;
    } catch (err) {
      this.failed ??= new Error(`could not write ${join(this.opts.dir, name)}: ${(err as Error).message}`);
    }
  }
}
