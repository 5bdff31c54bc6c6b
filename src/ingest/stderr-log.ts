/**
 * ffmpeg's stderr, line by line: the stream headers are parsed for sizes, and
 * everything else is passed on at a bounded rate so a broken camera cannot
 * flood the log.
 */

import { isCudaFailureLine } from './hwaccel.js';

export type FfmpegLogLevel = 'debug' | 'warn';

export interface StderrEvents {
  /** The decoded input's size (first video stream of input #0). */
  onSourceSize?(width: number, height: number): void;
  /** Input #0's duration in seconds, when it has one (files; not live streams). */
  onSourceDuration?(seconds: number): void;
  /** An output's frame size, by the pipe fd it writes to. */
  onOutputSize?(fd: number, width: number, height: number): void;
  onLog?(level: FfmpegLogLevel, line: string): void;
}

const INPUT = /^Input #(\d+)/;
const OUTPUT = /^Output #\d+, .*? to '(?:pipe:)?(\d+)'/;
const VIDEO_SIZE = /^\s+Stream #\d+:\d+.*?: Video: .*?, (\d+)x(\d+)/;
const DURATION = /^\s+Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)/;
// Header dump and routine lines (not problems): log them at debug only.
const HEADER = /^(Input #|Output #|Stream mapping|frame=|video:\d|Press \[q\]|Exiting normally|\[[a-z0-9_]+ @ 0x[0-9a-f]+\] Opening '|\s+(Stream #|Metadata|Duration|Side data|Chapters|Chapter #|Program|[A-Za-z_]+\s*:))/;

export class StderrParser {
  private partial = '';
  private section: { kind: 'input' | 'output'; id: number } | null = null;
  private sourceSeen = false;
  private windowStart = 0;
  private windowLines = 0;
  private suppressed = 0;
  /** The last line that was not part of the header dump: the likely reason ffmpeg failed. */
  lastProblem: string | null = null;
  /** The first line saying CUDA decoding cannot work (seen whatever the log rate limit). */
  cudaFailure: string | null = null;

  constructor(
    private readonly events: StderrEvents,
    private readonly linesPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split(/\r\n|\n|\r/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  /** Flushes a last unterminated line (at exit). */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    if (!line.trim()) return;
    const input = INPUT.exec(line);
    if (input) {
      this.section = { kind: 'input', id: Number(input[1]) };
    } else {
      const output = OUTPUT.exec(line);
      if (output) this.section = { kind: 'output', id: Number(output[1]) };
    }
    const duration = this.section?.kind === 'input' && this.section.id === 0 ? DURATION.exec(line) : null;
    if (duration) {
      const seconds = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
      if (seconds > 0) this.events.onSourceDuration?.(seconds);
    }
    const size = VIDEO_SIZE.exec(line);
    if (size && this.section) {
      const w = Number(size[1]);
      const h = Number(size[2]);
      if (this.section.kind === 'input' && this.section.id === 0 && !this.sourceSeen) {
        this.sourceSeen = true;
        this.events.onSourceSize?.(w, h);
      } else if (this.section.kind === 'output') {
        this.events.onOutputSize?.(this.section.id, w, h);
      }
    }
    if (HEADER.test(line) || line.startsWith('  ')) {
      this.events.onLog?.('debug', line);
      return;
    }
    this.lastProblem = line.trim();
    if (this.cudaFailure === null && isCudaFailureLine(line)) this.cudaFailure = line.trim();
    this.limited(line);
  }

  private limited(line: string): void {
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      if (this.suppressed > 0) this.events.onLog?.('warn', `(${this.suppressed} ffmpeg log lines suppressed in the last minute)`);
      this.windowStart = t;
      this.windowLines = 0;
      this.suppressed = 0;
    }
    if (this.windowLines < this.linesPerMinute) {
      this.windowLines++;
      this.events.onLog?.('warn', line);
    } else {
      this.suppressed++;
    }
  }
}
