/** Extracts one member of a verified .tar/.tar.gz (models:fetch only; archive.ts has the record). */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { list, type ReadEntry } from 'tar';
import { archiveRecordPath, type ArchiveRecord } from './archive.js';
import type { ArchiveSource } from './types.js';

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
