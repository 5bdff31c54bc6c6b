/**
 * Progress of the capture CLI: a redrawn bar on a terminal, plain lines
 * (every 10 % or every 100 frames without a target) when piped or logged.
 */

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class Progress {
  private lastPlain = 0;
  private drawnAt = 0;
  private readonly startedAt = Date.now();
  private drewBar = false;

  constructor(
    private readonly out: ProgressOutput,
    /** 0 when there is no target (until the source ends or Ctrl-C). */
    private readonly target: number,
  ) {}

  /** Reports `done` images written. Cheap when nothing needs printing. */
  update(done: number): void {
    if (this.out.isTTY) {
      const now = Date.now();
      // Redraw at most ~10 times a second, and always at the end.
      if (now - this.drawnAt < 100 && done !== this.target) return;
      this.drawnAt = now;
      this.out.write(`\r${this.bar(done)}\x1b[K`);
      this.drewBar = true;
      return;
    }
    const step = this.target > 0 ? Math.max(1, Math.ceil(this.target / 10)) : 100;
    if (done - this.lastPlain >= step || (this.target > 0 && done === this.target && done !== this.lastPlain)) {
      this.lastPlain = done;
      this.out.write(`${this.counts(done)}\n`);
    }
  }

  /** Ends the bar's line so later output starts on a fresh one. */
  finish(): void {
    if (this.drewBar) this.out.write('\n');
    this.drewBar = false;
  }

  private counts(done: number): string {
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (done / seconds).toFixed(1) : '0.0';
    return `${this.target > 0 ? `${done}/${this.target}` : `${done}`} frames, ${rate} fps`;
  }

  private bar(done: number): string {
    const text = this.counts(done);
    if (this.target <= 0) return `capturing: ${text}`;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - text.length - 4));
    const filled = Math.min(width, Math.round((done / this.target) * width));
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
  }
}
