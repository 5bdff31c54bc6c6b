import { describe, expect, it } from 'vitest';
import { EventHub } from '../../src/app/event-hub.js';

const event = (camera: string, frame: number) => ({ camera_id: camera, camera, frame, captured_at: new Date(0).toISOString(), latency_ms: 1, model: 'm', predictions: [] });

describe('EventHub', () => {
  it('numbers events, fans them out and keeps a bounded history for resume', () => {
    const hub = new EventHub(3);
    const seen: number[] = [];
    const stop = hub.subscribe((e) => seen.push(e.id));
    for (let i = 1; i <= 5; i++) hub.publish(event('a', i));
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(hub.since(0).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(hub.since(4).map((e) => e.frame)).toEqual([5]);
    stop();
    hub.publish(event('a', 6));
    expect(seen).toHaveLength(5);
  });

  it('keeps delivering when one subscriber throws', () => {
    const hub = new EventHub(0);
    const seen: string[] = [];
    hub.subscribe(() => {
      throw new Error('boom');
    });
    hub.subscribe((e) => seen.push(e.camera));
    hub.publish(event('x', 1));
    expect(seen).toEqual(['x']);
    expect(hub.listenerErrors).toBe(1);
    expect(Date.now() - hub.lastListenerErrorAt).toBeLessThan(60_000);
    expect(hub.since(0)).toEqual([]);
  });
});
