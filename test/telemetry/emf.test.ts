import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEmfReporter, toEmfLines } from '../../src/telemetry/emf.js';
import type { MetricsSnapshot } from '../../src/telemetry/snapshot.js';
import { realisticSnapshot } from './snapshot-fixture.js';

// Units CloudWatch accepts in an EMF directive.
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
  'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count',
  'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks one line against the EMF specification; returns the problems found. */
function emfProblems(line: string): string[] {
  const problems: string[] = [];
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return ['not JSON'];
  }
  if (!isObject(record)) return ['not a JSON object'];
  const aws = record._aws;
  if (!isObject(aws)) return ['_aws missing'];
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp) || aws.Timestamp < 0) problems.push('_aws.Timestamp not epoch ms');
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...problems, '_aws.CloudWatchMetrics missing or empty'];
  for (const d of directives) {
    if (!isObject(d)) {
      problems.push('directive not an object');
      continue;
    }
    if (typeof d.Namespace !== 'string' || d.Namespace.length === 0 || d.Namespace.length > 255) problems.push('bad Namespace');
    if (!Array.isArray(d.Dimensions)) problems.push('Dimensions missing');
    else {
      for (const set of d.Dimensions) {
        if (!Array.isArray(set) || set.length > 30) {
          problems.push('bad DimensionSet');
          continue;
        }
        for (const key of set) {
          if (typeof key !== 'string') problems.push(`dimension key ${String(key)} not a string`);
          else if (typeof record[key] !== 'string' || record[key] === '') problems.push(`dimension ${key} has no string value`);
        }
      }
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length === 0 || d.Metrics.length > 100) {
      problems.push('Metrics missing, empty or over 100');
      continue;
    }
    const names = new Set<string>();
    for (const m of d.Metrics) {
      if (!isObject(m) || typeof m.Name !== 'string' || m.Name.length === 0 || m.Name.length > 1024) {
        problems.push('bad metric definition');
        continue;
      }
      if (names.has(m.Name)) problems.push(`metric ${m.Name} twice`);
      names.add(m.Name);
      if (m.Unit !== undefined && !UNITS.has(m.Unit as string)) problems.push(`metric ${m.Name} has unit ${String(m.Unit)}`);
      const v = record[m.Name];
      if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`metric ${m.Name} has no numeric value`);
    }
  }
  return problems;
}

function records(lines: string[]): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('the EMF validator used by these tests', () => {
  const good = { _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['Camera']], Metrics: [{ Name: 'Fps', Unit: 'Count/Second' }] }] }, Camera: 'a', Fps: 1 };
  it('accepts a valid record', () => {
    expect(emfProblems(JSON.stringify(good))).toEqual([]);
  });
  it.each([
    ['a metric without a value', { ...good, Fps: undefined }],
    ['a metric with a string value', { ...good, Fps: '1' }],
    ['a dimension without a value', { ...good, Camera: undefined }],
    ['a missing timestamp', { ...good, _aws: { ...good._aws, Timestamp: undefined } }],
    ['an unknown unit', { ...good, _aws: { ...good._aws, CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Metrics: [{ Name: 'Fps', Unit: 'Frames' }] }] } }],
  ])('rejects %s', (_what, record) => {
    expect(emfProblems(JSON.stringify(record)).length).toBeGreaterThan(0);
  });
});

describe('toEmfLines', () => {
  const snapshot = realisticSnapshot();
  const lines = toEmfLines(snapshot, 'StreamMlService');

  it('writes one valid line per camera and one for the service', () => {
    expect(lines).toHaveLength(snapshot.cameras.length + 1);
    for (const line of lines) {
      expect(line.includes('\n')).toBe(false);
      expect(emfProblems(line), line).toEqual([]);
    }
    const recs = records(lines);
    expect(recs.slice(0, -1).map((r) => r.Camera)).toEqual(snapshot.cameras.map((c) => c.id));
    for (const r of recs) {
      const aws = r._aws as { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
      expect(aws.Timestamp).toBe(snapshot.timestamp_ms);
      expect(aws.CloudWatchMetrics[0]!.Namespace).toBe('StreamMlService');
    }
    expect((recs[0]!._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions).toEqual([['Camera']]);
    expect(recs.at(-1)!.Service).toBe('stream-ml-service');
  });

  it('carries the snapshot values, latencies in milliseconds', () => {
    const [front, yard] = records(lines);
    const c = snapshot.cameras[0]!;
    expect(front).toMatchObject({ FpsIn: c.fps_in, FpsOut: c.fps_out, FramesIn: c.frames_in, Reconnects: c.reconnects, LatencyP95: c.latency_ms.p95, State: 'streaming' });
    expect(front!.FramesDropped).toBe(800);
    expect(front!.FramesDropped_stale).toBe(100);
    expect(yard!.FramesDropped_overwritten).toBe(100);
    const service = records(lines).at(-1)!;
    const e = snapshot.engine;
    expect(service).toMatchObject({
      QueueDepth: e.queue_depth,
      Batches: e.batches_total,
      InferenceP99: e.inference_ms.p99,
      Uploaded: snapshot.capture.uploaded,
      PendingUploadBytes: snapshot.capture.pending_bytes,
      WebSocketClients: snapshot.clients.ws_clients,
      Model: e.model,
      Provider: e.provider,
    });
  });

  it('leaves out metrics that have no value yet instead of writing null', () => {
    const lobby = lines[2]!;
    expect(lobby).not.toContain('null');
    expect(JSON.parse(lobby)).not.toHaveProperty('LatencyP50');
    expect(emfProblems(lobby)).toEqual([]);
  });

  it('reports counters as increments since the previous snapshot, and survives a counter reset', () => {
    const later = realisticSnapshot({ scale: 3, timestamp_ms: snapshot.timestamp_ms + 60_000 });
    const recs = records(toEmfLines(later, 'NS', snapshot));
    expect(recs[0]!.FramesIn).toBe(18_000 * 2);
    expect(recs[0]!.FramesDropped).toBe(800 * 2);
    expect(recs.at(-1)!.Batches).toBe(6_100 * 2);
    // Gauges are not differenced.
    expect(recs[0]!.FpsIn).toBe(5);
    expect(recs.at(-1)!.QueueDepth).toBe(3);
    // The camera was re-added: its counters start again from zero.
    const restarted = realisticSnapshot({ scale: 0.5 });
    expect(records(toEmfLines(restarted, 'NS', snapshot))[0]!.FramesIn).toBe(9_000);
  });
});

describe('startEmfReporter', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes a report every interval with increments, and stops when asked', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    let tick = 0;
    const stop = startEmfReporter(() => realisticSnapshot({ scale: ++tick }), { intervalS: 60, namespace: 'NS', write: (l) => written.push(l) });
    vi.advanceTimersByTime(59_999);
    expect(written).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(written).toHaveLength(4);
    vi.advanceTimersByTime(60_000);
    expect(written).toHaveLength(8);
    for (const line of written) expect(emfProblems(line)).toEqual([]);
    expect(records(written.slice(0, 1))[0]!.FramesIn).toBe(18_000);
    expect(records(written.slice(4, 5))[0]!.FramesIn).toBe(18_000);
    stop();
    vi.advanceTimersByTime(600_000);
    expect(written).toHaveLength(8);
  });

  it('keeps its own copy of the previous snapshot when the app reuses one object', () => {
    vi.useFakeTimers();
    const shared: MetricsSnapshot = realisticSnapshot();
    const written: string[] = [];
    const stop = startEmfReporter(() => shared, { intervalS: 1, namespace: 'NS', write: (l) => written.push(l) });
    vi.advanceTimersByTime(1000);
    shared.engine.batches_total += 10;
    vi.advanceTimersByTime(1000);
    stop();
    expect(records(written).filter((r) => r.Service).map((r) => r.Batches)).toEqual([6_100, 10]);
  });

  it('skips a tick whose snapshot throws and carries on', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const errors: unknown[] = [];
    let n = 0;
    const stop = startEmfReporter(
      () => {
        if (++n === 1) throw new Error('not ready');
        return realisticSnapshot();
      },
      { intervalS: 5, namespace: 'NS', write: (l) => written.push(l), onError: (e) => errors.push(e) },
    );
    vi.advanceTimersByTime(10_000);
    stop();
    expect(errors).toHaveLength(1);
    expect(written).toHaveLength(4);
  });

  it('reports nothing when the interval is 0', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const stop = startEmfReporter(() => realisticSnapshot(), { intervalS: 0, namespace: 'NS', write: (l) => written.push(l) });
    vi.advanceTimersByTime(3_600_000);
    stop();
    expect(written).toHaveLength(0);
  });
});
