/**
 * Server-sent event clients. uWS buffers whatever a chunked write could not
 * send; it exposes no buffered-byte count for HTTP responses, so each client
 * counts the bytes written since the last write that fully went out. Over the
 * limit events are skipped, so a stalled client holds at most about the limit
 * plus one event in memory.
 */
import type { StreamEvent } from '../contracts/events.js';
import type { Exchange } from './http.js';
import { judgeSlowClient, lagExceeded, type LagState, type SlowClientPolicy, type SlowClientState } from './slow-client.js';

interface SseClient extends SlowClientState, LagState {
  ex: Exchange;
  /** null: every camera. */
  cameras: ReadonlySet<string> | null;
  /** Upper bound of bytes uWS may still hold for this client. */
  pending: number;
}

const PING = Buffer.from(': ping\n\n');
const OPENED = Buffer.from(': connected\n\n');
// Written on a writable event: any write makes uWS flush its buffer first.
const NUDGE = Buffer.from(':\n');

export const SSE_HEADERS = [
  ['Content-Type', 'text/event-stream'],
  ['Cache-Control', 'no-store'],
  ['X-Accel-Buffering', 'no'],
] as const;

/** The wire form of one event. */
export function sseFrame(id: number, json: string): Buffer {
  return Buffer.from(`id: ${id}\ndata: ${json}\n\n`);
}

export class SseHub {
  private readonly clients = new Set<SseClient>();

  constructor(
    private readonly policy: SlowClientPolicy,
    private readonly onCountChange: () => void,
    /** A client with bytes it has not taken for this long is disconnected. */
    private readonly maxLagMs: number = policy.disconnectAfterMs,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Starts the event stream on `ex` and replays `backlog` (already in id order). */
  open(ex: Exchange, cameras: ReadonlySet<string> | null, backlog: readonly StreamEvent[]): number {
    const client: SseClient = { ex, cameras, pending: 0, overSince: 0, behindSince: 0 };
    const res = ex.res;
    ex.onAbort(() => this.remove(client));
    res.onWritable(() => {
      const ok = res.write(NUDGE);
      if (ok) client.pending = 0;
      return ok;
    });
    res.cork(() => {
      ex.writeHead(200, SSE_HEADERS);
      this.write(client, OPENED);
    });
    this.clients.add(client);
    this.onCountChange();
    let drops = 0;
    for (const event of backlog) {
      if (cameras !== null && !cameras.has(event.camera_id)) continue;
      if (!this.offer(client, sseFrame(event.id, JSON.stringify(event)))) drops++;
    }
    return drops;
  }

  /** Sends one event frame to every interested client; returns how many were dropped as slow. */
  broadcast(camera: string, frame: Buffer): number {
    let drops = 0;
    for (const client of this.clients) {
      if (client.cameras !== null && !client.cameras.has(camera)) continue;
      if (!this.offer(client, frame)) drops++;
    }
    return drops;
  }

  /** The `: ping` comment keeps proxies and clients from timing out idle streams. */
  heartbeat(): void {
    for (const client of this.clients) if (client.pending === 0) this.write(client, PING);
  }

  /**
   * Disconnects clients that stayed over the buffer limit too long, or that
   * have not taken what was written to them for maxLagMs (pending is reset
   * only when uWS reports the socket drained).
   */
  sweep(now: number): void {
    for (const client of this.clients) {
      const lagging = lagExceeded(this.maxLagMs, client, client.pending > 0, now);
      if (judgeSlowClient(this.policy, client, client.pending, now) === 'disconnect' || lagging) {
        this.remove(client);
        client.ex.res.close();
      }
    }
  }

  /** Ends every stream (server shutdown). */
  closeAll(): void {
    for (const client of [...this.clients]) {
      this.remove(client);
      if (client.ex.open) {
        client.ex.res.cork(() => client.ex.res.end());
        client.ex.endStream();
      }
    }
  }

  private offer(client: SseClient, frame: Buffer): boolean {
    if (client.pending > this.policy.maxBufferedBytes) return false;
    this.write(client, frame);
    return true;
  }

  private write(client: SseClient, data: Buffer): void {
    if (!client.ex.open) return;
    let ok = false;
    client.ex.res.cork(() => {
      ok = client.ex.res.write(data);
    });
    client.pending = ok ? 0 : client.pending + data.length;
  }

  private remove(client: SseClient): void {
    if (this.clients.delete(client)) this.onCountChange();
  }
}
