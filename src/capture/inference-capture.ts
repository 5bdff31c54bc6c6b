/**
 * Inference capture: every Nth inferred frame of a camera is saved as a JPEG
 * plus a JSON of what the model said, for building datasets.
 *
 * - Never blocks the caller: `offer` copies the pixels and returns; sharp
 *   encodes on libuv's thread pool. At most `max_pending` captures are being
 *   encoded or written at once; more are skipped and counted.
 * - Image first, JSON last, each via temp file + rename: a JSON on disk
 *   means its image is complete.
 * - Retention deletes the oldest groups past `retention_max_bytes` or
 *   `retention_max_age_hours`; with S3 configured only uploaded ones. If the
 *   byte limit is reached by files not yet uploaded (store down), new
 *   captures are skipped rather than letting the disk fill.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import sharp from 'sharp';
import type { CameraConfig, CaptureConfig } from '../config/schema.js';
import type { StreamEvent } from '../contracts/events.js';
import type { CaptureMetrics } from '../telemetry/snapshot.js';
import type { Logger } from '../telemetry/logger.js';
import { captureStem } from './layout.js';
import { removeCaptureGroup, scanCaptures, writeFileAtomic, type CaptureGroup } from './local-store.js';
import { RetainedCaptures } from './retention.js';
import { S3Uploader, type RetryPolicy } from './s3-uploader.js';
import { redactUrl } from '../contracts/redact.js';

export interface CaptureImage {
  /** Packed RGB, width × height × 3 bytes; copied before `offer` returns. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface CaptureItem {
  camera: CameraConfig;
  event: StreamEvent;
  /** null when the frame's pixels are no longer available (counted as skipped). */
  image: CaptureImage | null;
  /**
   * The camera's source size: the space the event's detection boxes are in.
   * Omit when the image is at source size.
   */
  sourceSize?: { width: number; height: number };
}

export interface InferenceCaptureDeps {
  modelName: string;
  modelSha256: string;
  logger?: Logger;
  /** How long `close` lets queued uploads finish before leaving them for the next start. */
  uploadDrainMs?: number;
  /** Uploader backoff (tests shorten it). */
  uploadRetry?: Partial<RetryPolicy>;
}

/** The JSON written beside each image. */
export interface CaptureRecord {
  camera_id: string;
  /** The camera URL with any user name and password removed. */
  source_url: string;
  model: string;
  model_sha256: string;
  event_id: number;
  frame: number;
  captured_at: string;
  inferred_at: string;
  latency_ms: number;
  /** File name of the image beside this JSON. */
  image: string;
  /** Saved image size (after the `max_side` limit). */
  width: number;
  height: number;
  /** The camera's source size, where the service's boxes are measured. */
  source_width: number;
  source_height: number;
  predictions: StreamEvent['predictions'];
  has_person: boolean | null;
  /** Boxes in pixels of the saved image (scaled from source pixels), so image and labels pair directly. */
  detections: NonNullable<StreamEvent['detections']> | null;
}

const RETENTION_SWEEP_MS = 60_000;

// Credentials never land on disk or in a bucket.
export { redactUrl };

const round2 = (v: number): number => Math.round(v * 100) / 100;

function scaleDetections(detections: NonNullable<StreamEvent['detections']>, sx: number, sy: number): NonNullable<StreamEvent['detections']> {
  return detections.map((d) => ({ ...d, box: [round2(d.box[0] * sx), round2(d.box[1] * sy), round2(d.box[2] * sx), round2(d.box[3] * sy)] }));
}

export class InferenceCapture {
  private readonly log: Logger | undefined;
  private readonly retained = new RetainedCaptures();
  private readonly uploader: S3Uploader | null;
  /** Inferred frames seen per camera, for every-Nth selection. */
  private readonly seen = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly initDone: Promise<boolean>;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> | null = null;
  private closed = false;

  private captured = 0;
  private skipped = 0;
  private warnedFull = false;

  constructor(
    private readonly cfg: CaptureConfig,
    private readonly deps: InferenceCaptureDeps,
  ) {
    this.log = deps.logger;
    this.uploader = cfg.s3.bucket
      ? new S3Uploader({
          dir: cfg.dir,
          s3: cfg.s3,
          logger: deps.logger,
          retry: deps.uploadRetry,
          onUploaded: (group, deleted) => {
            if (deleted) this.retained.remove(new Set([group.stem]));
            // An upload may be what lets retention free space again.
            else if (cfg.retention_max_bytes > 0 && this.retained.totalBytes > cfg.retention_max_bytes) void this.prune();
          },
        })
      : null;
    this.initDone = this.init();
    if (cfg.retention_max_age_hours > 0 || cfg.retention_max_bytes > 0) {
      this.sweepTimer = setInterval(() => void this.prune(), RETENTION_SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  /** Resolves once the directory is scanned and uploads of earlier captures are queued. */
  async ready(): Promise<void> {
    if (!(await this.initDone)) throw new Error(`capture directory ${this.cfg.dir} could not be prepared`);
  }

  /**
   * Every Nth inferred frame per camera, counting from the first. The
   * camera's `capture.enabled` / `capture.every_n` override the global ones.
   */
  shouldCapture(cameraId: string, _frameNo: number, cameraCfg: CameraConfig): boolean {
    if (this.closed || !(cameraCfg.capture?.enabled ?? this.cfg.inference)) return false;
    const every = cameraCfg.capture?.every_n ?? this.cfg.every_n;
    const count = this.seen.get(cameraId) ?? 0;
    this.seen.set(cameraId, count + 1);
    return count % every === 0;
  }

  /** Starts saving one capture; false when it was skipped (and counted). */
  offer(item: CaptureItem): boolean {
    const image = item.image;
    if (this.closed || !image || this.inFlight.size >= this.cfg.max_pending || this.retentionFull()) {
      this.skipped++;
      return false;
    }
    if (image.width <= 0 || image.height <= 0 || image.rgb.byteLength < image.width * image.height * 3) {
      this.log?.warn({ camera: item.camera.id, width: image.width, height: image.height, bytes: image.rgb.byteLength }, 'capture image has the wrong size');
      this.skipped++;
      return false;
    }
    // The caller's buffer may be a ring slot that is reused as soon as we return.
    const rgb = Buffer.from(image.rgb.subarray(0, image.width * image.height * 3));
    const task = this.save(item, rgb, image.width, image.height).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
    return true;
  }

  metrics(): CaptureMetrics {
    const up = this.uploader?.metrics();
    return {
      captured: this.captured,
      skipped: this.skipped,
      uploaded: up?.uploaded ?? 0,
      upload_failures: up?.upload_failures ?? 0,
      pending_uploads: up?.pending_uploads ?? 0,
      pending_bytes: up?.pending_bytes ?? 0,
    };
  }

  /** Finishes every capture already accepted, prunes, and gives uploads `uploadDrainMs` to finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.inFlight]);
    const ok = await this.initDone;
    if (ok) await this.prune();
    await this.pruning;
    await this.uploader?.close({ drainMs: this.deps.uploadDrainMs ?? 5_000 });
  }

  private async init(): Promise<boolean> {
    try {
      await mkdir(this.cfg.dir, { recursive: true });
      const { groups, removed } = await scanCaptures(this.cfg.dir, { removeDebris: true });
      if (removed.length > 0) this.log?.warn({ files: removed.length }, 'removed partial captures left by an earlier run');
      for (const group of groups) this.retained.add(group);
      await this.uploader?.start(groups);
      void this.prune();
      return true;
    } catch (err) {
      this.log?.error({ dir: this.cfg.dir, err: (err as Error).message }, 'capture directory could not be prepared; captures are skipped');
      return false;
    }
  }

  private async save(item: CaptureItem, rgb: Buffer, width: number, height: number): Promise<void> {
    const stemBase = { camera: item.camera.id, frame: item.event.frame };
    try {
      if (!(await this.initDone)) {
        this.skipped++;
        return;
      }
      const capturedAt = Date.parse(item.event.captured_at);
      const when = new Date(Number.isFinite(capturedAt) ? capturedAt : Date.now());
      const stem = captureStem(when, randomUUID());
      const maxSide = this.cfg.max_side > 0 ? this.cfg.max_side : undefined;
      const { data: jpeg, info } = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: this.cfg.jpeg_quality })
        .toBuffer({ resolveWithObject: true });
      const imageRel = `${stem}.jpg`;
      const jsonRel = `${stem}.json`;
      const source = item.sourceSize && item.sourceSize.width > 0 && item.sourceSize.height > 0 ? item.sourceSize : { width, height };
      const record = this.record(item, when, imageRel, info.width, info.height, source.width, source.height);
      const imageBytes = await writeFileAtomic(this.cfg.dir, imageRel, jpeg);
      const jsonBytes = await writeFileAtomic(this.cfg.dir, jsonRel, `${JSON.stringify(record, null, 2)}\n`);
      const group: CaptureGroup = {
        stem,
        timeMs: when.getTime(),
        files: [
          { rel: imageRel, bytes: imageBytes },
          { rel: jsonRel, bytes: jsonBytes },
        ],
      };
      this.captured++;
      this.retained.add(group);
      this.uploader?.enqueue(group);
      if (this.cfg.retention_max_bytes > 0 && this.retained.totalBytes > this.cfg.retention_max_bytes) void this.prune();
    } catch (err) {
      this.skipped++;
      this.log?.warn({ ...stemBase, err: (err as Error).message }, 'capture failed');
    }
  }

  private record(item: CaptureItem, when: Date, imageRel: string, width: number, height: number, sourceWidth: number, sourceHeight: number): CaptureRecord {
    const { event, camera } = item;
    return {
      camera_id: camera.id,
      source_url: redactUrl(camera.url),
      model: this.deps.modelName,
      model_sha256: this.deps.modelSha256,
      event_id: event.id,
      frame: event.frame,
      captured_at: when.toISOString(),
      inferred_at: new Date(when.getTime() + event.latency_ms).toISOString(),
      latency_ms: event.latency_ms,
      image: imageRel.slice(imageRel.lastIndexOf('/') + 1),
      width,
      height,
      source_width: sourceWidth,
      source_height: sourceHeight,
      predictions: event.predictions,
      has_person: event.has_person ?? null,
      detections: event.detections ? scaleDetections(event.detections, width / sourceWidth, height / sourceHeight) : null,
    };
  }

  /**
   * True when the byte limit is exceeded by files that may not be deleted yet
   * (not uploaded). Without S3 the oldest can always go, so never full.
   */
  private retentionFull(): boolean {
    const full = this.uploader !== null && this.cfg.retention_max_bytes > 0 && this.retained.totalBytes > this.cfg.retention_max_bytes;
    if (full) void this.prune();
    if (full && !this.warnedFull) {
      this.log?.warn({ bytes: this.retained.totalBytes, limit: this.cfg.retention_max_bytes }, 'capture directory full of files not yet uploaded; skipping captures');
    }
    this.warnedFull = full;
    return full;
  }

  /** One prune at a time; a request during a prune is served by the next sweep or capture. */
  private prune(): Promise<void> {
    if (this.pruning) return this.pruning;
    this.pruning = this.pruneOnce()
      .catch((err: unknown) => this.log?.warn({ err: (err as Error).message }, 'capture retention failed'))
      .finally(() => {
        this.pruning = null;
      });
    return this.pruning;
  }

  private async pruneOnce(): Promise<void> {
    const limits = { maxBytes: this.cfg.retention_max_bytes, maxAgeMs: this.cfg.retention_max_age_hours * 3_600_000 };
    if (limits.maxBytes <= 0 && limits.maxAgeMs <= 0) return;
    const uploader = this.uploader;
    const victims = this.retained.select(limits, Date.now(), (g) => !uploader || uploader.isGroupUploaded(g));
    if (victims.length === 0) return;
    // Forget first: a group being deleted must not be offered for upload or counted.
    this.retained.remove(new Set(victims.map((g) => g.stem)));
    for (const group of victims) await removeCaptureGroup(this.cfg.dir, group);
    await uploader?.forget(victims.flatMap((g) => g.files.map((f) => f.rel)));
    this.log?.debug({ groups: victims.length }, 'capture retention pruned');
  }
}
