/* global AbortController */
// The live preview of one camera: a JPEG fetched about once a second while
// the card is on screen, with the latest detection boxes drawn over it.

import { getPreview } from './api.js';

const REFRESH_MS = 1000;
const RETRY_MS = 2000;
const RECENT = 64; // events remembered to find the one matching the preview's frame
const NEXT_EVENT_WAIT_MS = 300;

export class LivePreview {
  /**
   * @param {string} cameraId
   * @param {HTMLImageElement} img
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} note shown while there is no picture
   * @param {HTMLElement} box the container, sized to the picture's aspect ratio
   */
  constructor(cameraId, img, canvas, note, box) {
    this.cameraId = cameraId;
    this.box = box;
    this.aspect = '';
    this.img = img;
    this.canvas = canvas;
    this.note = note;
    this.visible = false;
    this.timer = null;
    this.inFlight = null;
    this.objectUrl = null;
    this.detections = [];
    this.sourceWidth = 0;
    // Recent events, oldest overwritten: fixed size, no growth.
    this.recent = new Array(RECENT).fill(null);
    this.recentAt = 0;
    this.latest = null;
    /** Frame shown by the preview whose event has not arrived yet, or null. */
    this.waitingFor = null;
    /** No frame number from the server: take the next event's boxes. */
    this.waitingNext = false;
    this.nextTimer = null;
    this.img.addEventListener('load', () => {
      this.note.hidden = true;
      // A centre-cropped classifier preview is square, a letterboxed one keeps
      // the source's shape: follow the picture, never stretch it.
      const aspect = `${this.img.naturalWidth} / ${this.img.naturalHeight}`;
      if (aspect !== this.aspect) {
        this.aspect = aspect;
        this.box.style.aspectRatio = aspect;
      }
      this.drawBoxes();
    });
  }

  /** Only visible cards fetch previews: an off-screen camera costs the server nothing. */
  setVisible(visible) {
    if (visible === this.visible) return;
    this.visible = visible;
    if (visible) this.schedule(0);
    else this.cancel();
  }

  setSourceWidth(width) {
    if (width > 0 && width !== this.sourceWidth) {
      this.sourceWidth = width;
      this.drawBoxes();
    }
  }

  /**
   * Remembers an event; boxes are drawn only for the event of the frame the
   * preview shows, so they never slide onto a later picture.
   */
  onEvent(event) {
    this.recent[this.recentAt] = event;
    this.recentAt = (this.recentAt + 1) % RECENT;
    this.latest = event;
    if (this.waitingFor !== null) {
      if (event.frame !== this.waitingFor) return;
      this.waitingFor = null;
      this.setDetections(event.detections);
    } else if (this.waitingNext) {
      // The server snapshots the next frame it claims for inference, and that
      // frame's event follows the snapshot within a few tens of ms.
      this.waitingNext = false;
      clearTimeout(this.nextTimer);
      this.setDetections(event.detections);
    }
  }

  /** Picks the boxes for a preview about to be shown (frame null: the server did not say). */
  matchFrame(frame) {
    clearTimeout(this.nextTimer);
    this.waitingFor = null;
    this.waitingNext = false;
    this.detections = [];
    if (frame !== null) {
      const hit = this.recent.find((e) => e !== null && e.frame === frame);
      if (hit) this.detections = hit.detections || [];
      else this.waitingFor = frame;
      return;
    }
    this.waitingNext = true;
    this.nextTimer = setTimeout(() => {
      if (!this.waitingNext) return;
      this.waitingNext = false;
      this.setDetections(this.latest?.detections);
    }, NEXT_EVENT_WAIT_MS);
  }

  setDetections(detections) {
    const next = detections || [];
    if (!next.length && !this.detections.length) return;
    this.detections = next;
    this.drawBoxes();
  }

  destroy() {
    this.visible = false;
    clearTimeout(this.nextTimer);
    this.cancel();
    if (this.objectUrl) URL.revokeObjectURL(this.objectUrl);
    this.objectUrl = null;
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight) this.inFlight.abort();
    this.inFlight = null;
  }

  schedule(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  async refresh() {
    this.timer = null;
    if (!this.visible) return;
    if (document.hidden) {
      this.schedule(REFRESH_MS);
      return;
    }
    const abort = new AbortController();
    this.inFlight = abort;
    const started = performance.now();
    let next = REFRESH_MS;
    try {
      const shot = await getPreview(this.cameraId, abort.signal);
      if (shot) this.show(shot.blob, shot.frame);
      else this.showNote('waiting for a frame…');
    } catch (err) {
      if (abort.signal.aborted) return;
      this.showNote(`preview unavailable (${err.message})`);
      next = RETRY_MS;
    } finally {
      if (this.inFlight === abort) this.inFlight = null;
    }
    if (this.visible) this.schedule(Math.max(0, next - (performance.now() - started)));
  }

  show(blob, frame) {
    this.matchFrame(frame);
    const previous = this.objectUrl;
    this.objectUrl = URL.createObjectURL(blob);
    this.img.src = this.objectUrl;
    if (previous) URL.revokeObjectURL(previous);
  }

  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = false;
  }

  drawBoxes() {
    const { img, canvas } = this;
    const w = img.naturalWidth;
    const h = img.naturalHeight;
    if (!w || !h) return;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    if (!this.detections.length) return;
    // Boxes are in source pixels; the preview keeps the source aspect ratio,
    // so one factor maps both axes.
    const k = this.sourceWidth > 0 ? w / this.sourceWidth : 1;
    // Stroke and text sized in screen pixels, whatever the JPEG's size.
    const px = w / Math.max(1, img.clientWidth);
    ctx.lineWidth = 2 * px;
    ctx.font = `${Math.round(11 * px)}px system-ui, sans-serif`;
    ctx.textBaseline = 'top';
    for (const d of this.detections) {
      const [x1, y1, x2, y2] = d.box;
      const x = x1 * k;
      const y = y1 * k;
      const color = d.label === 'person' ? '#ff3b6b' : '#2fc1ff';
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, (x2 - x1) * k, (y2 - y1) * k);
      const text = `${d.label} ${Math.round(d.score * 100)}%`;
      const tw = ctx.measureText(text).width + 6;
      const th = parseInt(ctx.font, 10) + 4;
      const ty = y >= th ? y - th : y;
      ctx.fillStyle = color;
      ctx.fillRect(x, ty, tw, th);
      ctx.fillStyle = '#000';
      ctx.fillText(text, x + 3, ty + 2);
    }
  }
}
