/**
 * Prometheus text exposition (format 0.0.4) of a MetricsSnapshot, rendered
 * by prom-client. The families are one declaration table; each scrape sets
 * every family from the snapshot, so telemetry knows nothing of HTTP and the
 * exposition is a function of the snapshot.
 *
 * Latencies arrive in milliseconds and leave in seconds, as Prometheus
 * conventions ask (`*_seconds`), so dashboards and alerts need no scaling.
 */
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { AUTH_FAILURE_REASONS } from '../contracts/auth.js';
import { CAMERA_STATES } from '../contracts/camera.js';
import { DROP_REASONS } from '../contracts/drops.js';
import type { LatencySummary } from '../contracts/latency.js';
import type { CameraMetrics, MetricsSnapshot } from './snapshot.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const PREFIX = 'stream_ml_';
const QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
] as const;

type Labels = Record<string, string>;
type Sample<V> = readonly [labels: Labels, value: V];

type FamilyDecl =
  | { type: 'gauge' | 'counter'; name: string; help: string; labels?: string[]; samples: (s: MetricsSnapshot) => Iterable<Sample<number>> }
  | { type: 'summary'; name: string; help: string; labels?: string[]; samples: (s: MetricsSnapshot) => Iterable<Sample<LatencySummary>> };

const perCamera =
  (pick: (c: CameraMetrics) => number) =>
  (s: MetricsSnapshot): Sample<number>[] =>
    s.cameras.map((c) => [{ camera: c.id }, pick(c)]);
const one =
  (pick: (s: MetricsSnapshot) => number) =>
  (s: MetricsSnapshot): Sample<number>[] => [[{}, pick(s)]];

// Every state and reason is always exported (0 when not current) so that
// series exist from the first scrape and rate()/alerts need no `or vector(0)`.
function* cameraStates(s: MetricsSnapshot): Iterable<Sample<number>> {
  for (const c of s.cameras) {
    const states = new Set<string>([...CAMERA_STATES, c.state]);
    for (const state of states) yield [{ camera: c.id, state }, state === c.state ? 1 : 0];
  }
}

function* cameraDrops(s: MetricsSnapshot): Iterable<Sample<number>> {
  for (const c of s.cameras) {
    for (const reason of new Set<string>([...DROP_REASONS, ...Object.keys(c.drops)])) yield [{ camera: c.id, reason }, c.drops[reason] ?? 0];
  }
}

const FAMILIES: readonly FamilyDecl[] = [
  { type: 'gauge', name: 'uptime_seconds', help: 'Seconds since the service started.', samples: one((s) => s.uptime_s) },
  { type: 'gauge', name: 'cameras', help: 'Cameras currently configured.', samples: one((s) => s.cameras.length) },
  // Per camera.
  { type: 'gauge', name: 'camera_state', help: 'Current camera state: 1 for the current state, 0 for the others.', labels: ['camera', 'state'], samples: cameraStates },
  { type: 'gauge', name: 'camera_fps_in', help: 'Frames per second decoded into the camera ring.', labels: ['camera'], samples: perCamera((c) => c.fps_in) },
  { type: 'gauge', name: 'camera_fps_out', help: 'Frames per second inferred and published.', labels: ['camera'], samples: perCamera((c) => c.fps_out) },
  { type: 'counter', name: 'camera_frames_in_total', help: 'Frames decoded into the camera ring.', labels: ['camera'], samples: perCamera((c) => c.frames_in) },
  { type: 'counter', name: 'camera_frames_out_total', help: 'Frames inferred and published.', labels: ['camera'], samples: perCamera((c) => c.frames_out) },
  { type: 'counter', name: 'camera_frames_dropped_total', help: 'Frames dropped before inference, by reason.', labels: ['camera', 'reason'], samples: cameraDrops },
  { type: 'counter', name: 'camera_reconnects_total', help: 'Times the camera source was reconnected.', labels: ['camera'], samples: perCamera((c) => c.reconnects) },
  { type: 'gauge', name: 'camera_fps_configured', help: 'Sampling rate the configuration asks for.', labels: ['camera'], samples: perCamera((c) => c.fps_configured ?? Number.NaN) },
  {
    type: 'gauge',
    name: 'camera_fps_effective',
    help: 'Sampling rate ffmpeg runs at now (lower while the engine cannot keep up).',
    labels: ['camera'],
    samples: perCamera((c) => c.fps_effective ?? Number.NaN),
  },
  { type: 'counter', name: 'camera_rate_changes_total', help: 'Sampling rate changes applied by the adaptive strategy.', labels: ['camera'], samples: perCamera((c) => c.rate_changes ?? 0) },
  {
    type: 'summary',
    name: 'camera_latency_seconds',
    help: 'Frame committed to result published, over a recent window.',
    labels: ['camera'],
    samples: (s) => s.cameras.map((c) => [{ camera: c.id }, c.latency_ms] as const),
  },
  // Engine (Triton's words where they fit: queue time, compute time, pending).
  { type: 'gauge', name: 'engine_info', help: 'Active model and execution provider (always 1).', labels: ['model', 'provider'], samples: (s) => [[{ model: s.engine.model, provider: s.engine.provider }, 1]] },
  { type: 'gauge', name: 'engine_queue_depth', help: 'Frames waiting for a batch plus batches in flight.', samples: one((s) => s.engine.queue_depth) },
  { type: 'gauge', name: 'engine_batches_in_flight', help: 'Batches submitted to the pool and not yet answered.', samples: one((s) => s.engine.batches_in_flight) },
  { type: 'counter', name: 'engine_batches_total', help: 'Batches inferred.', samples: one((s) => s.engine.batches_total) },
  { type: 'gauge', name: 'engine_batch_size_mean', help: 'Mean frames per batch.', samples: one((s) => s.engine.mean_batch_size) },
  { type: 'summary', name: 'engine_inference_seconds', help: 'Compute time per batch, over a recent window.', samples: (s) => [[{}, s.engine.inference_ms]] },
  { type: 'summary', name: 'engine_queue_seconds', help: 'Time a frame waited for its batch, over a recent window.', samples: (s) => [[{}, s.engine.queue_ms]] },
  { type: 'counter', name: 'engine_worker_restarts_total', help: 'Inference workers replaced after a crash or stall.', samples: one((s) => s.engine.worker_restarts) },
  { type: 'counter', name: 'engine_errors_total', help: 'Batches that failed inference.', samples: one((s) => s.engine.errors) },
  // Capture.
  { type: 'counter', name: 'capture_captured_total', help: 'Inference frames saved to disk.', samples: one((s) => s.capture.captured) },
  { type: 'counter', name: 'capture_skipped_total', help: 'Frames not captured because the encoder queue was full.', samples: one((s) => s.capture.skipped) },
  { type: 'counter', name: 'capture_uploaded_total', help: 'Captured files uploaded to S3.', samples: one((s) => s.capture.uploaded) },
  { type: 'counter', name: 'capture_upload_failures_total', help: 'S3 uploads that failed after retries.', samples: one((s) => s.capture.upload_failures) },
  { type: 'gauge', name: 'capture_pending_uploads', help: 'Files waiting for upload.', samples: one((s) => s.capture.pending_uploads) },
  { type: 'gauge', name: 'capture_pending_bytes', help: 'Bytes waiting for upload.', samples: one((s) => s.capture.pending_bytes) },
  // Clients.
  {
    type: 'gauge',
    name: 'clients',
    help: 'Connected streaming clients, by transport.',
    labels: ['transport'],
    samples: (s) => [
      [{ transport: 'sse' }, s.clients.sse_clients],
      [{ transport: 'websocket' }, s.clients.ws_clients],
    ],
  },
  { type: 'counter', name: 'events_published_total', help: 'Result events published to clients.', samples: one((s) => s.clients.events_published) },
  { type: 'counter', name: 'events_dropped_slow_client_total', help: 'Events not sent because a client was too slow.', samples: one((s) => s.clients.events_dropped_slow_client) },
  // Authentication.
  {
    type: 'counter',
    name: 'auth_failures_total',
    help: 'Requests refused by authentication, by reason (missing, invalid, expired, forbidden, origin, rate_limited).',
    labels: ['reason'],
    samples: (s) => AUTH_FAILURE_REASONS.map((reason) => [{ reason }, s.auth.failures[reason]] as const),
  },
];

/** Cluster mode: this instance's view. Every instance reports the cluster-wide gauges too, so aggregate those with max(). */
const clusterOne =
  (pick: (c: NonNullable<MetricsSnapshot['cluster']>) => number) =>
  (s: MetricsSnapshot): Sample<number>[] => (s.cluster ? [[{ instance: s.cluster.instance }, pick(s.cluster)]] : []);

const CLUSTER_FAMILIES: readonly FamilyDecl[] = [
  { type: 'gauge', name: 'cluster_redis_up', help: 'Whether this instance reaches Redis (1) or not (0).', labels: ['instance'], samples: clusterOne((c) => c.redis_up) },
  { type: 'gauge', name: 'cluster_instances', help: 'Live instances in the cluster.', labels: ['instance'], samples: clusterOne((c) => c.instances) },
  { type: 'gauge', name: 'cluster_cameras', help: 'Cameras in the shared registry.', labels: ['instance'], samples: clusterOne((c) => c.cameras_total) },
  { type: 'gauge', name: 'cluster_cameras_owned', help: 'Cameras this instance holds a lease for and runs.', labels: ['instance'], samples: clusterOne((c) => c.cameras_owned) },
  {
    type: 'counter',
    name: 'cluster_camera_moves_total',
    help: 'Cameras taken over (in) and handed over for rebalancing (out) by this instance.',
    labels: ['instance', 'direction'],
    samples: (s) => (s.cluster ? [[{ instance: s.cluster.instance, direction: 'in' }, s.cluster.moves_in], [{ instance: s.cluster.instance, direction: 'out' }, s.cluster.moves_out]] : []),
  },
  { type: 'counter', name: 'cluster_lease_losses_total', help: 'Leases this instance lost (not renewed in time: Redis unreachable, process paused) and whose camera it stopped.', labels: ['instance'], samples: clusterOne((c) => c.lease_losses) },
  {
    type: 'counter',
    name: 'cluster_bus_events_total',
    help: 'Result events by outcome on the shared Redis bus.',
    labels: ['instance', 'outcome'],
    samples: (s) => {
      const c = s.cluster;
      if (!c) return [];
      const outcomes = { published: c.bus_published, fenced: c.bus_fenced, failed: c.bus_failed, delivered: c.bus_delivered };
      return Object.entries(outcomes).map(([outcome, value]) => [{ instance: c.instance, outcome }, value] as const);
    },
  },
];

/**
 * A summary whose quantiles are already computed (our SampleWindow also
 * feeds /health/stream). prom-client's Summary computes its own from raw
 * observations, so this collector hands prom-client the finished values.
 */
class PrecomputedSummary {
  readonly type = 'summary';
  private rows: Sample<LatencySummary>[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(rows: Iterable<Sample<LatencySummary>>): void {
    this.rows = [...rows];
  }

  get() {
    const values = this.rows.flatMap(([labels, latency]) => [
      ...QUANTILES.map(([quantile, key]) => ({ labels: { ...labels, quantile }, value: latency[key] / 1000 })),
      { metricName: `${this.name}_count`, labels, value: latency.count },
    ]);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' });
  }
}

interface Family {
  update(s: MetricsSnapshot): void;
}

function family(decl: FamilyDecl, registry: Registry): Family {
  const name = PREFIX + decl.name;
  if (decl.type === 'summary') {
    const summary = new PrecomputedSummary(name, decl.help);
    registry.registerMetric(summary as unknown as Metric);
    return { update: (s) => summary.set(decl.samples(s)) };
  }
  const config = { name, help: decl.help, labelNames: decl.labels ?? [], registers: [registry] };
  if (decl.type === 'gauge') {
    const gauge = new Gauge(config);
    return {
      update: (s) => {
        gauge.reset();
        for (const [labels, value] of decl.samples(s)) gauge.set(labels, value);
      },
    };
  }
  const counter = new Counter(config);
  return {
    update: (s) => {
      counter.reset();
      for (const [labels, value] of decl.samples(s)) counter.inc(labels, value);
    },
  };
}

/** Renders snapshots through one prom-client registry. */
export class PrometheusExporter {
  private readonly registry = new Registry();
  private readonly families = FAMILIES.map((decl) => family(decl, this.registry));
  /** Registered on the first snapshot from cluster mode; a single process exports none of them. */
  private clusterFamilies: Family[] | null = null;

  /** Every family is set and read in the same synchronous step, so concurrent scrapes cannot mix. */
  render(snapshot: MetricsSnapshot): Promise<string> {
    if (snapshot.cluster) this.clusterFamilies ??= CLUSTER_FAMILIES.map((decl) => family(decl, this.registry));
    for (const f of [...this.families, ...(this.clusterFamilies ?? [])]) f.update(snapshot);
    // prom-client writes NaN as "Nan"; the exposition format spells it "NaN".
    return this.registry.metrics().then((text) => text.replace(/ Nan$/gm, ' NaN'));
  }
}

const shared = new PrometheusExporter();

export function toPrometheus(snapshot: MetricsSnapshot): Promise<string> {
  return shared.render(snapshot);
}
