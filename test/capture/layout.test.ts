import { describe, expect, it } from 'vitest';
import { captureRelativePath, captureStem, captureTimestamp, contentTypeFor, parseCapturePath, s3KeyFor } from '../../src/capture/layout.js';

const WHEN = new Date(Date.UTC(2026, 10, 24, 10, 15, 30, 123));
const ID = '3f2b7a10-8c1d-4e5f-9a0b-1c2d3e4f5a6b';

describe('capture layout', () => {
  it('formats UTC timestamps with milliseconds', () => {
    expect(captureTimestamp(WHEN)).toBe('20261124T101530123Z');
    expect(captureTimestamp(new Date(Date.UTC(2027, 0, 2, 3, 4, 5, 6)))).toBe('20270102T030405006Z');
  });

  it('uses the UTC day for the directory, not the local one', () => {
    // 23:59 UTC on the last day of the year stays in that year whatever TZ says.
    const late = new Date(Date.UTC(2026, 11, 31, 23, 59, 59, 999));
    expect(captureStem(late, ID)).toBe(`2026/12/31/20261231T235959999Z_${ID}`);
  });

  it('names the image and JSON of a capture with one stem', () => {
    expect(captureRelativePath(WHEN, ID, 'jpg')).toBe(`2026/11/24/20261124T101530123Z_${ID}.jpg`);
    expect(captureRelativePath(WHEN, ID, 'json')).toBe(`2026/11/24/20261124T101530123Z_${ID}.json`);
  });

  it('rejects ids that could escape the layout', () => {
    expect(() => captureStem(WHEN, '../x')).toThrow(/capture id/);
    expect(() => captureStem(WHEN, '')).toThrow(/capture id/);
  });

  it('parses its own paths back and refuses anything else', () => {
    const rel = captureRelativePath(WHEN, ID, 'json');
    expect(parseCapturePath(rel)).toEqual({ stem: rel.slice(0, -5), ext: 'json', timeMs: WHEN.getTime() });
    expect(parseCapturePath(`2026/11/24/.20261124T101530123Z_${ID}.jpg.tmp-0a0b0c0d`)).toBeNull();
    expect(parseCapturePath('.uploads.jsonl')).toBeNull();
    expect(parseCapturePath(`2026/11/24/20261124T101530123Z_${ID}.png`)).toBeNull();
    // Directory and timestamp disagree: not a name we wrote.
    expect(parseCapturePath(`2026/11/25/20261124T101530123Z_${ID}.jpg`)).toBeNull();
  });

  it('derives the S3 key from the prefix and the relative path only', () => {
    const rel = captureRelativePath(WHEN, ID, 'jpg');
    expect(s3KeyFor('inference', rel)).toBe(`inference/${rel}`);
    expect(s3KeyFor('/inference/site-a/', rel)).toBe(`inference/site-a/${rel}`);
    expect(s3KeyFor('', rel)).toBe(rel);
    expect(s3KeyFor('p', rel.replace(/\//g, '\\'))).toBe(`p/${rel}`);
  });

  it('labels content types', () => {
    expect(contentTypeFor('a/b.jpg')).toBe('image/jpeg');
    expect(contentTypeFor('a/b.json')).toBe('application/json');
  });
});
