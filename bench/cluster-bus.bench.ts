/**
 * Cost of the cluster result bus: events/s and added latency per event
 * through a real redis-server (fenced XADD by Lua script, XREAD on another
 * connection) against the in-process EventHub a single instance uses.
 *
 *   npm run bench:cluster-bus -- --events 20000 --paced-rate 500
 *
 * Rows: in-process hub; Redis bus saturated (publish as fast as it goes,
 * bounded in flight); Redis bus paced at a realistic camera load (where the
 * latency is the added cost, not queueing). Payload: a detection event with
 * 10 boxes (~0.9 kB JSON), larger than a classification event.
 * Prints a table and JSON; keeps the JSON in bench/results/cluster-bus.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EventHub } from '../src/app/event-hub.js';
import { RedisEventBus } from '../src/cluster/event-bus.js';
import { clusterKeys, connectRedis, whenReady } from '../src/cluster/redis.js';
import type { StreamEvent } from '../src/contracts/events.js';
import { startRedis } from '../test/helpers/redis.js';
import { flags, table } from './lib/report.js';

const opts = flags({ events: 20_000, paced_rate: 500, paced_seconds: 5, in_flight: 2000 });

type Payload = Omit<StreamEvent, 'id'> & { seq: number };

function payload(seq: number): Payload {
  return {
    seq,
    camera: `cam-${seq % 16}`,
    frame: seq,
    captured_at: new Date().toISOString(),
    latency_ms: 42.5,
    model: 'yolox_nano',
    predictions: [{ label: 'person', score: 0.91 }],
    has_person: true,
    detections: Array.from({ length: 10 }, (_, i) => ({ label: i % 2 ? 'car' : 'person', class_id: i % 2 ? 2 : 0, score: 0.5 + i / 40, box: [10 * i, 20 * i, 100 + i, 200 + i] as [number, number, number, number] })),
  } as Payload;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

interface Row extends Record<string, string | number> {
  path: string;
  events: number;
  events_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

function summarize(name: string, latencies: number[], seconds: number): Row {
  const sorted = [...latencies].sort((a, b) => a - b);
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return { path: name, events: latencies.length, events_per_s: Math.round(latencies.length / seconds), p50_ms: r3(percentile(sorted, 0.5)), p95_ms: r3(percentile(sorted, 0.95)), p99_ms: r3(percentile(sorted, 0.99)) };
}

function inProcess(count: number): Row {
  const hub = new EventHub(256);
  const sentAt = new Float64Array(count);
  const latencies: number[] = [];
  hub.subscribe((event) => latencies.push(performance.now() - (sentAt[(event as unknown as Payload).seq] as number)));
  // Listeners as a server has them: serialise once per event.
  hub.subscribe((event) => void JSON.stringify(event));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    sentAt[i] = performance.now();
    hub.publish(payload(i));
  }
  return summarize('in-process hub', latencies, (performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const clients = [0, 1, 2].map(() => connectRedis(redis.url, { name: 'bench', commandTimeoutMs: 10_000 }));
  await Promise.all(clients.map((c) => whenReady(c, 10_000)));
  const [writer, reader, otherReader] = clients as [typeof clients[0], typeof clients[0], typeof clients[0]];
  const keys = clusterKeys('bench:');
  // One lease per camera, held by the publisher, as in a running cluster.
  for (let c = 0; c < 16; c++) await writer.set(`${keys.leasePrefix}cam-${c}`, 'bench|1');

  const sentAt = new Map<number, number>();
  let latencies: number[] = [];
  let delivered = 0;
  const bus = new RedisEventBus<Payload>({
    writer,
    reader,
    keys,
    maxLen: 10_000,
    deliver: (event) => {
      const t = sentAt.get(event.seq);
      if (t !== undefined) {
        latencies.push(performance.now() - t);
        sentAt.delete(event.seq);
      }
      delivered++;
    },
  });
  // A second instance's reader: every event crosses to it too.
  let remoteDelivered = 0;
  const remote = new RedisEventBus<Payload>({ writer, reader: otherReader, keys, maxLen: 10_000, deliver: () => void remoteDelivered++ });
  bus.start();
  remote.start();
  await Promise.all([bus.reading, remote.reading]);

  const rows: Row[] = [inProcess(opts.events)];

  // Saturated: publish with at most `in_flight` events not yet delivered.
  let seq = 0;
  const start = performance.now();
  while (seq < opts.events) {
    while (seq < opts.events && seq - delivered < opts.in_flight) {
      sentAt.set(seq, performance.now());
      void bus.publish(payload(seq), 'bench|1');
      seq++;
    }
    await new Promise((r) => setImmediate(r));
  }
  while (delivered < opts.events) await new Promise((r) => setTimeout(r, 1));
  rows.push(summarize('redis bus, saturated', latencies, (performance.now() - start) / 1000));
  const saturatedRemote = remoteDelivered;

  // Paced: a steady camera load, one event every 1/rate s.
  latencies = [];
  const pacedCount = Math.round(opts.paced_rate * opts.paced_seconds);
  const pacedStart = performance.now();
  for (let i = 0; i < pacedCount; i++) {
    const due = pacedStart + (i * 1000) / opts.paced_rate;
    while (performance.now() < due) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(5, due - performance.now()))));
    const n = seq++;
    sentAt.set(n, performance.now());
    void bus.publish(payload(n), 'bench|1');
  }
  while (delivered < opts.events + pacedCount) await new Promise((r) => setTimeout(r, 1));
  rows.push(summarize(`redis bus, paced ${opts.paced_rate}/s`, latencies, (performance.now() - pacedStart) / 1000));

  await Promise.all([bus.close(), remote.close()]);
  for (const c of clients) c.disconnect();
  await redis.stop();

  const [hub, saturated, paced] = rows as [Row, Row, Row];
  console.log(table(rows.map((r) => ({ ...r, p50_ms: r.p50_ms.toFixed(3), p95_ms: r.p95_ms.toFixed(3), p99_ms: r.p99_ms.toFixed(3) }))));
  const summary = {
    bench: 'cluster-bus',
    payload_bytes: Buffer.byteLength(JSON.stringify(payload(1))),
    rows,
    redis_vs_in_process_throughput_ratio: Math.round((saturated.events_per_s / hub.events_per_s) * 10_000) / 10_000,
    added_latency_ms_paced: { p50: paced.p50_ms, p95: paced.p95_ms },
    second_reader_received: saturatedRemote,
  };
  console.log(`\n${JSON.stringify(summary)}`);
  const resultsDir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(path.join(resultsDir, 'cluster-bus.json'), `${JSON.stringify({ at: new Date().toISOString(), ...summary }, null, 2)}\n`);
}

await main();
