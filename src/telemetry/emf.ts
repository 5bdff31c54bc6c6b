/**
 * CloudWatch Embedded Metric Format: one JSON log line per camera plus one
 * for the service. On Fargate the awslogs driver ships stdout to CloudWatch
 * Logs, which extracts these lines into metrics with no agent or API calls.
 *
 * Counters are reported as increments since the previous report (the whole
 * count when there is none): CloudWatch aggregates datapoints per period, so
 * a Sum statistic of increments is the true count per period, where a running
 * total would not be.
 */
import type { CameraMetrics, MetricsSnapshot } from './snapshot.js';

export type EmfUnit = 'Count' | 'Count/Second' | 'Milliseconds' | 'Seconds' | 'Bytes' | 'None';

export interface EmfMetricDefinition {
  Name: string;
  Unit: EmfUnit;
}

export interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: EmfMetricDefinition[];
}

/** The shape of one EMF line: `_aws` metadata plus dimension and metric values at top level. */
export interface EmfRecord {
  _aws: { Timestamp: number; CloudWatchMetrics: EmfDirective[] };
  [key: string]: unknown;
}

export const SERVICE_NAME = 'stream-ml-service';

/** Builds one record; metrics whose value is not finite (empty latency windows) are left out. */
class RecordBuilder {
  private readonly metrics: EmfMetricDefinition[] = [];
  private readonly values: Record<string, string | number> = {};

  constructor(private readonly dimensions: Record<string, string>) {}

  put(name: string, value: number, unit: EmfUnit): void {
    // JSON has no NaN; an absent datapoint is what CloudWatch expects instead.
    if (!Number.isFinite(value)) return;
    this.metrics.push({ Name: name, Unit: unit });
    this.values[name] = value;
  }

  /** Extra searchable fields that are not metrics (model, provider, state). */
  property(name: string, value: string): void {
    this.values[name] = value;
  }

  build(namespace: string, timestamp: number): EmfRecord {
    return {
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [Object.keys(this.dimensions)], Metrics: this.metrics }],
      },
      ...this.values,
      ...this.dimensions,
    };
  }
}

/** Increment of a monotonic counter; a drop below the previous value means it restarted from zero. */
function delta(current: number, previous: number | undefined): number {
  if (previous === undefined || current < previous) return current;
  return current - previous;
}

function sumDrops(drops: Record<string, number>): number {
  let total = 0;
  for (const n of Object.values(drops)) total += n;
  return total;
}

function cameraRecord(c: CameraMetrics, prev: CameraMetrics | undefined): RecordBuilder {
  const r = new RecordBuilder({ Camera: c.id });
  r.property('State', c.state);
  r.put('FpsIn', c.fps_in, 'Count/Second');
  r.put('FpsOut', c.fps_out, 'Count/Second');
  r.put('FramesIn', delta(c.frames_in, prev?.frames_in), 'Count');
  r.put('FramesOut', delta(c.frames_out, prev?.frames_out), 'Count');
  r.put('FramesDropped', delta(sumDrops(c.drops), prev ? sumDrops(prev.drops) : undefined), 'Count');
  for (const [reason, n] of Object.entries(c.drops)) {
    r.put(`FramesDropped_${reason}`, delta(n, prev?.drops[reason]), 'Count');
  }
  r.put('Reconnects', delta(c.reconnects, prev?.reconnects), 'Count');
  r.put('LatencyP50', c.latency_ms.p50, 'Milliseconds');
  r.put('LatencyP95', c.latency_ms.p95, 'Milliseconds');
  r.put('LatencyP99', c.latency_ms.p99, 'Milliseconds');
  return r;
}

function serviceRecord(s: MetricsSnapshot, prev: MetricsSnapshot | undefined): RecordBuilder {
  const r = new RecordBuilder({ Service: SERVICE_NAME });
  const e = s.engine;
  const pe = prev?.engine;
  r.property('Model', e.model);
  r.property('Provider', e.provider);
  r.put('Cameras', s.cameras.length, 'Count');
  r.put('UptimeSeconds', s.uptime_s, 'Seconds');
  r.put('QueueDepth', e.queue_depth, 'Count');
  r.put('BatchesInFlight', e.batches_in_flight, 'Count');
  r.put('Batches', delta(e.batches_total, pe?.batches_total), 'Count');
  r.put('MeanBatchSize', e.mean_batch_size, 'None');
  r.put('InferenceP50', e.inference_ms.p50, 'Milliseconds');
  r.put('InferenceP95', e.inference_ms.p95, 'Milliseconds');
  r.put('InferenceP99', e.inference_ms.p99, 'Milliseconds');
  r.put('QueueWaitP50', e.queue_ms.p50, 'Milliseconds');
  r.put('QueueWaitP95', e.queue_ms.p95, 'Milliseconds');
  r.put('QueueWaitP99', e.queue_ms.p99, 'Milliseconds');
  r.put('WorkerRestarts', delta(e.worker_restarts, pe?.worker_restarts), 'Count');
  r.put('InferenceErrors', delta(e.errors, pe?.errors), 'Count');

  const c = s.capture;
  const pc = prev?.capture;
  r.put('Captured', delta(c.captured, pc?.captured), 'Count');
  r.put('CaptureSkipped', delta(c.skipped, pc?.skipped), 'Count');
  r.put('Uploaded', delta(c.uploaded, pc?.uploaded), 'Count');
  r.put('UploadFailures', delta(c.upload_failures, pc?.upload_failures), 'Count');
  r.put('PendingUploads', c.pending_uploads, 'Count');
  r.put('PendingUploadBytes', c.pending_bytes, 'Bytes');

  const cl = s.clients;
  const pcl = prev?.clients;
  r.put('SseClients', cl.sse_clients, 'Count');
  r.put('WebSocketClients', cl.ws_clients, 'Count');
  r.put('EventsPublished', delta(cl.events_published, pcl?.events_published), 'Count');
  r.put('EventsDroppedSlowClient', delta(cl.events_dropped_slow_client, pcl?.events_dropped_slow_client), 'Count');
  return r;
}

/**
 * EMF lines for one snapshot: one per camera (dimension `Camera`) and one for
 * the service (dimension `Service`). Pass the previous report's snapshot to
 * get counter increments since then.
 */
export function toEmfLines(s: MetricsSnapshot, namespace: string, previous?: MetricsSnapshot): string[] {
  const prevCams = new Map(previous?.cameras.map((c) => [c.id, c]));
  const lines = s.cameras.map((c) => JSON.stringify(cameraRecord(c, prevCams.get(c.id)).build(namespace, s.timestamp_ms)));
  lines.push(JSON.stringify(serviceRecord(s, previous).build(namespace, s.timestamp_ms)));
  return lines;
}

export interface EmfReporterOptions {
  intervalS: number;
  namespace: string;
  /** Receives one EMF line (no newline); defaults to stdout, which awslogs ships. */
  write?: (line: string) => void;
  /** Called when taking a snapshot throws; the tick is skipped, the reporter keeps going. */
  onError?: (err: unknown) => void;
}

/**
 * Writes EMF lines every `intervalS` seconds until the returned function is
 * called. A non-positive interval reports nothing. The timer does not keep
 * the process alive.
 */
export function startEmfReporter(getSnapshot: () => MetricsSnapshot, options: EmfReporterOptions): () => void {
  if (!(options.intervalS > 0)) return () => {};
  const write = options.write ?? ((line: string) => void process.stdout.write(line + '\n'));
  let previous: MetricsSnapshot | undefined;
  const timer = setInterval(() => {
    let snapshot: MetricsSnapshot;
    try {
      snapshot = getSnapshot();
    } catch (err) {
      options.onError?.(err);
      return;
    }
    for (const line of toEmfLines(snapshot, options.namespace, previous)) write(line);
    // Snapshots may be reused objects: keep a copy so the next deltas are right.
    previous = structuredClone(snapshot);
  }, options.intervalS * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
