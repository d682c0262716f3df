// The timeline: one coloured cell per frame and per row (my scores, others', the model's), the playhead,
// the selected range; and under it the model's per-frame score probabilities. Canvas, not one DOM node
// per cell, so a 10,000-frame video draws as fast as a short one.

import { h, SCORE_COLOURS } from "../shared/ui.js";

const ROW = 14;
const EMPTY = "#e3e8ef";

export class Timeline {
  /**
   * count: frames; rows: [{label, values: Int8Array (score or -1), colours?: per value, default the scores'}];
   * probabilities: [[p0..p3] | null] or null.
   * onSeek(index), onSelect(from, to) (to < 0: no selection).
   */
  constructor({ count, rows, probabilities, onSeek, onSelect }) {
    this.count = count;
    this.rows = rows;
    this.probabilities = probabilities;
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.current = 0;
    this.selection = null;  // [from, to] inclusive
    this.anchor = 0;
    this.strip = h("canvas.tl-strip", {
      tabindex: "0", role: "slider", "aria-label": "Timeline: frame position; shift-click selects a range",
      "aria-valuemin": "1", "aria-valuemax": String(count), "aria-valuenow": "1",
    });
    this.strip.style.height = `${rows.length * ROW}px`;
    this.labels = h("div.tl-labels", {}, rows.map((row) => h("div.tl-label", { title: row.label }, row.label)));
    this.element = h("div.timeline", {}, this.labels, this.strip);
    if (probabilities) {
      this.chart = h("canvas.tl-chart", { role: "img",
        "aria-label": "Model score probabilities per frame: blue 0, yellow 1, orange 2, red 3" });
      this.chartBlock = h("div.tl-chart-row", {},
        h("div.tl-labels", {}, h("div.tl-label", {}, "P(score)")), this.chart);
    }
    this._bindPointer();
    new ResizeObserver(() => this.draw()).observe(this.strip);
  }

  _frameAt(event) {
    const rect = this.strip.getBoundingClientRect();
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width - 0.01);
    return Math.floor((x / rect.width) * this.count);
  }

  _bindPointer() {
    let dragging = false;
    let selecting = false;
    this.strip.addEventListener("pointerdown", (event) => {
      const index = this._frameAt(event);
      dragging = true;
      this.strip.setPointerCapture(event.pointerId);
      if (event.shiftKey) {
        selecting = true;
        this.select(this.anchor, index);
      } else {
        selecting = false;
        this.anchor = index;
        this.select(index, -1);
        this.onSeek(index);
      }
    });
    this.strip.addEventListener("pointermove", (event) => {
      if (!dragging) return;
      const index = this._frameAt(event);
      if (selecting) this.select(this.anchor, index);
      else this.onSeek(index);
    });
    const stop = () => { dragging = false; };
    this.strip.addEventListener("pointerup", stop);
    this.strip.addEventListener("pointercancel", stop);
  }

  /** Select frames from..to (inclusive, any order); to < 0 clears the selection. */
  select(from, to) {
    this.selection = to < 0 ? null : [Math.min(from, to), Math.max(from, to)];
    this.onSelect(this.selection);
    this.draw();
  }

  setCurrent(index) {
    this.current = index;
    this.strip.setAttribute("aria-valuenow", String(index + 1));
    this.strip.setAttribute("aria-valuetext", `Frame ${index + 1} of ${this.count}`);
    this.draw();
  }

  draw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      this._drawStrip();
      if (this.chart) this._drawChart();
    });
  }

  _sized(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, width, height };
  }

  _drawStrip() {
    const { ctx, width, height } = this._sized(this.strip);
    const cell = width / this.count;
    ctx.clearRect(0, 0, width, height);
    this.rows.forEach((row, r) => {
      const y = r * ROW;
      ctx.fillStyle = EMPTY;
      ctx.fillRect(0, y + 1, width, ROW - 2);
      // Runs of equal scores as one rectangle: few fill calls even for long videos.
      let start = 0;
      for (let i = 1; i <= this.count; i += 1) {
        if (i < this.count && row.values[i] === row.values[start]) continue;
        const value = row.values[start];
        if (value >= 0) {
          ctx.fillStyle = (row.colours || SCORE_COLOURS)[value];
          ctx.fillRect(start * cell, y + 1, Math.max((i - start) * cell - (cell > 4 ? 1 : 0), 1), ROW - 2);
        }
        start = i;
      }
    });
    if (this.selection) {
      const [from, to] = this.selection;
      ctx.fillStyle = "rgba(36, 87, 197, 0.18)";
      ctx.fillRect(from * cell, 0, (to - from + 1) * cell, height);
      ctx.strokeStyle = "#2457c5";
      ctx.lineWidth = 2;
      ctx.strokeRect(from * cell + 1, 1, Math.max((to - from + 1) * cell - 2, 1), height - 2);
    }
    ctx.fillStyle = "#111";
    ctx.fillRect(this.current * cell + cell / 2 - 1, 0, 2, height);
  }

  _drawChart() {
    const { ctx, width, height } = this._sized(this.chart);
    ctx.clearRect(0, 0, width, height);
    const cell = width / this.count;
    for (let k = 0; k < 4; k += 1) {
      ctx.strokeStyle = SCORE_COLOURS[k];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let drawing = false;
      this.probabilities.forEach((p, i) => {
        if (!p) { drawing = false; return; }
        const x = i * cell + cell / 2;
        const y = height - 2 - p[k] * (height - 4);
        if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        drawing = true;
      });
      ctx.stroke();
    }
    ctx.fillStyle = "#111";
    ctx.fillRect(this.current * cell + cell / 2 - 1, 0, 2, height);
  }
}
