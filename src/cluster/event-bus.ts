/**
 * The shared result bus: every inferred event is appended to one Redis Stream
 * (approximately capped at `stream_max_len`) and every instance reads the
 * stream back to serve its SSE/WebSocket clients, so any instance serves
 * every camera. Event ids come from a Redis counter and double as stream
 * entry ids (`0-<id>`): SSE `Last-Event-ID` resumes on any instance.
 *
 * Appends are fenced: the script appends an event only while the camera's
 * lease still holds the publisher's fencing token, so a paused instance that
 * wakes up cannot put stale results on the bus.
 */
import type { Redis } from 'ioredis';
import { backoffDelay } from '../lib/backoff.js';
import { defineScript, REDIS_RETRY, type ClusterKeys } from './redis.js';

/** An event as the engine publishes it (everything but the id). */
export interface BusEvent {
  camera: string;
}

// KEYS: stream, id counter; ARGV: max length, lease key prefix, then camera / holder / JSON triples.
// Returns the assigned id per event, 0 when the lease is not the publisher's.
const PUBLISH_LUA = `
local out = {}
for i = 3, #ARGV, 3 do
  if redis.call('GET', ARGV[2] .. ARGV[i]) == ARGV[i + 1] then
    local id = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-' .. id, 'e', ARGV[i + 2])
    out[#out + 1] = id
  else
    out[#out + 1] = 0
  end
end
return out`;

/** Events sent per script call; more wait for the next flush. */
const MAX_BATCH = 256;

export interface BusCounters {
  /** Appended to the stream by this instance. */
  published: number;
  /** Refused by the fencing check (the lease moved). */
  fenced: number;
  /** Lost to a Redis error (outage). */
  failed: number;
  /** Read from the stream and handed to local clients. */
  delivered: number;
}

interface Pending<E> {
  event: E;
  holder: string;
  resolve: (id: number) => void;
}

export interface EventBusOptions<E extends BusEvent> {
  writer: Redis;
  /** A connection of its own: XREAD BLOCK holds it. */
  reader: Redis;
  keys: ClusterKeys;
  maxLen: number;
  /** Receives every event on the bus (all instances'), in stream order. */
  deliver: (event: E & { id: number }) => void;
  /** How long one XREAD waits for new entries. */
  blockMs?: number;
}

export class RedisEventBus<E extends BusEvent> {
  private queue: Pending<E>[] = [];
  private flushScheduled = false;
  private lastSeen: number | null = null;
  private closed = false;
  private readerLoop: Promise<void> | null = null;
  private markReading: () => void = () => {};
  /** Resolves once the reader knows where the stream stands: later appends all reach `deliver`. */
  readonly reading = new Promise<void>((resolve) => {
    this.markReading = resolve;
  });
  private readonly publishScript: (...args: (string | number)[]) => Promise<number[]>;
  readonly counters: BusCounters = { published: 0, fenced: 0, failed: 0, delivered: 0 };

  constructor(private readonly opts: EventBusOptions<E>) {
    this.publishScript = defineScript<number[]>(opts.writer, 'smsPublishEvents', 2, PUBLISH_LUA);
  }

  start(): void {
    this.readerLoop ??= this.read();
  }

  /**
   * Appends the event under the camera's lease `holder`; resolves with its
   * id, 0 when it was fenced off, -1 when Redis failed. Events of one tick go in
   * one script call.
   */
  publish(event: E, holder: string): Promise<number> {
    return new Promise((resolve) => {
      this.queue.push({ event, holder, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Events with id > lastId still in the stream, oldest first (at most `maxLen`). */
  async since(lastId: number): Promise<(E & { id: number })[]> {
    const entries = await this.opts.writer.xrange(this.opts.keys.events, `(0-${lastId}`, '+', 'COUNT', this.opts.maxLen);
    return entries.map(([id, fields]) => decode<E>(id, fields)).filter((e): e is E & { id: number } => e !== null);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    this.opts.reader.disconnect();
    await this.readerLoop;
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const args: string[] = [];
      for (const p of batch) args.push(p.event.camera, p.holder, JSON.stringify(p.event));
      this.publishScript(this.opts.keys.events, this.opts.keys.eventSeq, this.opts.maxLen, this.opts.keys.leasePrefix, ...args).then(
        (ids) => {
          batch.forEach((p, i) => {
            const id = Number(ids[i] ?? 0);
            if (id > 0) this.counters.published++;
            else this.counters.fenced++;
            p.resolve(id);
          });
        },
        () => {
          this.counters.failed += batch.length;
          for (const p of batch) p.resolve(-1);
        },
      );
    }
  }

  private async read(): Promise<void> {
    const { reader, keys } = this.opts;
    const blockMs = this.opts.blockMs ?? 1000;
    let resync = true;
    let failures = 0;
    while (!this.closed) {
      try {
        if (resync) {
          // Start at the newest event; after an outage, from where we were unless Redis lost the stream.
          const seq = Number((await reader.get(keys.eventSeq)) ?? 0);
          if (this.lastSeen === null || seq < this.lastSeen) this.lastSeen = seq;
          resync = false;
          this.markReading();
        }
        const reply = await reader.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', keys.events, `0-${this.lastSeen ?? 0}`);
        failures = 0;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            const event = decode<E>(id, fields);
            this.lastSeen = Number(id.slice(2));
            if (!event) continue;
            this.counters.delivered++;
            this.opts.deliver(event);
          }
        }
      } catch {
        if (this.closed) break;
        resync = true;
        failures++;
        await new Promise((r) => setTimeout(r, backoffDelay(failures - 1, REDIS_RETRY)));
      }
    }
  }
}

function decode<E>(id: string, fields: string[]): (E & { id: number }) | null {
  const json = fields[1];
  if (fields[0] !== 'e' || json === undefined || !id.startsWith('0-')) return null;
  try {
    return { id: Number(id.slice(2)), ...(JSON.parse(json) as E) };
  } catch {
    return null;
  }
}
