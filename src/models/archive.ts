/**
 * Model files published inside a .tar.gz (the ONNX Model Zoo's float
 * models): a small record beside the extracted file ties it to the archive
 * it came from (verified by its sha256 on download), so the registry can
 * verify the file later without the archive. Extraction is in extract.ts,
 * which only models:fetch loads.
 */
import { readFileSync } from 'node:fs';
import type { ArchiveSource } from './types.js';

/** What is recorded beside an extracted member (`<file>.archive.json`). */
export interface ArchiveRecord {
  archive_sha256: string;
  member: string;
  sha256: string;
}

export function archiveRecordPath(modelPath: string): string {
  return `${modelPath}.archive.json`;
}

/** The record beside `modelPath` when it was extracted from `archive`, else undefined. */
export function readArchiveRecord(modelPath: string, archive: ArchiveSource): ArchiveRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(archiveRecordPath(modelPath), 'utf8')) as Partial<ArchiveRecord>;
    if (r.archive_sha256 === archive.sha256 && typeof r.member === 'string' && typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256)) {
      return r as ArchiveRecord;
    }
  } catch {
    // No record: the file was not extracted by us.
  }
  return undefined;
}
