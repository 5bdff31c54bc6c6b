/**
 * Background upload of capture groups to S3 (or any S3-protocol store).
 *
 * - Bounded: `concurrency` groups in flight; files of a group go in order,
 *   image then JSON, so a JSON in the bucket means its image is there too.
 * - While the store is down, one probe at a time retries with exponential
 *   backoff (forever, or `max_retries` per file when > 0); the rest wait, so
 *   an outage costs one failing request per backoff step, not a storm.
 * - Nothing is lost across an outage or a restart: every uploaded file is
 *   recorded in the journal (`UploadIndex`); at start the directory is
 *   scanned and whatever the journal lacks is queued again. The key comes
 *   from the relative path, so a repeated upload overwrites the same object.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Config } from '../config/schema.js';
import type { CaptureMetrics } from '../telemetry/snapshot.js';
import type { Logger } from '../telemetry/logger.js';
import { backoffDelay } from '../lib/backoff.js';
import { contentTypeFor, s3KeyFor } from './layout.js';
import { removeCaptureGroup, scanCaptures, type CaptureFile, type CaptureGroup } from './local-store.js';
import { UploadIndex } from './upload-index.js';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Fraction of each delay added or removed at random (0..1). */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 500, maxMs: 30_000, multiplier: 2, jitter: 0.2 };

export interface S3UploaderOptions {
  /** The capture directory; relative paths and the journal live under it. */
  dir: string;
  s3: S3Config;
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** One PUT taking longer than this counts as a failure. */
  requestTimeoutMs?: number;
  /** Told when every file of a group is in the bucket (and whether it was deleted locally). */
  onUploaded?: (group: CaptureGroup, deletedLocally: boolean) => void;
}

export type UploadMetrics = Pick<CaptureMetrics, 'uploaded' | 'upload_failures' | 'pending_uploads' | 'pending_bytes'>;

class ClosedError extends Error {}

/** Builds the client: explicit endpoint and keys when configured, else the AWS default chain (ECS task role). */
export function createS3Client(s3: S3Config, requestTimeoutMs: number): S3Client {
  const config: S3ClientConfig = {
    // Our own retry loop owns backoff; SDK retries would only stretch each attempt.
    maxAttempts: 1,
    forcePathStyle: s3.force_path_style,
    // S3-compatible stores often reject the newer default checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: requestTimeoutMs, connectionTimeout: Math.min(requestTimeoutMs, 5_000) },
  };
  if (s3.region) config.region = s3.region;
  else if (s3.endpoint && !process.env.AWS_REGION) config.region = 'us-east-1';
  if (s3.endpoint) config.endpoint = s3.endpoint;
  if (s3.access_key_id && s3.secret_access_key) {
    config.credentials = { accessKeyId: s3.access_key_id, secretAccessKey: s3.secret_access_key };
  }
  return new S3Client(config);
}

export class S3Uploader {
  private readonly retry: RetryPolicy;
  private readonly client: S3Client;
  private readonly log: Logger | undefined;
  private index: UploadIndex | null = null;
  private started = false;
  private closing = false;
  private readonly abort = new AbortController();

  private readonly queue: CaptureGroup[] = [];
  /** Stems queued or in flight, so a group is never uploaded by two workers. */
  private readonly queued = new Set<string>();
  private readonly active = new Set<Promise<void>>();

  /** Consecutive failed attempts; > 0 means the store is presumed down. */
  private failures = 0;
  private resumeAt = 0;
  private probing = false;
  private readonly waiters = new Set<() => void>();

  private uploaded = 0;
  private uploadFailures = 0;
  private pendingFiles = 0;
  private pendingBytes = 0;

  constructor(private readonly options: S3UploaderOptions) {
    if (!options.s3.bucket) throw new Error('capture.s3.bucket is empty: nothing to upload to');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.log = options.logger;
    this.client = createS3Client(options.s3, options.requestTimeoutMs ?? 30_000);
  }

  /**
   * Replays the journal and queues every complete group not yet uploaded.
   * `existing` skips the directory scan when the caller has just done one.
   */
  async start(existing?: readonly CaptureGroup[]): Promise<void> {
    if (this.started) throw new Error('S3Uploader.start called twice');
    this.started = true;
    this.index = await UploadIndex.open(this.options.dir);
    const groups = existing ?? (await scanCaptures(this.options.dir, { removeDebris: false })).groups;
    const onDisk = new Set<string>();
    for (const group of groups) for (const file of group.files) onDisk.add(file.rel);
    // Entries for files gone from disk are history; drop them so the journal stays small.
    await this.index.retain((path) => onDisk.has(path));
    let requeued = 0;
    for (const group of groups) {
      if (this.enqueue(group)) requeued++;
    }
    if (requeued > 0) this.log?.info({ groups: requeued, bytes: this.pendingBytes }, 'capture uploads resumed from disk');
    this.pump(); // groups enqueued before start waited for the journal
  }

  /** Queues a complete group; false when it is already queued or fully uploaded. */
  enqueue(group: CaptureGroup): boolean {
    if (this.closing || this.queued.has(group.stem)) return false;
    const missing = this.index ? group.files.filter((f) => !this.isUploaded(f.rel)) : group.files;
    if (missing.length === 0) return false;
    this.queued.add(group.stem);
    this.queue.push(group);
    for (const file of missing) {
      this.pendingFiles++;
      this.pendingBytes += file.bytes;
    }
    this.pump();
    return true;
  }

  /** True when the file is recorded as uploaded under the current prefix. */
  isUploaded(rel: string): boolean {
    return this.index?.has(rel, s3KeyFor(this.options.s3.prefix, rel)) ?? false;
  }

  /** Every file of the group is in the bucket: safe to delete locally. */
  isGroupUploaded(group: CaptureGroup): boolean {
    return group.files.every((f) => this.isUploaded(f.rel));
  }

  /** Files deleted locally (retention): their journal lines are no longer needed. */
  forget(rels: Iterable<string>): Promise<void> {
    return this.index ? this.index.forget(rels) : Promise.resolve();
  }

  metrics(): UploadMetrics {
    return {
      uploaded: this.uploaded,
      upload_failures: this.uploadFailures,
      pending_uploads: this.pendingFiles,
      pending_bytes: this.pendingBytes,
    };
  }

  /**
   * Stops. Waits up to `drainMs` for the queue to empty, then aborts what is
   * in flight. Whatever is left stays on disk, unrecorded, and the next
   * start uploads it.
   */
  async close(options: { drainMs?: number } = {}): Promise<void> {
    const drainMs = options.drainMs ?? 0;
    if (drainMs > 0 && !this.closing) {
      const deadline = Date.now() + drainMs;
      while ((this.queue.length > 0 || this.active.size > 0) && Date.now() < deadline) {
        await this.waitForChange(deadline - Date.now());
      }
    }
    this.closing = true;
    this.abort.abort();
    this.notify();
    await Promise.allSettled([...this.active]);
    if (this.pendingFiles > 0) {
      this.log?.info({ files: this.pendingFiles, bytes: this.pendingBytes }, 'capture uploads left for the next start');
    }
    this.queue.length = 0;
    await this.index?.close();
    this.index = null;
    this.client.destroy();
  }

  private pump(): void {
    while (!this.closing && this.index && this.active.size < this.options.s3.concurrency && this.queue.length > 0) {
      const group = this.queue.shift() as CaptureGroup;
      const task = this.uploadGroup(group)
        .catch((err: unknown) => this.log?.error({ group: group.stem, err: (err as Error).message }, 'capture upload task failed'))
        .finally(() => {
          this.active.delete(task);
          this.queued.delete(group.stem);
          this.notify();
          this.pump();
        });
      this.active.add(task);
    }
  }

  private async uploadGroup(group: CaptureGroup): Promise<void> {
    for (const file of group.files) {
      if (this.isUploaded(file.rel)) continue;
      const outcome = await this.uploadFile(file);
      if (outcome === 'closed') return; // still pending: the next start uploads it
      if (outcome !== 'uploaded') {
        // The rest of the group waits for the next start, keeping image-before-JSON order.
        this.dropPending(group, file);
        return;
      }
    }
    let deleted = false;
    if (this.options.s3.delete_after_upload) {
      await removeCaptureGroup(this.options.dir, group);
      await this.index?.forget(group.files.map((f) => f.rel));
      deleted = true;
    }
    this.options.onUploaded?.(group, deleted);
  }

  /** Takes the group's not-uploaded files (from `from` on) out of the pending counts. */
  private dropPending(group: CaptureGroup, from: CaptureFile): void {
    for (let i = group.files.indexOf(from); i < group.files.length; i++) {
      const file = group.files[i] as CaptureFile;
      if (this.isUploaded(file.rel)) continue;
      this.pendingFiles--;
      this.pendingBytes -= file.bytes;
    }
  }

  private async uploadFile(file: CaptureFile): Promise<'uploaded' | 'missing' | 'gave_up' | 'closed'> {
    const key = s3KeyFor(this.options.s3.prefix, file.rel);
    let body: Buffer;
    try {
      body = await readFile(join(this.options.dir, file.rel));
    } catch (err) {
      this.log?.warn({ file: file.rel, err: (err as Error).message }, 'capture file vanished before upload');
      return 'missing';
    }
    for (let attempt = 1; ; attempt++) {
      let probe: boolean;
      try {
        probe = await this.gate();
      } catch (err) {
        if (err instanceof ClosedError) return 'closed';
        throw err;
      }
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.options.s3.bucket, Key: key, Body: body, ContentType: contentTypeFor(file.rel) }),
          { abortSignal: this.abort.signal },
        );
      } catch (err) {
        if (probe) this.probing = false;
        if (this.closing) return 'closed';
        this.uploadFailures++;
        this.failures++;
        const delay = this.backoff(this.failures);
        this.resumeAt = Date.now() + delay;
        this.notify();
        const giveUp = this.options.s3.max_retries > 0 && attempt > this.options.s3.max_retries;
        const fields = { key, attempt, retry_in_ms: giveUp ? null : Math.round(delay), err: (err as Error).name ?? String(err) };
        if (giveUp) {
          this.log?.error(fields, 'capture upload gave up; the file stays on disk and is retried at the next start');
          return 'gave_up';
        }
        if (attempt === 1 || attempt % 10 === 0) this.log?.warn(fields, 'capture upload failed');
        continue;
      }
      if (probe) this.probing = false;
      if (this.failures > 0) this.log?.info({ after_failures: this.failures }, 'capture uploads recovered');
      this.failures = 0;
      this.resumeAt = 0;
      this.notify();
      try {
        await this.index?.record(file.rel, key, file.bytes);
      } catch (err) {
        // Unrecorded means uploaded again after a restart, to the same key: harmless.
        this.log?.warn({ key, err: (err as Error).message }, 'upload journal write failed');
      }
      this.uploaded++;
      this.pendingFiles--;
      this.pendingBytes -= file.bytes;
      return 'uploaded';
    }
  }

  /**
   * Resolves when this worker may send: at once while the store is healthy;
   * while it is failing, only as the single probe after the backoff delay.
   * Returns whether this worker is the probe.
   */
  private async gate(): Promise<boolean> {
    for (;;) {
      if (this.closing) throw new ClosedError();
      if (this.failures === 0) return false;
      const wait = this.resumeAt - Date.now();
      if (!this.probing && wait <= 0) {
        this.probing = true;
        return true;
      }
      await this.waitForChange(this.probing ? Infinity : wait);
    }
  }

  private backoff(failures: number): number {
    const { initialMs, maxMs, multiplier, jitter } = this.retry;
    return backoffDelay(failures - 1, { initial_ms: initialMs, max_ms: maxMs, multiplier, jitter });
  }

  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
