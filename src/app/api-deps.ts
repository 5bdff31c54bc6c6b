/**
 * The API's predict and preview calls over the engine, with typed errors
 * turned into HttpError codes (never message text).
 */
import { HttpError, type ApiDeps, type PreviewSource } from '../api/deps.js';
import { ImageInputError } from '../models/image.js';
import { EngineBusyError, type FrameSnapshot, type InferenceEngine } from '../engine/engine.js';
import { quoteShort } from '../config/echo.js';
import { renderPreview } from './preview.js';

/** The HTTP error for a failed still-image prediction; anything unexpected is returned as it is (a 500). */
export function predictError(err: unknown): unknown {
  if (err instanceof ImageInputError) return new HttpError(err.status, err.message, err.status === 415 ? 'unsupported_media_type' : 'invalid_image');
  if (err instanceof EngineBusyError) return new HttpError(503, err.message, 'busy');
  return err;
}

export function predictor(engine: Pick<InferenceEngine, 'predictImage'>): ApiDeps['predict'] {
  return async (image) => {
    try {
      return await engine.predictImage(image);
    } catch (err) {
      throw predictError(err);
    }
  };
}

/** Why there is no preview of a camera not running here: another instance runs it (cluster mode), or it does not exist. */
export function previewMissingError(id: string, owner: string | null | undefined): HttpError {
  if (owner) return new HttpError(409, `camera ${quoteShort(id)} runs on instance ${owner}; previews come from the instance that runs the camera`, 'not_owner');
  return new HttpError(404, `no camera ${quoteShort(id)}`, 'not_found');
}

export interface PreviewParts {
  /** Whether the camera runs on this instance. */
  runsHere(id: string): boolean;
  /** The instance that runs a camera elsewhere (cluster mode), if any. */
  ownerOf(id: string): string | null | undefined;
  snapshot(id: string, timeoutMs: number): Promise<FrameSnapshot | null>;
}

const SNAPSHOT_TIMEOUT_MS = 2000;

export function previewSource(parts: PreviewParts): PreviewSource {
  return {
    preview: async (id) => {
      if (!parts.runsHere(id)) throw previewMissingError(id, parts.ownerOf(id));
      const shot = await parts.snapshot(id, SNAPSHOT_TIMEOUT_MS);
      return shot ? { ...(await renderPreview(shot)), frame: shot.frameNo } : null;
    },
  };
}
