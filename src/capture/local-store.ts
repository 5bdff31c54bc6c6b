/**
 * Capture files on local disk: atomic writes, the start-up scan, removal.
 *
 * A capture is a group of files sharing a stem (`YYYY/MM/DD/<ts>_<id>`): the
 * image, then the JSON. The JSON is written last and removed first, so a
 * group counts as complete exactly when its JSON exists.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseCapturePath } from './layout.js';

export interface CaptureFile {
  /** Layout path relative to the capture directory, '/' separated. */
  rel: string;
  bytes: number;
}

export interface CaptureGroup {
  stem: string;
  /** Time from the file name, ms since the epoch. */
  timeMs: number;
  /** Upload order: image first, JSON last. */
  files: CaptureFile[];
}

const TEMP_MARK = '.tmp-';

function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARK);
}

/** Writes `<dir>/<rel>` via a hidden temp file and a rename: readers never see a partial file. */
export async function writeFileAtomic(dir: string, rel: string, data: Uint8Array | string): Promise<number> {
  const target = join(dir, rel);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const temp = join(parent, `.${basename(target)}${TEMP_MARK}${randomBytes(4).toString('hex')}`);
  try {
    try {
      await writeFile(temp, data);
    } catch (err) {
      // Retention may have removed the (then empty) day directory just now.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(parent, { recursive: true });
      await writeFile(temp, data);
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

export interface ScanOptions {
  /**
   * Delete temp files and groups without their JSON (left by a crash). Only
   * the capture writer may do this, before it writes: to anyone else a
   * group still being written looks the same.
   */
  removeDebris: boolean;
}

export interface ScanResult {
  /** Complete groups, oldest first. */
  groups: CaptureGroup[];
  /** Files deleted as debris (only with removeDebris). */
  removed: string[];
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Finds every complete capture group under `dir` (the YYYY/MM/DD levels only). */
export async function scanCaptures(dir: string, options: ScanOptions): Promise<ScanResult> {
  const byStem = new Map<string, { timeMs: number; image?: CaptureFile; json?: CaptureFile }>();
  const removed: string[] = [];
  for (const year of await listDir(dir)) {
    if (!/^\d{4}$/.test(year)) continue;
    for (const month of await listDir(join(dir, year))) {
      if (!/^\d{2}$/.test(month)) continue;
      for (const day of await listDir(join(dir, year, month))) {
        if (!/^\d{2}$/.test(day)) continue;
        const dayRel = `${year}/${month}/${day}`;
        for (const name of await listDir(join(dir, dayRel))) {
          const rel = `${dayRel}/${name}`;
          if (isTempName(name)) {
            if (options.removeDebris) {
              await unlink(join(dir, rel)).catch(() => undefined);
              removed.push(rel);
            }
            continue;
          }
          const parsed = parseCapturePath(rel);
          if (!parsed) continue;
          let bytes: number;
          try {
            bytes = (await stat(join(dir, rel))).size;
          } catch {
            continue; // removed while we looked
          }
          const entry = byStem.get(parsed.stem) ?? { timeMs: parsed.timeMs };
          if (parsed.ext === 'json') entry.json = { rel, bytes };
          else entry.image = { rel, bytes };
          byStem.set(parsed.stem, entry);
        }
      }
    }
  }
  const groups: CaptureGroup[] = [];
  for (const [stem, entry] of byStem) {
    if (entry.image && entry.json) {
      groups.push({ stem, timeMs: entry.timeMs, files: [entry.image, entry.json] });
    } else if (options.removeDebris) {
      for (const file of [entry.image, entry.json]) {
        if (!file) continue;
        await unlink(join(dir, file.rel)).catch(() => undefined);
        removed.push(file.rel);
      }
    }
  }
  groups.sort((a, b) => (a.stem < b.stem ? -1 : a.stem > b.stem ? 1 : 0));
  return { groups, removed };
}

/** Deletes a group, JSON first, then drops day/month/year directories left empty. */
export async function removeCaptureGroup(dir: string, group: CaptureGroup): Promise<void> {
  for (let i = group.files.length - 1; i >= 0; i--) {
    const file = group.files[i] as CaptureFile;
    await unlink(join(dir, file.rel)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  let parent = dirname(group.stem);
  for (let level = 0; level < 3 && parent !== '.'; level++) {
    try {
      await rmdir(join(dir, parent));
    } catch {
      break; // not empty (or already gone): the levels above are not empty either
    }
    parent = dirname(parent);
  }
}

export function groupBytes(group: CaptureGroup): number {
  let total = 0;
  for (const file of group.files) total += file.bytes;
  return total;
}
