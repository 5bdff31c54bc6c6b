/**
 * Where a capture lives: `YYYY/MM/DD/<timestamp>_<id>.<ext>` under the capture
 * directory (UTC), and the same path under the S3 prefix. The key is derived
 * from the local relative path only, so retrying an upload, or redoing it
 * after a restart, always writes the same object.
 */

export type CaptureExt = 'jpg' | 'json';

/** Layout paths always use '/', whatever the platform. */
const CAPTURE_PATH = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{8}T\d{9}Z)_([A-Za-z0-9-]{1,64})\.(jpg|json)$/;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** `20261124T101530123Z` for 2026-11-24 10:15:30.123 UTC. */
export function captureTimestamp(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}` +
    `T${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}${pad(date.getUTCMilliseconds(), 3)}Z`
  );
}

/** `YYYY/MM/DD/<timestamp>_<id>`, without extension: the stem shared by a pair. */
export function captureStem(date: Date, id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new Error(`capture id ${JSON.stringify(id)} must be 1-64 letters, digits or '-'`);
  const day = `${pad(date.getUTCFullYear(), 4)}/${pad(date.getUTCMonth() + 1, 2)}/${pad(date.getUTCDate(), 2)}`;
  return `${day}/${captureTimestamp(date)}_${id}`;
}

export function captureRelativePath(date: Date, id: string, ext: CaptureExt): string {
  return `${captureStem(date, id)}.${ext}`;
}

export interface ParsedCapturePath {
  /** Path without extension; the two files of a pair share it. */
  stem: string;
  ext: CaptureExt;
  /** Time encoded in the name, ms since the epoch. */
  timeMs: number;
}

/** Recognises a layout path; anything else (temp files, the journal) gives null. */
export function parseCapturePath(relativePath: string): ParsedCapturePath | null {
  const m = CAPTURE_PATH.exec(relativePath);
  if (!m) return null;
  const ts = m[4] as string;
  const timeMs = Date.UTC(
    Number(ts.slice(0, 4)),
    Number(ts.slice(4, 6)) - 1,
    Number(ts.slice(6, 8)),
    Number(ts.slice(9, 11)),
    Number(ts.slice(11, 13)),
    Number(ts.slice(13, 15)),
    Number(ts.slice(15, 18)),
  );
  // The directory must agree with the timestamp, or the name was not ours.
  if (`${m[1]}${m[2]}${m[3]}` !== ts.slice(0, 8) || Number.isNaN(timeMs)) return null;
  return { stem: relativePath.slice(0, -(m[6] as string).length - 1), ext: m[6] as CaptureExt, timeMs };
}

/** `<prefix>/<relative path>`; an empty prefix gives the relative path itself. */
export function s3KeyFor(prefix: string, relativePath: string): string {
  const cleanPrefix = prefix.replace(/^\/+|\/+$/g, '');
  const cleanPath = relativePath.replace(/\\/g, '/').replace(/^\/+/, '');
  return cleanPrefix ? `${cleanPrefix}/${cleanPath}` : cleanPath;
}

export function contentTypeFor(relativePath: string): string {
  if (relativePath.endsWith('.jpg')) return 'image/jpeg';
  if (relativePath.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}
