/**
 * Dashboard previews: turns a snapshot of a model-input frame back into a
 * small JPEG with the source's aspect ratio (letterbox padding cut away), so
 * boxes in source pixels can be drawn over it by simple scaling.
 */
import sharp from 'sharp';
import type { InputTransform } from '../models/types.js';

const PREVIEW_WIDTH = 480;

export interface Snapshot {
  rgb: Uint8Array;
  width: number;
  height: number;
  transform: InputTransform;
}

export async function renderPreview(shot: Snapshot): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const t = shot.transform;
  // The part of the model frame that shows the source (all of it for crop/stretch).
  const left = Math.max(0, Math.round(t.offsetX));
  const top = Math.max(0, Math.round(t.offsetY));
  const right = Math.min(shot.width, Math.round(t.offsetX + t.sourceWidth * t.scaleX));
  const bottom = Math.min(shot.height, Math.round(t.offsetY + t.sourceHeight * t.scaleY));
  const region = { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
  // Shown source size, in source pixels, keeps the source's aspect ratio.
  const shownWidth = region.width / t.scaleX;
  const shownHeight = region.height / t.scaleY;
  const width = Math.min(PREVIEW_WIDTH, Math.round(shownWidth));
  const height = Math.max(1, Math.round((width * shownHeight) / shownWidth));
  const jpeg = await sharp(Buffer.from(shot.rgb.buffer, shot.rgb.byteOffset, shot.rgb.byteLength), {
    raw: { width: shot.width, height: shot.height, channels: 3 },
  })
    .extract(region)
    .resize(width, height, { fit: 'fill' })
    .jpeg({ quality: 70 })
    .toBuffer();
  return { jpeg, width, height };
}
