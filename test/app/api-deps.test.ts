/**
 * The API's predict and preview calls: typed errors become HTTP statuses and
 * codes, and a camera not running here is not_owner (another instance runs
 * it) or not_found.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { predictError, predictor, previewSource, type PreviewParts } from '../../src/app/api-deps.js';
import { HttpError } from '../../src/api/deps.js';
import { ImageInputError } from '../../src/models/image.js';
import { EngineBusyError, type FrameSnapshot } from '../../src/engine/engine.js';
import { identityTransform } from '../../src/models/geometry.js';
import type { PredictResponse } from '../../src/contracts/events.js';

describe('predict errors', () => {
  it.each([
    [new ImageInputError(415, 'not an image'), 415, 'unsupported_media_type'],
    [new ImageInputError(422, 'unreadable'), 422, 'invalid_image'],
    [new EngineBusyError(12), 503, 'busy'],
  ])('%s answers %i %s with its message', (err, status, code) => {
    const mapped = predictError(err);
    expect(mapped).toBeInstanceOf(HttpError);
    expect(mapped).toMatchObject({ status, code, message: err.message });
  });

  it('passes an unexpected error on as it is (a 500)', () => {
    const err = new Error('worker crashed');
    expect(predictError(err)).toBe(err);
  });

  it('predictor throws the mapped error and returns the result otherwise', async () => {
    const failing = predictor({ predictImage: () => Promise.reject(new ImageInputError(422, 'too large')) });
    await expect(failing(Buffer.from('x'))).rejects.toMatchObject({ status: 422, code: 'invalid_image', message: 'too large' });
    const result = { model: 'm' } as unknown as PredictResponse;
    await expect(predictor({ predictImage: () => Promise.resolve(result) })(Buffer.from('x'))).resolves.toBe(result);
  });
});

function snapshotOf(width: number, height: number, frameNo: number): FrameSnapshot {
  return { rgb: new Uint8Array(width * height * 3).fill(128), width, height, transform: identityTransform(width, height), frameNo };
}

function parts(overrides: Partial<PreviewParts>): PreviewParts & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    runsHere: () => true,
    ownerOf: () => undefined,
    snapshot: (id) => {
      asked.push(id);
      return Promise.resolve(snapshotOf(64, 48, 7));
    },
    ...overrides,
  };
}

describe('previews', () => {
  it('a camera another instance runs is 409 not_owner, naming the instance; no snapshot is asked for', async () => {
    const p = parts({ runsHere: () => false, ownerOf: (id) => (id === 'lobby' ? 'node-b' : undefined) });
    const err = await previewSource(p).preview('lobby').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 409, code: 'not_owner' });
    expect((err as Error).message).toContain('node-b');
    expect(p.asked).toEqual([]);
  });

  it('an unknown camera is 404 not_found (also when the owner field is null)', async () => {
    for (const owner of [undefined, null]) {
      const p = parts({ runsHere: () => false, ownerOf: () => owner });
      await expect(previewSource(p).preview('nope')).rejects.toMatchObject({ status: 404, code: 'not_found' });
      expect(p.asked).toEqual([]);
    }
  });

  it('a camera running here gives a JPEG of its frame with the frame number, or null when no frame came', async () => {
    const p = parts({});
    const shot = await previewSource(p).preview('door');
    expect(p.asked).toEqual(['door']);
    expect(shot).toMatchObject({ width: 64, height: 48, frame: 7 });
    const meta = await sharp(shot!.jpeg).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 64, height: 48 });

    await expect(previewSource(parts({ snapshot: () => Promise.resolve(null) })).preview('door')).resolves.toBeNull();
  });
});
