// A fixed-size history of samples and a canvas drawing of two of them.
// Fixed arrays: the dashboard runs for hours and must not grow.

export class Series {
  constructor(capacity) {
    this.values = new Float64Array(capacity);
    this.start = 0;
    this.length = 0;
  }

  push(value) {
    const cap = this.values.length;
    const at = (this.start + this.length) % cap;
    this.values[at] = value;
    if (this.length < cap) this.length += 1;
    else this.start = (this.start + 1) % cap;
  }

  at(i) {
    return this.values[(this.start + i) % this.values.length];
  }

  max() {
    let m = 0;
    for (let i = 0; i < this.length; i += 1) {
      const v = this.at(i);
      if (Number.isFinite(v) && v > m) m = v;
    }
    return m;
  }
}

/**
 * Draws each series scaled to its own maximum; NaN samples leave gaps.
 * @param {HTMLCanvasElement} canvas
 * @param {Array<{series: Series, color: string}>} lines
 */
export function drawSparkline(canvas, lines) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  const pad = 2 * ratio;
  for (const { series, color } of lines) {
    const cap = series.values.length;
    const top = series.max() || 1;
    const step = (width - 2 * pad) / Math.max(1, cap - 1);
    // Newest sample at the right edge, so the time axis stays put as it fills.
    const x0 = width - pad - (series.length - 1) * step;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5 * ratio;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < series.length; i += 1) {
      const v = series.at(i);
      if (!Number.isFinite(v)) {
        pen = false;
        continue;
      }
      const x = x0 + i * step;
      const y = height - pad - (v / top) * (height - 2 * pad);
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  }
}
