/**
 * A small, real ApiDeps for HTTP tests (sharp decodes uploads; events have a
 * real bounded history) plus raw-socket and multipart helpers. The engine-backed
 * end-to-end tests live with the app.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import sharp, { type Metadata } from 'sharp';
import { HttpError, type ApiDeps, type HealthInfo, type LiveInfo, type ReadyInfo } from '../../src/api/deps.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/api/server.js';
import type { PredictResponse, StreamEvent } from '../../src/contracts/events.js';
import type { CameraStatus } from '../../src/contracts/camera.js';
import type { AuthFailureReason } from '../../src/contracts/auth.js';
import { emptyAuthMetrics, type MetricsSnapshot } from '../../src/telemetry/snapshot.js';
import type { CameraConfig } from '../../src/config/schema.js';
import { fixturePath } from '../helpers/fixtures.js';

export const JPEG = readFileSync(await fixturePath('coco', '000000000139.jpg'));
export const JPEG2 = readFileSync(await fixturePath('coco', '000000000632.jpg'));
const MAX_PIXELS = 1_000_000;

export class TestEvents {
  private readonly listeners = new Set<(event: StreamEvent) => void>();
  readonly history: StreamEvent[] = [];
  private nextId = 1;

  subscribe(listener: (event: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  since(lastId: number): StreamEvent[] {
    return this.history.filter((event) => event.id > lastId);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  publish(camera: string, extra: Partial<StreamEvent> = {}): StreamEvent {
    const event: StreamEvent = {
      id: this.nextId++,
      camera_id: camera,
      camera,
      frame: this.nextId,
      captured_at: new Date(0).toISOString(),
      latency_ms: 1.5,
      model: 'test-model',
      predictions: [{ label: 'teddy bear', score: 0.9 }],
      ...extra,
    };
    this.history.push(event);
    if (this.history.length > 100) this.history.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }
}

export function cameraStatus(id: string, url: string): CameraStatus {
  return {
    id,
    url,
    kind: 'file',
    state: 'streaming',
    last_frame_age_ms: 10,
    fps_in: 25,
    fps_out: 25,
    drops: {},
    frames_in: 0,
    frames_out: 0,
    reconnects: 0,
    last_error: null,
    source_width: 640,
    source_height: 480,
    started_at: new Date(0).toISOString(),
  };
}

export class TestDeps implements ApiDeps {
  readonly events = new TestEvents();
  readonly cameraMap = new Map<string, CameraStatus>([['cam1', cameraStatus('cam1', 'file:///a.mp4')]]);
  /** Cameras with a preview frame. */
  readonly frames = new Map<string, Buffer>([['cam1', JPEG]]);
  drops = 0;
  readonly auth = emptyAuthMetrics();
  predictCalls = 0;
  /** When set, predict throws this once. */
  failNextPredict: Error | null = null;

  health(): HealthInfo {
    return { status: 'ok', model: 'test-model', task: 'classification', provider: 'cpu', uptime_s: 1, cameras: this.cameraMap.size, version: '0.0.0-test', problems: [] };
  }

  /** What GET /health/ready answers; tests set it to drive the transitions. */
  readiness: ReadyInfo = { status: 'ready', problems: [] };

  live(): LiveInfo {
    return { status: 'live', uptime_s: 1, version: '0.0.0-test' };
  }

  ready(): ReadyInfo {
    return this.readiness;
  }

  async predict(image: Buffer): Promise<PredictResponse> {
    this.predictCalls++;
    if (this.failNextPredict) {
      const err = this.failNextPredict;
      this.failNextPredict = null;
      throw err;
    }
    let meta: Metadata;
    try {
      meta = await sharp(image).metadata();
    } catch {
      throw new HttpError(415, 'the upload is not a supported image', 'unsupported_media_type');
    }
    const width = meta.width ?? 0;
    const height = meta.height ?? 0;
    if (width * height > MAX_PIXELS) throw new HttpError(422, `image has ${width * height} pixels`, 'too_many_pixels');
    try {
      await sharp(image, { failOn: 'truncated' }).raw().toBuffer();
    } catch {
      throw new HttpError(422, 'the image is truncated or corrupt', 'corrupt_image');
    }
    return { model: 'test-model', latency_ms: 1, width, height, predictions: [{ label: 'teddy bear', score: 0.5 }] };
  }

  cameras = {
    list: (): CameraStatus[] => [...this.cameraMap.values()],
    limits: () => ({ max_cameras: 16, active_cameras: this.cameraMap.size, max_fps: 30 }),
    add: async (input: unknown): Promise<CameraStatus> => {
      const body = input as { id?: unknown; url?: unknown } | null;
      if (typeof body !== 'object' || body === null || typeof body.id !== 'string' || typeof body.url !== 'string') {
        throw new HttpError(400, 'id and url are required', 'invalid_camera');
      }
      if (this.cameraMap.has(body.id)) throw new HttpError(409, `camera ${body.id} exists`, 'conflict');
      const status = cameraStatus(body.id, body.url);
      this.cameraMap.set(body.id, status);
      return status;
    },
    remove: async (id: string): Promise<boolean> => this.cameraMap.delete(id),
    configs: (): CameraConfig[] => [],
  };

  previews = {
    preview: async (id: string): Promise<{ jpeg: Buffer; width: number; height: number } | null> => {
      if (!this.cameraMap.has(id)) throw new HttpError(404, `no camera ${id}`, 'not_found');
      const jpeg = this.frames.get(id);
      return jpeg ? { jpeg, width: 640, height: 480 } : null;
    },
  };

  metrics(): MetricsSnapshot {
    const latency = { p50: 10, p95: 20, p99: 30, count: 5 };
    return {
      timestamp_ms: 0,
      uptime_s: 1,
      cameras: [{ id: 'cam1', state: 'streaming', fps_in: 25, fps_out: 24, frames_in: 100, frames_out: 99, drops: { superseded: 1 }, reconnects: 0, latency_ms: latency }],
      engine: { model: 'test-model', provider: 'cpu', queue_depth: 0, batches_in_flight: 0, batches_total: 9, mean_batch_size: 1, inference_ms: latency, queue_ms: latency, worker_restarts: 0, errors: 0 },
      capture: { captured: 0, skipped: 0, uploaded: 0, upload_failures: 0, pending_uploads: 0, pending_bytes: 0 },
      clients: { sse_clients: 0, ws_clients: 0, events_published: 0, events_dropped_slow_client: this.drops },
      auth: { failures: { ...this.auth.failures } },
    };
  }

  onClientDrop(count: number): void {
    this.drops += count;
  }

  onAuthFailure(reason: AuthFailureReason): void {
    this.auth.failures[reason]++;
  }
}

export interface TestServer {
  server: RunningServer;
  deps: TestDeps;
  base: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestServer(overrides: Partial<ServerOptions> = {}, deps = new TestDeps()): Promise<TestServer> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const server = await startServer(deps, {
    host: '127.0.0.1',
    port: 0,
    maxUploadBytes: 1024 * 1024,
    corsOrigins: [],
    sseHeartbeatMs: 60_000,
    clientMaxBufferedBytes: 256 * 1024,
    logger: pino({ level: 'info' }, sink),
    ...overrides,
  });
  return { server, deps, base: `http://127.0.0.1:${server.port}`, logs, close: () => server.close() };
}

export function multipart(boundary: string, fields: { name: string; data: Buffer | string; filename?: string }[]): Buffer {
  const chunks: Buffer[] = [];
  for (const field of fields) {
    const filename = field.filename ? `; filename="${field.filename}"` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field.name}"${filename}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(field.data) ? field.data : Buffer.from(field.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export function imageForm(image: Buffer, field = 'file'): FormData {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'upload.jpg');
  return form;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Writes `head` then `body` pieces on a raw socket and reads one response.
 * Write errors after the server answered (it may close early) are expected.
 */
export function rawRequest(port: number, head: string, body: Iterable<Buffer> = [], waitForClose = false, pauseMs = 0): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let received = 0;
    let parsed: { status: number; headers: Record<string, string>; bodyStart: number } | null = null;
    let settled = false;
    const parseHead = (): void => {
      const data = Buffer.concat(chunks);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = data.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      parsed = { status: Number(lines[0]!.split(' ')[1]), headers, bodyStart: end + 4 };
    };
    const finish = (closed: boolean): void => {
      if (settled) return;
      if (parsed === null) parseHead();
      if (parsed === null) {
        if (closed) {
          settled = true;
          reject(new Error(`connection closed without a response: ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`));
        }
        return;
      }
      const length = Number(parsed.headers['content-length'] ?? 'NaN');
      if (!closed && (waitForClose || !(received - parsed.bodyStart >= length))) return;
      settled = true;
      socket.destroy();
      resolve({ status: parsed.status, headers: parsed.headers, body: Buffer.concat(chunks).toString('latin1', parsed.bodyStart), closed });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      socket.write(head);
      // Not reading for a while makes the server meet backpressure.
      if (pauseMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), pauseMs);
      }
      const pieces = body[Symbol.iterator]();
      const pump = (): void => {
        for (;;) {
          if (settled || socket.destroyed) return;
          const next = pieces.next();
          if (next.done) return;
          if (!socket.write(next.value)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    socket.setTimeout(20_000, () => {
      settled = true;
      socket.destroy();
      reject(new Error('raw request timed out'));
    });
  });
}
