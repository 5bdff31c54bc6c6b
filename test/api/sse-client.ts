/** A minimal SSE reader over fetch's streaming body, keeping comments for heartbeat checks. */
export interface SseMessage {
  id?: string;
  data?: string;
  comments: string[];
}

export class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  ended = false;

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    if (!response.body) throw new Error('SSE response has no body');
    this.reader = response.body.getReader();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const controller = new AbortController();
    const response = await fetch(url, { headers, signal: controller.signal });
    return new SseReader(response, controller);
  }

  /** The next block (up to a blank line); null when the stream ended. */
  async next(): Promise<SseMessage | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const message: SseMessage = { comments: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) message.comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) message.id = line.slice(4);
          else if (line.startsWith('data: ')) message.data = (message.data === undefined ? '' : `${message.data}\n`) + line.slice(6);
        }
        return message;
      }
      const { value, done } = await this.reader.read();
      if (done) {
        this.ended = true;
        return null;
      }
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** The next message carrying data, skipping comment-only blocks. */
  async nextEvent(): Promise<{ id: number; event: Record<string, unknown> } | null> {
    for (;;) {
      const message = await this.next();
      if (message === null) return null;
      if (message.data !== undefined) return { id: Number(message.id), event: JSON.parse(message.data) as Record<string, unknown> };
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/** Polls `check` until true (each test has its own overall timeout). */
export async function until(check: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
