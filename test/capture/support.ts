/** Shared by the capture tests: real pictures, real events, a real S3 server. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import S3rver from 's3rver';
import sharp from 'sharp';
import { defaultConfig, type CameraConfig, type CaptureConfig } from '../../src/config/schema.js';
import type { StreamEvent } from '../../src/contracts/events.js';
import type { CaptureImage } from '../../src/capture/inference-capture.js';
import { fixturePath } from '../helpers/fixtures.js';

export const SLIDESHOW_360P = await fixturePath('media', 'coco_slideshow_360p.mp4');

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `capture-${label}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A real picture as packed RGB, the way a ring slot holds a frame. */
export async function loadRgb(file: string): Promise<CaptureImage> {
  const { data, info } = await sharp(await fixturePath('coco', file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

export function captureConfig(dir: string, patch: Partial<CaptureConfig> = {}): CaptureConfig {
  const base = defaultConfig().capture;
  return { ...base, inference: true, every_n: 1, dir, ...patch, s3: { ...base.s3, ...patch.s3 } };
}

export function camera(id: string, patch: Partial<CameraConfig> = {}): CameraConfig {
  return { id, url: `rtsp://user:secret@127.0.0.1:8554/${id}`, fps: 5, transport: 'tcp', loop: true, realtime: true, ...patch };
}

let nextEventId = 1;

export function streamEvent(cameraId: string, frame: number, capturedAt: Date, hasPerson: boolean): StreamEvent {
  return {
    id: nextEventId++,
    camera_id: cameraId,
    camera: cameraId,
    frame,
    captured_at: capturedAt.toISOString(),
    latency_ms: 42,
    model: 'yolox_nano',
    predictions: [{ label: hasPerson ? 'person' : 'teddy bear', score: 0.91 }],
    has_person: hasPerson,
    detections: [{ label: hasPerson ? 'person' : 'teddy bear', class_id: hasPerson ? 0 : 77, score: 0.91, box: [10, 20, 110, 220] }],
  };
}

/** Layout files (not dot-files) under dir, '/'-separated and sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    // Retention and delete-after-upload remove emptied directories while we look.
    const entries = await readdir(path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && path !== dir) return [];
      throw err;
    });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Polls until `check` is true; fails after `timeoutMs` instead of hanging. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A real s3rver on 127.0.0.1 that can be stopped and started again on the same port and directory. */
export class TestS3 {
  private server: S3rver | null = null;
  port = 0;
  /** PUT requests that reached the server, per path (`/bucket/key`). */
  readonly puts = new Map<string, number>();

  constructor(
    readonly directory: string,
    readonly bucket: string,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new S3rver({ address: '127.0.0.1', port: this.port, silent: true, directory: this.directory, configureBuckets: [{ name: this.bucket }] });
    const address = await server.run();
    this.port = address.port;
    server.httpServer?.on('request', (req: IncomingMessage) => {
      if (req.method !== 'PUT' || !req.url) return;
      const path = decodeURIComponent(req.url.split('?')[0] as string);
      this.puts.set(path, (this.puts.get(path) ?? 0) + 1);
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    // Clients keep connections alive; drop them or close() waits for them.
    server.httpServer?.closeAllConnections();
    await server.close();
  }
}
