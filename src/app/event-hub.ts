/**
 * Where inference results are published: assigns each event its id, keeps a
 * short history for SSE resume, and fans out to subscribers (SSE, WebSocket,
 * capture). A throwing subscriber is isolated so it cannot stop delivery.
 */
import type { StreamEvent } from '../contracts/events.js';

export class EventHub {
  private nextId = 1;
  private readonly history: (StreamEvent | undefined)[];
  private head = 0;
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  published = 0;
  listenerErrors = 0;
  /** When a subscriber last threw (0 = never): the delivery stage's health. */
  lastListenerErrorAt = 0;

  constructor(historySize: number) {
    this.history = new Array<StreamEvent | undefined>(historySize);
  }

  /** Publishes with the next local id, or with the id the event brings (cluster bus). */
  publish(event: Omit<StreamEvent, 'id'> & { id?: number }): StreamEvent {
    const { id = this.nextId++, ...rest } = event;
    const full = { id, ...rest } as StreamEvent;
    if (this.history.length > 0) {
      this.history[this.head] = full;
      this.head = (this.head + 1) % this.history.length;
    }
    this.published++;
    for (const listener of this.listeners) {
      try {
        listener(full);
      } catch {
        this.listenerErrors++;
        this.lastListenerErrorAt = Date.now();
      }
    }
    return full;
  }

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Held events newer than `lastId`, oldest first. */
  since(lastId: number): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (let i = 0; i < this.history.length; i++) {
      const event = this.history[(this.head + i) % this.history.length];
      if (event && event.id > lastId) out.push(event);
    }
    return out;
  }
}
