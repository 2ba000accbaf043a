// The timeline under the player: a ruler (the scrub bar, with thumbnails on hover), one row
// per layer (prepared moments, stops, schemes, phases, categories, transcript), the playhead,
// and an overview strip of the whole recording with the visible window. Drawn on a canvas,
// only when something changed (every frame while playing), so 2,000 annotations zoom and
// scroll smoothly. Mouse: drag on a row to create a segment, drag an edge or a body to
// change it, click to seek and select; Ctrl+wheel zooms, Shift+wheel scrolls. A label that
// does not fit in its segment goes beside it when there is room, and hovering an annotation
// shows its whole label and times.

import { timecode } from "../format.js";

const LABEL_W = 168;
const RULER_H = 22;
const ROW_H = 24;
const LANE_H = 16;
const EDGE_PX = 6;
const MIN_SPAN_MS = 4000;
const TICKS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const CLICK_PX = 4;
const MIN_LABEL_PX = 24;

function cssVar(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

export class Timeline {
  constructor(root, options) {
    this.root = root;
    this.o = options; // media, durationMs, layers(), itemsOf(layerId), colorOf(item), labelOf(item), …
    this.canvas = root.querySelector("[data-timeline-canvas]");
    this.overview = root.querySelector("[data-timeline-overview]");
    this.tip = root.querySelector("[data-timeline-tip]");
    this.itemTip = root.querySelector("[data-timeline-item-tip]");
    this.ctx = this.canvas.getContext("2d");
    this.octx = this.overview.getContext("2d");
    this.duration = Math.max(1000, options.durationMs || 1000);
    this.viewStart = 0;
    this.viewSpan = this.duration;
    this.selected = null;
    this.drag = null;
    this.open = null; // a segment being recorded: {layer, start_ms, color}
    this.dirty = true;
    this.frames = 0;
    this.thumbs = null;
    this.colors = { ink: cssVar("--ink", "#1d2433"), muted: cssVar("--muted", "#5b6475") };
    this._bindEvents();
    new ResizeObserver(() => this.resize()).observe(root);
    this.resize();
    this._loop = this._loop.bind(this);
    requestAnimationFrame(this._loop);
  }

  // ---- geometry

  /** Kept from the last resize: reading clientWidth while drawing would force a layout. */
  get width() {
    return this._width;
  }

  toX(ms) {
    return LABEL_W + ((ms - this.viewStart) / this.viewSpan) * (this.width - LABEL_W);
  }

  toMs(x) {
    return this.viewStart + ((x - LABEL_W) / (this.width - LABEL_W)) * this.viewSpan;
  }

  clampMs(ms) {
    return Math.round(Math.min(this.duration, Math.max(0, ms)));
  }

  /** The vertical middle of a layer's row, in canvas pixels (tests and benchmarks use it). */
  /** The rows top to bottom: a row holding overlapping segments is taller (one lane each). */
  rows() {
    let top = RULER_H;
    return this.o.layers().map((layer) => {
      const lanes = this.o.lanesOf ? this.o.lanesOf(layer.id) : 1;
      const height = lanes > 1 ? 6 + lanes * LANE_H : ROW_H;
      const row = { layer, top, height, lanes };
      top += height;
      return row;
    });
  }

  rowY(layerId, item = null) {
    const row = this.rows().find((r) => r.layer.id === layerId);
    if (!row) return null;
    if (!item) return row.top + row.height / 2;
    const { top, height } = this._lane(row, item);
    return top + height / 2;
  }

  rowAtY(y) {
    if (y < RULER_H) return null;
    return this.rows().find((r) => y >= r.top && y < r.top + r.height) || null;
  }

  rowAt(y) {
    const row = this.rowAtY(y);
    return row ? row.layer : null;
  }

  resize() {
    const rows = this.rows();
    const height = (rows.length ? rows[rows.length - 1].top + rows[rows.length - 1].height : RULER_H) + 1;
    this.height = height;
    const ratio = window.devicePixelRatio || 1;
    const width = this.root.clientWidth;
    this._width = width;
    for (const [canvas, h] of [
      [this.canvas, height],
      [this.overview, 18],
    ]) {
      canvas.style.height = `${h}px`;
      canvas.style.width = `${width}px`;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(h * ratio);
      canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    }
    this.render();
  }

  // ---- view

  setView(start, span) {
    const newSpan = Math.min(this.duration, Math.max(MIN_SPAN_MS, span));
    this.viewSpan = newSpan;
    this.viewStart = Math.min(this.duration - newSpan, Math.max(0, start));
    this.render();
  }

  zoomAt(factor, anchorMs = this.o.media.currentTime * 1000) {
    const span = Math.min(this.duration, Math.max(MIN_SPAN_MS, this.viewSpan * factor));
    const ratio = (anchorMs - this.viewStart) / this.viewSpan;
    this.setView(anchorMs - ratio * span, span);
  }

  scrollBy(ms) {
    this.setView(this.viewStart + ms, this.viewSpan);
  }

  fit() {
    this.setView(0, this.duration);
  }

  reveal(ms) {
    if (ms < this.viewStart || ms > this.viewStart + this.viewSpan) {
      this.setView(ms - this.viewSpan * 0.1, this.viewSpan);
    }
  }

  render() {
    this.dirty = true;
  }

  // ---- drawing

  _loop(now) {
    const media = this.o.media;
    const playing = !media.paused && !media.ended;
    if (playing || this.open) {
      const t = media.currentTime * 1000;
      // Page the view as ELAN does when the playhead leaves it.
      if (playing && !this.drag && (t > this.viewStart + this.viewSpan * 0.98 || t < this.viewStart)) {
        this.viewStart = Math.min(this.duration - this.viewSpan, Math.max(0, t - this.viewSpan * 0.02));
      }
      this.dirty = true;
    }
    if (this.dirty) {
      this.dirty = false;
      this._draw();
      this._drawOverview();
      this.frames += 1;
      if (this.frames === 1) this.firstFrameAt = performance.now();
      if (this.o.onFrame) this.o.onFrame(now);
    }
    requestAnimationFrame(this._loop);
  }

  _draw() {
    const ctx = this.ctx;
    const width = this.width;
    const rows = this.rows();
    const height = rows.length ? rows[rows.length - 1].top + rows[rows.length - 1].height : RULER_H;
    if (height + 1 !== this.height) {
      this.resize();
      return;
    }
    const { ink, muted } = this.colors;
    ctx.clearRect(0, 0, width, height + 1);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";

    // Ruler.
    ctx.fillStyle = "#eef1f6";
    ctx.fillRect(0, 0, width, RULER_H);
    const pxPerS = (width - LABEL_W) / (this.viewSpan / 1000);
    const step = TICKS_S.find((s) => s * pxPerS >= 64) || 3600;
    const first = Math.ceil(this.viewStart / 1000 / step) * step;
    ctx.fillStyle = muted;
    ctx.strokeStyle = "#c5ccd8";
    ctx.beginPath();
    for (let s = first; s * 1000 <= this.viewStart + this.viewSpan; s += step) {
      const x = Math.round(this.toX(s * 1000)) + 0.5;
      ctx.moveTo(x, RULER_H - 8);
      ctx.lineTo(x, height);
      ctx.fillText(timecode(s), x + 3, RULER_H / 2);
    }
    ctx.stroke();

    // Rows.
    rows.forEach((row, index) => {
      const y = row.top;
      ctx.fillStyle = index % 2 ? "rgba(240,243,248,0.55)" : "rgba(255,255,255,0.0)";
      ctx.fillRect(LABEL_W, y, width - LABEL_W, row.height);
      ctx.strokeStyle = "#e1e5ec";
      ctx.beginPath();
      ctx.moveTo(0, y + 0.5);
      ctx.lineTo(width, y + 0.5);
      ctx.stroke();
      this._drawItems(row);
    });

    // Label column, over the items that scroll under it.
    ctx.fillStyle = "#f7f8fb";
    ctx.fillRect(0, RULER_H, LABEL_W, height - RULER_H);
    ctx.fillStyle = "#eef1f6";
    ctx.fillRect(0, 0, LABEL_W, RULER_H);
    rows.forEach(({ layer, top: y, height: h }) => {
      ctx.fillStyle = layer.id === this.o.activeLayer() ? ink : muted;
      ctx.font = layer.id === this.o.activeLayer() ? "600 12px system-ui, sans-serif" : "12px system-ui, sans-serif";
      ctx.fillText(this._fitText(layer.label, LABEL_W - 14), 8, y + Math.min(h, ROW_H) / 2);
    });
    ctx.font = "12px system-ui, sans-serif";
    ctx.strokeStyle = "#c5ccd8";
    ctx.beginPath();
    ctx.moveTo(LABEL_W + 0.5, 0);
    ctx.lineTo(LABEL_W + 0.5, height);
    ctx.stroke();

    // Playhead.
    const now = this.o.media.currentTime * 1000;
    if (now >= this.viewStart && now <= this.viewStart + this.viewSpan) {
      const x = Math.round(this.toX(now)) + 0.5;
      ctx.strokeStyle = "#d1343a";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, height);
      ctx.stroke();
      ctx.lineWidth = 1;
    }
  }

  _fitText(text, max) {
    const full = this.ctx.measureText(text).width;
    if (full <= max) return text;
    // Cut in proportion, then trim: a few measures, not one per character of a long cue.
    let length = Math.max(0, Math.floor((text.length * max) / full) - 1);
    while (length > 0 && this.ctx.measureText(`${text.slice(0, length)}…`).width > max) {
      length = Math.floor(length * 0.85);
    }
    return length > 0 ? `${text.slice(0, length)}…` : "";
  }

  /** Where a segment sits in its row: overlapping segments share the row in lanes. */
  _lane(row, item) {
    if (row.lanes <= 1) return { top: row.top + 4, height: row.height - 8 };
    const lane = this.o.laneOf ? this.o.laneOf(item) : 0;
    return { top: row.top + 3 + lane * LANE_H, height: LANE_H - 2 };
  }

  _drawItems(row) {
    const { layer, top: y, height: rowH } = row;
    const ctx = this.ctx;
    const left = LABEL_W;
    const right = this.width;
    const viewEnd = this.viewStart + this.viewSpan;
    const spots = []; // drawn items, left to right, for their labels
    for (const item of this.o.itemsOf(layer.id)) {
      let start = item.start_ms;
      let end = item.end_ms;
      if (this.drag && this.drag.key === item.key && this.drag.preview) {
        ({ start_ms: start, end_ms: end } = this.drag.preview);
      }
      const last = end ?? start;
      if (last < this.viewStart || start > viewEnd) continue;
      const selected = item.key === this.selected;
      const color = this.o.colorOf(item);
      const x0 = Math.max(left - 2, this.toX(start));
      if (end == null) {
        const x = Math.round(x0) + 0.5;
        ctx.strokeStyle = color;
        ctx.lineWidth = selected ? 3 : 2;
        ctx.beginPath();
        ctx.moveTo(x, y + 4);
        ctx.lineTo(x, y + rowH - 3);
        ctx.stroke();
        ctx.lineWidth = 1;
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.moveTo(x - 5, y + 3);
        ctx.lineTo(x + 5, y + 3);
        ctx.lineTo(x, y + 10);
        ctx.closePath();
        ctx.fill();
        if (selected) {
          ctx.strokeStyle = "#1d2433";
          ctx.strokeRect(x - 7, y + 1, 14, rowH - 3);
        }
        spots.push({ item, x0: x - 6, x1: x + 6, lane: null, top: y + 4, height: Math.min(rowH, ROW_H) - 6 });
        continue;
      }
      const x1 = Math.min(right + 2, this.toX(end));
      const w = Math.max(2, x1 - x0);
      const { top, height } = this._lane(row, item);
      ctx.globalAlpha = item.id == null ? 0.55 : 0.85;
      ctx.fillStyle = color;
      ctx.fillRect(x0, top, w, height);
      ctx.globalAlpha = 1;
      if (selected) {
        ctx.strokeStyle = "#1d2433";
        ctx.lineWidth = 2;
        ctx.strokeRect(x0 + 1, top, w - 2, height);
        ctx.lineWidth = 1;
      }
      spots.push({ item, x0, x1: x0 + w, lane: row.lanes > 1 ? this.o.laneOf(item) : 0, top, height });
    }
    this._drawLabels(spots, right);
    if (this.drag && this.drag.mode === "create" && this.drag.layer === layer.id && this.drag.preview) {
      const { start_ms, end_ms } = this.drag.preview;
      const x0 = this.toX(start_ms);
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = "#1d2433";
      ctx.strokeRect(x0, y + 4, Math.max(2, this.toX(end_ms) - x0), rowH - 8);
      ctx.setLineDash([]);
    }
    if (this.open && this.open.layer === layer.id) {
      const now = this.o.media.currentTime * 1000;
      const from = Math.min(now, this.open.start_ms);
      const x0 = this.toX(from);
      ctx.globalAlpha = 0.45;
      ctx.fillStyle = this.open.color;
      ctx.fillRect(x0, y + 4, Math.max(2, this.toX(Math.max(now, this.open.start_ms)) - x0), rowH - 8);
      ctx.globalAlpha = 1;
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = this.open.color;
      ctx.strokeRect(x0, y + 4, Math.max(2, this.toX(Math.max(now, this.open.start_ms)) - x0), rowH - 8);
      ctx.setLineDash([]);
    }
  }

  /** Each label inside its segment when it fits; else beside it (a moment's always), up to
   * the next annotation of its lane, when that leaves more room; else cut with "…". */
  _drawLabels(spots, right) {
    const ctx = this.ctx;
    const { ink } = this.colors;
    spots.forEach((spot, index) => {
      if (spot.height < 9) return;
      const moment = spot.lane == null;
      let limit = right;
      for (let next = index + 1; next < spots.length; next += 1) {
        const other = spots[next];
        if (moment || other.lane == null || other.lane === spot.lane) {
          limit = other.x0;
          break;
        }
      }
      const inside = moment ? 0 : spot.x1 - spot.x0 - 8;
      const beside = limit - spot.x1 - 8;
      if (inside < MIN_LABEL_PX && beside < MIN_LABEL_PX) return;
      const text = this.o.labelOf(spot.item);
      if (!text) return;
      const small = spot.height < 14;
      ctx.font = small ? "9px system-ui, sans-serif" : "12px system-ui, sans-serif";
      const middle = spot.top + spot.height / 2 + 0.5;
      if (!moment && (inside >= beside || ctx.measureText(text).width <= inside)) {
        if (inside >= MIN_LABEL_PX) {
          ctx.fillStyle = "#fff";
          ctx.fillText(this._fitText(text, inside), spot.x0 + 4, middle);
        }
      } else if (beside >= MIN_LABEL_PX) {
        ctx.fillStyle = ink;
        ctx.fillText(this._fitText(text, beside), spot.x1 + 4, middle);
      }
      ctx.font = "12px system-ui, sans-serif";
    });
  }

  _drawOverview() {
    const ctx = this.octx;
    const width = this._width;
    const scale = (ms) => LABEL_W + (ms / this.duration) * (width - LABEL_W);
    ctx.clearRect(0, 0, width, 18);
    ctx.fillStyle = "#eef1f6";
    ctx.fillRect(LABEL_W, 0, width - LABEL_W, 18);
    for (const layer of this.o.layers()) {
      if (layer.id === "transcript") continue;
      for (const item of this.o.itemsOf(layer.id)) {
        ctx.fillStyle = this.o.colorOf(item);
        const x = scale(item.start_ms);
        ctx.fillRect(x, 4, Math.max(1, item.end_ms == null ? 1 : scale(item.end_ms) - x), 10);
      }
    }
    ctx.strokeStyle = "#1d2433";
    ctx.lineWidth = 1.5;
    const x0 = scale(this.viewStart);
    ctx.strokeRect(x0 + 0.75, 0.75, Math.max(4, scale(this.viewStart + this.viewSpan) - x0 - 1.5), 16.5);
    ctx.fillStyle = "#d1343a";
    ctx.fillRect(scale(this.o.media.currentTime * 1000) - 1, 0, 2, 18);
    ctx.fillStyle = "#5b6475";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillText(this.o.overviewLabel, 8, 9);
  }

  // ---- hit testing

  hit(x, y) {
    const row = this.rowAtY(y);
    const layer = row ? row.layer : null;
    if (!layer || x < LABEL_W) return { layer };
    const items = this.o.itemsOf(layer.id);
    let best = null;
    for (let i = items.length - 1; i >= 0; i -= 1) {
      const item = items[i];
      const x0 = this.toX(item.start_ms);
      if (item.end_ms == null) {
        if (Math.abs(x - x0) <= EDGE_PX) return { layer, item, part: "body" };
        continue;
      }
      const x1 = this.toX(item.end_ms);
      if (x < x0 - EDGE_PX || x > x1 + EDGE_PX) continue;
      const { top, height } = this._lane(row, item);
      if (y < top - 1 || y > top + height + 1) continue;
      if (Math.abs(x - x1) <= EDGE_PX && x1 - x0 > EDGE_PX) return { layer, item, part: "end" };
      if (Math.abs(x - x0) <= EDGE_PX) return { layer, item, part: "start" };
      if (x >= x0 && x <= x1 && !best) best = { layer, item, part: "body" };
    }
    return best || { layer };
  }

  // ---- events

  _bindEvents() {
    const canvas = this.canvas;
    canvas.addEventListener("pointerdown", (event) => this._down(event));
    canvas.addEventListener("pointermove", (event) => this._move(event));
    canvas.addEventListener("pointerup", (event) => this._up(event));
    canvas.addEventListener("pointercancel", () => {
      this.drag = null;
      this.render();
    });
    canvas.addEventListener("pointerleave", () => {
      this._hideTip();
      this._hideItemTip();
    });
    canvas.addEventListener("wheel", (event) => this._wheel(event), { passive: false });
    this.overview.addEventListener("wheel", (event) => this._wheel(event), { passive: false });
    const overviewSeek = (event) => {
      const rect = this.overview.getBoundingClientRect();
      const ms = ((event.clientX - rect.left - LABEL_W) / (rect.width - LABEL_W)) * this.duration;
      this.setView(ms - this.viewSpan / 2, this.viewSpan);
    };
    this.overview.addEventListener("pointerdown", (event) => {
      this.overview.setPointerCapture(event.pointerId);
      this.overviewDrag = true;
      overviewSeek(event);
    });
    this.overview.addEventListener("pointermove", (event) => {
      if (this.overviewDrag) overviewSeek(event);
    });
    this.overview.addEventListener("pointerup", () => {
      this.overviewDrag = false;
    });
  }

  _point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  _down(event) {
    if (event.button !== 0) return;
    const { x, y } = this._point(event);
    if (x < LABEL_W) {
      const layer = this.rowAt(y);
      if (layer && this.o.onLayer) this.o.onLayer(layer.id);
      return;
    }
    this.canvas.setPointerCapture(event.pointerId);
    if (y < RULER_H) {
      this.drag = { mode: "scrub", x0: x };
      this.o.onSeek(this.clampMs(this.toMs(x)));
      return;
    }
    const found = this.hit(x, y);
    const ms = this.clampMs(this.toMs(x));
    if (found.item) {
      const editable = this.o.canEdit(found.item);
      this.drag = {
        mode: editable ? (found.part === "body" ? "move" : found.part) : "click",
        key: found.item.key,
        item: found.item,
        x0: x,
        grab: ms - found.item.start_ms,
      };
    } else if (found.layer) {
      this.drag = { mode: found.layer.editable ? "create" : "click", layer: found.layer.id, x0: x, from: ms };
    }
  }

  _move(event) {
    const { x, y } = this._point(event);
    const drag = this.drag;
    if (!drag) {
      this._hover(x, y);
      return;
    }
    const ms = this.clampMs(this.toMs(x));
    if (drag.mode === "scrub") {
      this.o.onSeek(ms);
      this._hover(x, y);
      return;
    }
    if (Math.abs(x - drag.x0) < CLICK_PX && !drag.moved) return;
    drag.moved = true;
    this._hideItemTip();
    const item = drag.item;
    if (drag.mode === "create") {
      drag.preview = { start_ms: Math.min(drag.from, ms), end_ms: Math.max(drag.from, ms) };
    } else if (drag.mode === "move") {
      const length = (item.end_ms ?? item.start_ms) - item.start_ms;
      const start = Math.min(this.duration - length, Math.max(0, ms - drag.grab));
      drag.preview = { start_ms: start, end_ms: item.end_ms == null ? null : start + length };
    } else if (drag.mode === "start") {
      drag.preview = { start_ms: Math.min(ms, item.end_ms - 100), end_ms: item.end_ms };
    } else if (drag.mode === "end") {
      drag.preview = { start_ms: item.start_ms, end_ms: Math.max(ms, item.start_ms + 100) };
    }
    this.canvas.style.cursor = drag.mode === "move" ? "grabbing" : "ew-resize";
    this.render();
  }

  _up(event) {
    const drag = this.drag;
    this.drag = null;
    this.canvas.style.cursor = "";
    if (!drag) return;
    const { x } = this._point(event);
    if (drag.mode === "scrub") return;
    if (!drag.moved) {
      if (drag.item) this.o.onSelect(drag.item.key, true);
      else {
        this.o.onSelect(null, false);
        this.o.onSeek(this.clampMs(this.toMs(x)));
      }
      this.render();
      return;
    }
    const preview = drag.preview;
    if (!preview) return;
    if (drag.mode === "create") {
      if (preview.end_ms - preview.start_ms >= 200) this.o.onCreate(drag.layer, preview.start_ms, preview.end_ms);
    } else {
      this.o.onEdit(drag.key, { start_ms: Math.round(preview.start_ms), end_ms: preview.end_ms == null ? null : Math.round(preview.end_ms) });
    }
    this.render();
  }

  _hover(x, y) {
    if (x < LABEL_W) {
      this.canvas.style.cursor = y > RULER_H ? "pointer" : "";
      this._hideTip();
      this._hideItemTip();
      return;
    }
    if (y < RULER_H) {
      this.canvas.style.cursor = "col-resize";
      this._showTip(x, this.clampMs(this.toMs(x)));
      this._hideItemTip();
      return;
    }
    this._hideTip();
    const found = this.hit(x, y);
    if (found.item) this._showItemTip(found, x);
    else this._hideItemTip();
    if (found.item && this.o.canEdit(found.item)) {
      this.canvas.style.cursor = found.part === "body" ? (found.item.end_ms == null ? "ew-resize" : "grab") : "ew-resize";
    } else if (found.item) {
      this.canvas.style.cursor = "pointer";
    } else {
      this.canvas.style.cursor = found.layer && found.layer.editable ? "crosshair" : "";
    }
  }

  _wheel(event) {
    const horizontal = event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY);
    if (!(event.ctrlKey || event.metaKey) && !horizontal) return; // the page scrolls
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) {
      const { x } = this._point(event);
      this.zoomAt(Math.exp(event.deltaY * 0.0025), x > LABEL_W ? this.toMs(x) : undefined);
    } else {
      const delta = Math.abs(event.deltaX) > Math.abs(event.deltaY) ? event.deltaX : event.deltaY;
      this.scrollBy((delta / (this.width - LABEL_W)) * this.viewSpan);
    }
  }

  // ---- thumbnails on hover of the ruler

  async loadThumbnails(url) {
    if (!url) return;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const text = await response.text();
      const cues = [];
      const pattern = /(\d+):(\d+):(\d+)\.(\d+)\s+-->\s+(\d+):(\d+):(\d+)\.(\d+)\s*\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
      for (const m of text.matchAll(pattern)) {
        const ms = (h, mi, s, f) => ((+h * 60 + +mi) * 60 + +s) * 1000 + +f;
        cues.push({
          start: ms(m[1], m[2], m[3], m[4]),
          end: ms(m[5], m[6], m[7], m[8]),
          src: new URL(m[9], new URL(url, window.location.href)).href,
          x: +m[10],
          y: +m[11],
          w: +m[12],
          h: +m[13],
        });
      }
      this.thumbs = cues;
    } catch {
      this.thumbs = null; // the time alone is shown
    }
  }

  _showTip(x, ms) {
    if (!this.tip) return;
    const image = this.tip.querySelector("[data-tip-image]");
    const label = this.tip.querySelector("[data-tip-time]");
    label.textContent = timecode(ms / 1000);
    const cue = this.thumbs && this.thumbs.find((c) => ms >= c.start && ms < c.end);
    if (cue) {
      image.hidden = false;
      image.style.width = `${cue.w}px`;
      image.style.height = `${cue.h}px`;
      image.style.backgroundImage = `url("${cue.src}")`;
      image.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
    } else {
      image.hidden = true;
    }
    this.tip.hidden = false;
    const width = this.tip.offsetWidth;
    this.tip.style.left = `${Math.min(this.width - width, Math.max(0, x - width / 2))}px`;
  }

  _hideTip() {
    if (this.tip) this.tip.hidden = true;
  }

  /** The whole label and the times of the annotation under the pointer, under its row. */
  _showItemTip({ item, layer }, x) {
    const tip = this.itemTip;
    if (!tip) return;
    const row = this.rows().find((r) => r.layer.id === layer.id);
    if (!row) return;
    tip.querySelector("[data-item-tip-label]").textContent = this.o.labelOf(item) || layer.label;
    const times = item.end_ms == null ? timecode(item.start_ms / 1000) : `${timecode(item.start_ms / 1000)} – ${timecode(item.end_ms / 1000)}`;
    tip.querySelector("[data-item-tip-time]").textContent = times;
    tip.dataset.key = item.key;
    tip.hidden = false;
    const width = tip.offsetWidth;
    const below = row.top + row.height + 4;
    tip.style.left = `${Math.min(this.width - width, Math.max(LABEL_W, x + 12))}px`;
    tip.style.top = `${below + tip.offsetHeight <= this.height ? below : Math.max(0, row.top - tip.offsetHeight - 4)}px`;
  }

  _hideItemTip() {
    if (this.itemTip) this.itemTip.hidden = true;
  }
}
