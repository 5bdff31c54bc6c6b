import { beforeAll, describe, expect, it } from 'vitest';
import { PROMETHEUS_CONTENT_TYPE, PrometheusExporter, toPrometheus } from '../../src/telemetry/prometheus.js';
import { realisticSnapshot } from './snapshot-fixture.js';

// --- A small strict parser for the text exposition format 0.0.4 -----------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type?: string;
  help?: string;
}
interface Parsed {
  families: Map<string, Family>;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'summary', 'histogram', 'untyped']);

/** The family a sample belongs to, given the declared families. */
function familyOf(name: string, families: Map<string, Family>): string | undefined {
  if (families.has(name)) return name;
  for (const suffix of ['_sum', '_count', '_bucket']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const type = families.get(base)?.type;
      if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return undefined;
}

function parseLabels(text: string, at: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after '{'
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`${at}: label without '='`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${at}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`${at}: duplicate label ${name}`);
    if (text[eq + 1] !== '"') throw new Error(`${at}: label value not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const ch = text[j];
      if (ch === undefined) throw new Error(`${at}: unterminated label value`);
      if (ch === '\n') throw new Error(`${at}: raw line feed in label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${at}: bad escape \\${next ?? ''}`);
        j += 2;
      } else {
        value += ch;
        j++;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${at}: expected ',' or '}' after label ${name}`);
  }
}

function parseExposition(text: string): Parsed {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a line feed');
  const families = new Map<string, Family>();
  const samples: Sample[] = [];
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, n) => {
    const at = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`${at}: bad metric name ${name}`);
      const fam = families.get(name) ?? {};
      if (kind === 'TYPE') {
        if (fam.type) throw new Error(`${at}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${at}: unknown type ${rest}`);
        if (samples.some((s) => familyOf(s.name, new Map([[name, { type: rest }]])) === name)) {
          throw new Error(`${at}: TYPE for ${name} after its samples`);
        }
        fam.type = rest;
      } else {
        if (fam.help !== undefined) throw new Error(`${at}: second HELP for ${name}`);
        if (/\\(?![\\n])/.test(rest)) throw new Error(`${at}: bad escape in HELP`);
        fam.help = rest;
      }
      families.set(name, fam);
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`${at}: no metric name in ${JSON.stringify(line)}`);
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, at));
    const parts = rest.split(' ');
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) throw new Error(`${at}: expected ' value [timestamp]' in ${JSON.stringify(line)}`);
    const valueText = parts[1] as string;
    if (!FLOAT.test(valueText)) throw new Error(`${at}: bad value ${valueText}`);
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`${at}: bad timestamp ${parts[2]}`);
    const family = familyOf(name, families);
    if (!family || !families.get(family)?.type) throw new Error(`${at}: sample ${name} has no TYPE`);
    const type = families.get(family)?.type;
    if (type === 'summary' && name === family && labels.quantile === undefined) throw new Error(`${at}: summary sample without quantile`);
    if (family !== current) {
      if (closed.has(family)) throw new Error(`${at}: samples of ${family} are not contiguous`);
      if (current) closed.add(current);
      current = family;
    }
    const key = name + JSON.stringify(Object.entries(labels).sort());
    if (seenSeries.has(key)) throw new Error(`${at}: duplicate series ${key}`);
    seenSeries.add(key);
    const value = valueText === '+Inf' || valueText === 'Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    samples.push({ name, labels, value });
  });
  return { families, samples };
}

function value(parsed: Parsed, name: string, labels: Record<string, string>): number | undefined {
  const hits = parsed.samples.filter(
    (s) => s.name === name && Object.keys(labels).length === Object.keys(s.labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(hits.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return hits[0]?.value;
}

// --- The parser is strict: it must reject what Prometheus rejects ---------

describe('the strict exposition parser used by these tests', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n';
  it('accepts a minimal valid exposition', () => {
    expect(parseExposition(ok).samples).toEqual([{ name: 'a_total', labels: { x: '1' }, value: 2 }]);
  });
  it.each([
    ['a sample without TYPE', 'b 1\n'],
    ['a bad escape', '# TYPE a gauge\na{x="\\t"} 1\n'],
    ['an unquoted label value', '# TYPE a gauge\na{x=1} 1\n'],
    ['a non-numeric value', '# TYPE a gauge\na 1,5\n'],
    ['interleaved families', '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="y"} 2\n'],
    ['a duplicate series', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'],
    ['a missing final line feed', '# TYPE a gauge\na 1'],
    ['a summary quantile sample without quantile', '# TYPE s summary\ns 1\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});

// --- toPrometheus ---------------------------------------------------------

describe('toPrometheus', () => {
  const snapshot = realisticSnapshot();
  let text: string;
  let parsed: Parsed;
  beforeAll(async () => {
    text = await toPrometheus(snapshot);
    parsed = parseExposition(text);
  });

  it('produces a valid exposition where every family has HELP and TYPE', () => {
    expect(parsed.samples.length).toBeGreaterThan(50);
    for (const [name, fam] of parsed.families) {
      expect(fam.type, name).toBeDefined();
      expect(fam.help, name).toBeTruthy();
      expect(name.startsWith('stream_ml_'), name).toBe(true);
    }
    for (const [name, fam] of parsed.families) {
      if (fam.type === 'counter') expect(name.endsWith('_total'), name).toBe(true);
    }
    expect(PROMETHEUS_CONTENT_TYPE).toContain('version=0.0.4');
  });

  it('exports every camera as its own labelled series', () => {
    for (const c of snapshot.cameras) {
      const cam = { camera: c.id };
      expect(value(parsed, 'stream_ml_camera_fps_in', cam)).toBe(c.fps_in);
      expect(value(parsed, 'stream_ml_camera_fps_out', cam)).toBe(c.fps_out);
      expect(value(parsed, 'stream_ml_camera_frames_in_total', cam)).toBe(c.frames_in);
      expect(value(parsed, 'stream_ml_camera_frames_out_total', cam)).toBe(c.frames_out);
      expect(value(parsed, 'stream_ml_camera_reconnects_total', cam)).toBe(c.reconnects);
      expect(value(parsed, 'stream_ml_camera_state', { ...cam, state: c.state })).toBe(1);
      expect(value(parsed, 'stream_ml_camera_state', { ...cam, state: 'stopped' })).toBe(0);
      for (const [reason, n] of Object.entries(c.drops)) {
        expect(value(parsed, 'stream_ml_camera_frames_dropped_total', { ...cam, reason })).toBe(n);
      }
      // Known reasons exist from the start, at zero.
      expect(value(parsed, 'stream_ml_camera_frames_dropped_total', { ...cam, reason: 'busy' })).toBe(c.drops.busy ?? 0);
      expect(value(parsed, 'stream_ml_camera_latency_seconds_count', cam)).toBe(c.latency_ms.count);
    }
    expect(parsed.families.get('stream_ml_camera_latency_seconds')?.type).toBe('summary');
  });

  it('exports latency quantiles in seconds, NaN for an empty window', () => {
    const front = snapshot.cameras[0]!;
    expect(value(parsed, 'stream_ml_camera_latency_seconds', { camera: front.id, quantile: '0.5' })).toBeCloseTo(front.latency_ms.p50 / 1000, 9);
    expect(value(parsed, 'stream_ml_camera_latency_seconds', { camera: front.id, quantile: '0.99' })).toBeCloseTo(front.latency_ms.p99 / 1000, 9);
    expect(front.latency_ms.p99).toBeGreaterThan(front.latency_ms.p50);
    expect(value(parsed, 'stream_ml_camera_latency_seconds', { camera: 'lobby', quantile: '0.95' })).toBeNaN();
    expect(text).toContain('stream_ml_camera_latency_seconds{camera="lobby",quantile="0.95"} NaN\n');
    const e = snapshot.engine;
    expect(value(parsed, 'stream_ml_engine_inference_seconds', { quantile: '0.95' })).toBeCloseTo(e.inference_ms.p95 / 1000, 9);
    expect(value(parsed, 'stream_ml_engine_queue_seconds_count', {})).toBe(e.queue_ms.count);
  });

  it('exports engine, capture and client metrics', () => {
    const { engine: e, capture: c, clients: cl } = snapshot;
    expect(value(parsed, 'stream_ml_engine_info', { model: e.model, provider: e.provider })).toBe(1);
    expect(value(parsed, 'stream_ml_engine_queue_depth', {})).toBe(e.queue_depth);
    expect(value(parsed, 'stream_ml_engine_batches_in_flight', {})).toBe(e.batches_in_flight);
    expect(value(parsed, 'stream_ml_engine_batches_total', {})).toBe(e.batches_total);
    expect(value(parsed, 'stream_ml_engine_batch_size_mean', {})).toBe(e.mean_batch_size);
    expect(value(parsed, 'stream_ml_engine_worker_restarts_total', {})).toBe(e.worker_restarts);
    expect(value(parsed, 'stream_ml_engine_errors_total', {})).toBe(e.errors);
    expect(value(parsed, 'stream_ml_capture_captured_total', {})).toBe(c.captured);
    expect(value(parsed, 'stream_ml_capture_upload_failures_total', {})).toBe(c.upload_failures);
    expect(value(parsed, 'stream_ml_capture_pending_bytes', {})).toBe(c.pending_bytes);
    expect(value(parsed, 'stream_ml_clients', { transport: 'sse' })).toBe(cl.sse_clients);
    expect(value(parsed, 'stream_ml_clients', { transport: 'websocket' })).toBe(cl.ws_clients);
    expect(value(parsed, 'stream_ml_events_dropped_slow_client_total', {})).toBe(cl.events_dropped_slow_client);
    expect(value(parsed, 'stream_ml_cameras', {})).toBe(3);
  });

  it('escapes label values so that they round-trip', async () => {
    const odd = realisticSnapshot();
    const nasty = 'cam "north"\\wing\nfloor 2';
    odd.cameras[0]!.id = nasty;
    odd.cameras[0]!.drops = { 'odd"reason\\': 5 };
    odd.engine.model = 'C:\\models\\"best".onnx';
    const out = parseExposition(await toPrometheus(odd));
    expect(value(out, 'stream_ml_camera_fps_in', { camera: nasty })).toBe(odd.cameras[0]!.fps_in);
    expect(value(out, 'stream_ml_camera_frames_dropped_total', { camera: nasty, reason: 'odd"reason\\' })).toBe(5);
    expect(value(out, 'stream_ml_engine_info', { model: odd.engine.model, provider: 'cpu' })).toBe(1);
  });

  it('stays valid with no cameras', async () => {
    const empty = realisticSnapshot();
    empty.cameras = [];
    const out = parseExposition(await toPrometheus(empty));
    expect(out.samples.some((s) => 'camera' in s.labels)).toBe(false);
    expect(value(out, 'stream_ml_cameras', {})).toBe(0);
  });
});

describe('cluster families', () => {
  it('appear only for a snapshot from cluster mode, labelled with the instance', async () => {
    const exporter = new PrometheusExporter();
    const single = await exporter.render(realisticSnapshot());
    expect(single).not.toContain('stream_ml_cluster_');
    const cluster = {
      instance: 'task-1',
      redis_up: 1 as const,
      instances: 3,
      cameras_total: 9,
      cameras_owned: 4,
      moves_in: 5,
      moves_out: 1,
      lease_losses: 2,
      bus_published: 100,
      bus_fenced: 3,
      bus_failed: 0,
      bus_delivered: 300,
    };
    const text = await exporter.render({ ...realisticSnapshot(), cluster });
    expect(text).toContain('stream_ml_cluster_instances{instance="task-1"} 3');
    expect(text).toContain('stream_ml_cluster_cameras_owned{instance="task-1"} 4');
    expect(text).toContain('stream_ml_cluster_camera_moves_total{instance="task-1",direction="out"} 1');
    expect(text).toContain('stream_ml_cluster_lease_losses_total{instance="task-1"} 2');
    expect(text).toContain('stream_ml_cluster_bus_events_total{instance="task-1",outcome="fenced"} 3');
    expect(text).toMatch(/^# TYPE stream_ml_cluster_redis_up gauge$/m);
  });
});
