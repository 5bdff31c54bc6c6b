/**
 * One ffmpeg process and its raw-video pipes. Bytes from each pipe are copied
 * straight into memory the caller hands out per frame (a ring slot), so
 * nothing is allocated per frame beyond Node's own chunk buffers. The process
 * is always killed and awaited; a thread's exit kills whatever it still owns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StderrParser, type FfmpegLogLevel } from './stderr-log.js';

/** Where one raw rgb24 output (one pipe fd) puts its frames. */
export interface FrameSink {
  /** Frame size when known up front; null = learn it from ffmpeg's output header before reading. */
  size: { width: number; height: number } | null;
  /** Called once the size is known, before the first acquire (also when `size` was given). */
  onSize?(width: number, height: number): void;
  /** Called once at the start of every frame: memory for it (≥ width×height×3 bytes), or null to drop it. */
  acquire(): Uint8Array | null;
  /** The frame handed out by the last acquire is complete. */
  commit(): void;
  /** The frame handed out by the last acquire will never be completed (ffmpeg ended mid-frame). */
  abort(): void;
}

export interface FrameReaderOptions {
  ffmpegPath: string;
  args: string[];
  /** Sinks by pipe fd: 1 for the model frames, 3 for the optional capture output. */
  sinks: Map<number, FrameSink>;
  logLinesPerMinute: number;
  onLog?(level: FfmpegLogLevel, line: string): void;
  onSourceSize?(width: number, height: number): void;
  onSourceDuration?(seconds: number): void;
}

export interface ReaderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it failed, when known: a spawn error or ffmpeg's last complaint. */
  error: string | null;
}

// Children of this thread, killed when the process exits so that no ffmpeg
// outlives its owner. This covers the main thread (openFrameStream); worker
// threads get no 'exit' event when the process exits, so the camera manager
// kills their children through shared pid slots instead.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Registers a child of this thread to be killed if the process exits first (untracked when it exits). */
export function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Copies one pipe's byte stream into exact-size frames. */
class FrameAssembler {
  private frameBytes = 0;
  private target: Uint8Array | null = null;
  private skipping = false;
  private filled = 0;
  frames = 0;
  dropped = 0;

  constructor(private readonly sink: FrameSink) {}

  configure(width: number, height: number): void {
    this.frameBytes = width * height * 3;
    this.sink.onSize?.(width, height);
  }

  readonly onData = (chunk: Buffer): void => {
    let offset = 0;
    const frameBytes = this.frameBytes;
    while (offset < chunk.length) {
      if (this.target === null && !this.skipping) {
        const target = this.sink.acquire();
        if (target && target.length >= frameBytes) this.target = target;
        else this.skipping = true;
      }
      const n = Math.min(chunk.length - offset, frameBytes - this.filled);
      if (this.target) chunk.copy(this.target, this.filled, offset, offset + n);
      offset += n;
      this.filled += n;
      if (this.filled === frameBytes) {
        if (this.target) {
          this.frames++;
          this.sink.commit();
        } else {
          this.dropped++;
        }
        this.target = null;
        this.skipping = false;
        this.filled = 0;
      }
    }
  };

  finish(): void {
    if (this.target) this.sink.abort();
    this.target = null;
    this.skipping = false;
    this.filled = 0;
  }
}

export class FrameReader {
  readonly exited: Promise<ReaderExit>;
  private readonly child: ChildProcess;
  private readonly assemblers = new Map<number, FrameAssembler>();
  /** Outputs whose size comes from ffmpeg's header: attached once it is parsed. */
  private readonly pendingSizes = new Map<number, (w: number, h: number) => void>();
  private spawnError: string | null = null;
  private readonly parser: StderrParser;
  private done = false;

  constructor(opts: FrameReaderOptions) {
    const maxFd = Math.max(1, ...opts.sinks.keys());
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
    for (let fd = 3; fd <= maxFd; fd++) stdio.push(opts.sinks.has(fd) ? 'pipe' : 'ignore');

    this.child = spawn(opts.ffmpegPath, opts.args, { stdio, windowsHide: true });
    track(this.child);

    for (const [fd, sink] of opts.sinks) {
      const assembler = new FrameAssembler(sink);
      this.assemblers.set(fd, assembler);
      const stream = this.child.stdio[fd] as Readable | null;
      if (!stream) continue;
      // A stream with no 'data' listener stays paused: bytes wait in the pipe until the size is known.
      const attach = (w: number, h: number): void => {
        assembler.configure(w, h);
        stream.on('data', assembler.onData);
      };
      if (sink.size) attach(sink.size.width, sink.size.height);
      else this.pendingSizes.set(fd, attach);
    }

    const parser = (this.parser = new StderrParser(
      {
        onSourceSize: opts.onSourceSize,
        onSourceDuration: opts.onSourceDuration,
        onOutputSize: (fd, w, h) => {
          const attach = this.pendingSizes.get(fd);
          if (attach) {
            this.pendingSizes.delete(fd);
            attach(w, h);
          }
        },
        onLog: opts.onLog,
      },
      opts.logLinesPerMinute,
    ));
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (text: string) => parser.push(text));

    this.exited = new Promise<ReaderExit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.done) return;
        this.done = true;
        liveChildren.delete(this.child);
        parser.end();
        for (const a of this.assemblers.values()) a.finish();
        resolve({ code, signal, error: this.spawnError ?? (code === 0 ? null : parser.lastProblem) });
      };
      this.child.on('error', (err) => {
        this.spawnError = `ffmpeg could not start: ${err.message}`;
        // A failed spawn never emits 'close' on some Node versions.
        if (this.child.pid === undefined) finish(null, null);
      });
      // 'close' comes after every pipe has drained, so no frame is lost at exit.
      this.child.on('close', finish);
      this.child.on('exit', (code, signal) => {
        // Defensive: drain pipes never attached (size never seen) so nothing can hold 'close' back.
        for (const fd of this.pendingSizes.keys()) (this.child.stdio[fd] as Readable | null)?.resume();
        // And never wait forever for pipes a stray grandchild might keep open.
        setTimeout(() => finish(code, signal), 2000).unref();
      });
    });
  }

  /** ffmpeg's first line saying CUDA decoding cannot work, if any (read after exit). */
  get cudaFailure(): string | null {
    return this.parser.cudaFailure;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Frames completed and frames dropped (sink had no memory) on a pipe. */
  counts(fd: number): { frames: number; dropped: number } {
    const a = this.assemblers.get(fd);
    return { frames: a?.frames ?? 0, dropped: a?.dropped ?? 0 };
  }

  get running(): boolean {
    return !this.done;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.done) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone and reaped. */
  async stop(graceMs = 2000): Promise<ReaderExit> {
    if (this.done) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
