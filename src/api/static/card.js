// One camera's card: status from /health/stream, predictions from the
// event feed, a live preview and a latency/fps trend.

import { LivePreview } from './preview.js';
import { Series, drawSparkline } from './sparkline.js';

const HISTORY_SAMPLES = 150; // one per status poll (~2 s): about 5 minutes
const TOP_K = 5;
const LATENCY_COLOR = '#e8a317';
const FPS_COLOR = '#3b82f6';

const pretty = (label) => String(label).replace(/_/g, ' ');
const percent = (score) => `${(score * 100).toFixed(1)}%`;

function personScore(event) {
  let best = 0;
  for (const d of event.detections || []) if (d.label === 'person' && d.score > best) best = d.score;
  for (const p of event.predictions) if (p.label === 'person' && p.score > best) best = p.score;
  return best;
}

export class CameraCard {
  /**
   * @param {HTMLTemplateElement} template
   * @param {string} id
   * @param {(id: string) => void} onRemove
   */
  constructor(template, id, onRemove) {
    this.id = id;
    const root = template.content.firstElementChild.cloneNode(true);
    this.root = root;
    root.dataset.cameraId = id;
    const q = (sel) => root.querySelector(sel);
    const title = q('.cam-id');
    title.textContent = id;
    title.id = `cam-title-${id}`;
    root.setAttribute('aria-labelledby', title.id);
    this.badge = q('.badge');
    this.fpsIn = q('.fps-in');
    this.fpsOut = q('.fps-out');
    this.drops = q('.drops');
    this.latency = q('.latency');
    this.error = q('.cam-error');
    this.person = q('.person');
    this.personLabel = q('.person-label');
    this.personScore = q('.person-score');
    this.topk = q('.topk');
    this.noResult = q('.no-result');
    this.spark = q('.spark');
    this.spark.setAttribute('aria-label', `Latency and fps of ${id} over the last minutes`);
    q('.span-note').textContent = '· 5 min';
    this.keyLatency = q('.key-latency');
    this.keyFps = q('.key-fps');
    this.keyLatency.style.color = LATENCY_COLOR;
    this.keyFps.style.color = FPS_COLOR;
    const img = q('.frame');
    img.alt = `Live preview of camera ${id}`;
    this.preview = new LivePreview(id, img, q('.boxes'), q('.preview-note'), q('.preview'));
    const remove = q('.remove');
    remove.setAttribute('aria-label', `Remove camera ${id}`);
    remove.addEventListener('click', () => onRemove(id));
    this.removeButton = remove;

    this.latencyHistory = new Series(HISTORY_SAMPLES);
    this.fpsHistory = new Series(HISTORY_SAMPLES);
    this.latencySum = 0;
    this.latencyCount = 0;
    this.lastEvent = null;
    this.dirty = false;
    this.rows = [];
  }

  /**
   * @param {object} s CameraStatus
   * @param {boolean} sample add a trend point (regular polls only)
   */
  updateStatus(s, sample) {
    const root = this.root;
    if (root.dataset.state !== s.state) {
      root.dataset.state = s.state;
      this.badge.textContent = s.state;
      this.badge.className = `badge state-${s.state}`;
    }
    this.fpsIn.textContent = s.fps_in.toFixed(1);
    this.fpsOut.textContent = s.fps_out.toFixed(1);
    let dropped = 0;
    const reasons = [];
    for (const [reason, n] of Object.entries(s.drops || {})) {
      dropped += n;
      if (n) reasons.push(`${reason}: ${n}`);
    }
    this.drops.textContent = String(dropped);
    this.drops.title = reasons.join(', ') || 'no drops';
    if (s.last_error && s.state !== 'streaming') {
      this.error.textContent = s.last_error;
      this.error.hidden = false;
    } else {
      this.error.hidden = true;
    }
    this.preview.setSourceWidth(s.source_width);
    const l = s.latency_ms;
    if (l && l.count) this.latency.title = `p50 ${l.p50.toFixed(0)} ms · p95 ${l.p95.toFixed(0)} ms · p99 ${l.p99.toFixed(0)} ms (${l.count} frames)`;
    if (!sample) return;
    // One trend sample per poll: mean latency of the events since the last one.
    this.latencyHistory.push(this.latencyCount ? this.latencySum / this.latencyCount : NaN);
    this.fpsHistory.push(s.fps_out);
    this.latencySum = 0;
    this.latencyCount = 0;
    drawSparkline(this.spark, [
      { series: this.fpsHistory, color: FPS_COLOR },
      { series: this.latencyHistory, color: LATENCY_COLOR },
    ]);
    // Each line is scaled to its own peak: name the peaks.
    const peakLatency = this.latencyHistory.max();
    const peakFps = this.fpsHistory.max();
    this.keyLatency.textContent = peakLatency > 0 ? `latency (peak ${Math.round(peakLatency)} ms)` : 'latency';
    this.keyFps.textContent = peakFps > 0 ? `fps out (peak ${peakFps.toFixed(1)})` : 'fps out';
  }

  /** Cheap: events can arrive at camera rate; the DOM is updated in render(). */
  onEvent(event) {
    this.lastEvent = event;
    this.preview.onEvent(event);
    this.latencySum += event.latency_ms;
    this.latencyCount += 1;
    this.dirty = true;
  }

  render() {
    if (!this.dirty) return;
    this.dirty = false;
    const e = this.lastEvent;
    this.latency.textContent = `${e.latency_ms.toFixed(0)} ms`;
    this.noResult.hidden = true;
    const detector = e.has_person !== undefined || e.detections !== undefined;
    if (detector) this.renderPerson(e);
    else this.renderTopK(e.predictions);
  }

  renderPerson(e) {
    this.topk.hidden = true;
    this.person.hidden = false;
    const yes = Boolean(e.has_person);
    const label = yes ? 'PERSON' : 'NO PERSON';
    this.root.dataset.top = label;
    this.person.classList.toggle('yes', yes);
    this.personLabel.textContent = label;
    this.personScore.textContent = `score ${personScore(e).toFixed(2)}`;
  }

  renderTopK(predictions) {
    this.person.hidden = true;
    this.topk.hidden = false;
    const n = Math.min(TOP_K, predictions.length);
    while (this.rows.length < n) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'label';
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.className = 'fill';
      bar.append(fill);
      const value = document.createElement('span');
      value.className = 'value';
      li.append(name, bar, value);
      this.topk.append(li);
      this.rows.push({ li, name, fill, value });
    }
    for (let i = 0; i < this.rows.length; i += 1) {
      const row = this.rows[i];
      row.li.hidden = i >= n;
      if (i >= n) continue;
      const p = predictions[i];
      row.name.textContent = pretty(p.label);
      row.fill.style.width = percent(Math.max(0, Math.min(1, p.score)));
      row.value.textContent = percent(p.score);
      row.li.setAttribute('aria-label', `${pretty(p.label)} ${percent(p.score)}`);
    }
    this.root.dataset.top = n ? predictions[0].label : '';
  }

  destroy() {
    this.preview.destroy();
    this.root.remove();
  }
}
