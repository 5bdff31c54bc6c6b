/**
 * Model files published inside a .tar.gz (the ONNX Model Zoo's float
 * models): the archive is verified by its sha256 on download, one member is
 * extracted, and a small record beside the extracted file ties it to that
 * archive, so the registry can verify the file later without the archive.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { list, type ReadEntry } from 'tar';
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

function matches(entryPath: string, member: string): boolean {
  const p = entryPath.replace(/^\.\//, '');
  return member.includes('/') ? p === member.replace(/^\.\//, '') : basename(p) === member;
}

/**
 * Extracts `member` of the (already verified) .tar/.tar.gz at `archivePath`
 * to `dest`, writes the record, and returns the member's sha256.
 */
export async function extractMember(archivePath: string, archive: ArchiveSource, dest: string): Promise<string> {
  const tmp = join(dirname(dest), `.${basename(dest)}.extract-${process.pid}`);
  let found: Promise<string> | undefined;
  try {
    await list({
      file: archivePath,
      onReadEntry: (entry: ReadEntry) => {
        if (found !== undefined || entry.type !== 'File' || !matches(entry.path, archive.member)) {
          entry.resume();
          return;
        }
        const hash = createHash('sha256');
        const hashing = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        found = pipeline(entry, hashing, createWriteStream(tmp)).then(() => hash.digest('hex'));
      },
    });
    if (found === undefined) throw new Error(`archive ${basename(archivePath)} has no member '${archive.member}'`);
    const sha256 = await found;
    await rename(tmp, dest);
    const record: ArchiveRecord = { archive_sha256: archive.sha256, member: archive.member, sha256 };
    await writeFile(archiveRecordPath(dest), `${JSON.stringify(record, null, 1)}\n`);
    return sha256;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
