/**
 * Prometheus text exposition (format 0.0.4) of a MetricsSnapshot.
 * A pure function of the snapshot: the server serves the string, telemetry
 * knows nothing of HTTP. Runs once per scrape, so clarity beats allocation.
 *
 * Latencies arrive in milliseconds and leave in seconds, as Prometheus
 * conventions ask (`*_seconds`), so dashboards and alerts need no scaling.
 */
import { AUTH_FAILURE_REASONS } from '../contracts/auth.js';
import { CAMERA_STATES, type CameraState } from '../contracts/camera.js';
import { DROP_REASONS } from '../contracts/drops.js';
import type { LatencySummary } from '../contracts/latency.js';
import type { MetricsSnapshot } from './snapshot.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const PREFIX = 'stream_ml_';

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
] as const;

type Labels = Readonly<Record<string, string>>;
type MetricType = 'gauge' | 'counter' | 'summary';

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go-style float text: NaN and infinities have their own spellings. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] as string)}"`).join(',')}}`;
}

/** Collects families in order; every family's samples stay together after its HELP/TYPE. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: MetricType, help: string): (value: number, labels?: Labels, suffix?: string) => void {
    const full = PREFIX + name;
    this.lines.push(`# HELP ${full} ${escapeHelp(help)}`, `# TYPE ${full} ${type}`);
    return (value, labels = {}, suffix = '') => {
      this.lines.push(`${full}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
    };
  }

  /** A summary of millisecond latencies, exported in seconds. */
  summary(name: string, help: string, rows: readonly { labels: Labels; latency: LatencySummary }[]): void {
    const sample = this.family(name, 'summary', help);
    for (const { labels, latency } of rows) {
      for (const [quantile, key] of QUANTILES) sample(latency[key] / 1000, { ...labels, quantile });
      sample(latency.count, labels, '_count');
    }
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function toPrometheus(s: MetricsSnapshot): string {
  const out = new Exposition();
  const cams = s.cameras;
  const cam = (id: string): Labels => ({ camera: id });

  const uptime = out.family('uptime_seconds', 'gauge', 'Seconds since the service started.');
  uptime(s.uptime_s);
  const cameras = out.family('cameras', 'gauge', 'Cameras currently configured.');
  cameras(cams.length);

  // Per camera.
  const state = out.family('camera_state', 'gauge', 'Current camera state: 1 for the current state, 0 for the others.');
  for (const c of cams) {
    const states: readonly string[] = CAMERA_STATES.includes(c.state as CameraState) ? CAMERA_STATES : [...CAMERA_STATES, c.state];
    for (const st of states) state(st === c.state ? 1 : 0, { camera: c.id, state: st });
  }
  const fpsIn = out.family('camera_fps_in', 'gauge', 'Frames per second decoded into the camera ring.');
  for (const c of cams) fpsIn(c.fps_in, cam(c.id));
  const fpsOut = out.family('camera_fps_out', 'gauge', 'Frames per second inferred and published.');
  for (const c of cams) fpsOut(c.fps_out, cam(c.id));
  const framesIn = out.family('camera_frames_in_total', 'counter', 'Frames decoded into the camera ring.');
  for (const c of cams) framesIn(c.frames_in, cam(c.id));
  const framesOut = out.family('camera_frames_out_total', 'counter', 'Frames inferred and published.');
  for (const c of cams) framesOut(c.frames_out, cam(c.id));
  const drops = out.family('camera_frames_dropped_total', 'counter', 'Frames dropped before inference, by reason.');
  for (const c of cams) {
    const reasons = new Set<string>([...DROP_REASONS, ...Object.keys(c.drops)]);
    for (const reason of reasons) drops(c.drops[reason] ?? 0, { camera: c.id, reason });
  }
  const reconnects = out.family('camera_reconnects_total', 'counter', 'Times the camera source was reconnected.');
  for (const c of cams) reconnects(c.reconnects, cam(c.id));
  out.summary(
    'camera_latency_seconds',
    'Frame committed to result published, over a recent window.',
    cams.map((c) => ({ labels: cam(c.id), latency: c.latency_ms })),
  );

  // Engine (Triton's words where they fit: queue time, compute time, pending).
  const e = s.engine;
  const info = out.family('engine_info', 'gauge', 'Active model and execution provider (always 1).');
  info(1, { model: e.model, provider: e.provider });
  const queue = out.family('engine_queue_depth', 'gauge', 'Frames waiting for a batch plus batches in flight.');
  queue(e.queue_depth);
  const inFlight = out.family('engine_batches_in_flight', 'gauge', 'Batches submitted to the pool and not yet answered.');
  inFlight(e.batches_in_flight);
  const batches = out.family('engine_batches_total', 'counter', 'Batches inferred.');
  batches(e.batches_total);
  const batchSize = out.family('engine_batch_size_mean', 'gauge', 'Mean frames per batch.');
  batchSize(e.mean_batch_size);
  out.summary('engine_inference_seconds', 'Compute time per batch, over a recent window.', [{ labels: {}, latency: e.inference_ms }]);
  out.summary('engine_queue_seconds', 'Time a frame waited for its batch, over a recent window.', [{ labels: {}, latency: e.queue_ms }]);
  const restarts = out.family('engine_worker_restarts_total', 'counter', 'Inference workers replaced after a crash or stall.');
  restarts(e.worker_restarts);
  const errors = out.family('engine_errors_total', 'counter', 'Batches that failed inference.');
  errors(e.errors);

  // Capture.
  const cap = s.capture;
  const captured = out.family('capture_captured_total', 'counter', 'Inference frames saved to disk.');
  captured(cap.captured);
  const skipped = out.family('capture_skipped_total', 'counter', 'Frames not captured because the encoder queue was full.');
  skipped(cap.skipped);
  const uploaded = out.family('capture_uploaded_total', 'counter', 'Captured files uploaded to S3.');
  uploaded(cap.uploaded);
  const failures = out.family('capture_upload_failures_total', 'counter', 'S3 uploads that failed after retries.');
  failures(cap.upload_failures);
  const pending = out.family('capture_pending_uploads', 'gauge', 'Files waiting for upload.');
  pending(cap.pending_uploads);
  const pendingBytes = out.family('capture_pending_bytes', 'gauge', 'Bytes waiting for upload.');
  pendingBytes(cap.pending_bytes);

  // Clients.
  const cl = s.clients;
  const clients = out.family('clients', 'gauge', 'Connected streaming clients, by transport.');
  clients(cl.sse_clients, { transport: 'sse' });
  clients(cl.ws_clients, { transport: 'websocket' });
  const published = out.family('events_published_total', 'counter', 'Result events published to clients.');
  published(cl.events_published);
  const dropped = out.family('events_dropped_slow_client_total', 'counter', 'Events not sent because a client was too slow.');
  dropped(cl.events_dropped_slow_client);

  // Authentication.
  const refused = out.family('auth_failures_total', 'counter', 'Requests refused by authentication, by reason (missing, invalid, expired, forbidden, origin, rate_limited).');
  for (const reason of AUTH_FAILURE_REASONS) refused(s.auth.failures[reason], { reason });

  return out.text();
}
