// The audio waveform as the picture of a recording: BBC audiowaveform binary data drawn
// on a HiDPI canvas, with the playhead over it; click or drag to seek, arrows to step.

import { timecode } from "./format.js";

const STEP = 5;
const LONG_STEP = 30;

/**
 * Parses the audiowaveform binary format (little-endian): int32 version (1 or 2),
 * uint32 flags (bit 0: 8-bit samples, else 16-bit), int32 sample rate, int32 samples per
 * pixel, uint32 length, [v2: uint32 channels], then `length` × channels (min, max) pairs.
 * Channels are merged; values come back in -1..1.
 */
export function parseWaveform(buffer) {
  const view = new DataView(buffer);
  if (buffer.byteLength < 20) throw new Error("waveform: truncated header");
  const version = view.getInt32(0, true);
  if (version !== 1 && version !== 2) throw new Error(`waveform: unknown version ${version}`);
  const eightBit = (view.getUint32(4, true) & 1) === 1;
  const sampleRate = view.getInt32(8, true);
  const samplesPerPixel = view.getInt32(12, true);
  const declared = view.getUint32(16, true);
  const channels = version === 2 ? Math.max(1, view.getUint32(20, true)) : 1;
  const start = version === 2 ? 24 : 20;
  if (sampleRate <= 0 || samplesPerPixel <= 0) throw new Error("waveform: bad rates");
  const size = eightBit ? 1 : 2;
  const scale = eightBit ? 128 : 32768;
  const length = Math.min(declared, Math.floor((buffer.byteLength - start) / (2 * size * channels)));
  const mins = new Float32Array(length);
  const maxs = new Float32Array(length);
  let offset = start;
  const read = eightBit ? (at) => view.getInt8(at) : (at) => view.getInt16(at, true);
  for (let i = 0; i < length; i += 1) {
    let low = Infinity;
    let high = -Infinity;
    for (let c = 0; c < channels; c += 1) {
      low = Math.min(low, read(offset));
      high = Math.max(high, read(offset + size));
      offset += 2 * size;
    }
    mins[i] = low / scale;
    maxs[i] = high / scale;
  }
  const secondsPerPair = samplesPerPixel / sampleRate;
  return { mins, maxs, length, secondsPerPair, duration: length * secondsPerPair };
}

function colour(style, name, fallback) {
  return style.getPropertyValue(name).trim() || fallback;
}

export class WaveformView {
  constructor(canvas, media, waveform) {
    this.canvas = canvas;
    this.media = media;
    this.waveform = waveform;
    this.hoverX = null;
    this.frame = null;
    this.peak = 0;
    for (let i = 0; i < waveform.length; i += 1) {
      this.peak = Math.max(this.peak, waveform.maxs[i], -waveform.mins[i]);
    }

    new ResizeObserver(() => this.resize()).observe(canvas);
    for (const name of ["timeupdate", "seeked", "durationchange", "loadedmetadata"]) {
      media.addEventListener(name, () => this.draw());
    }
    media.addEventListener("play", () => this.animate());
    canvas.addEventListener("pointerdown", (event) => this.press(event));
    canvas.addEventListener("pointermove", (event) => this.hover(event));
    canvas.addEventListener("pointerleave", () => {
      this.hoverX = null;
      this.draw();
    });
    canvas.addEventListener("keydown", (event) => this.key(event));
    canvas.setAttribute("aria-valuemax", String(Math.floor(this.duration())));
    this.resize();
  }

  /** The time the canvas spans: the media's once known, else the waveform's own. */
  duration() {
    const known = this.media.duration;
    return Number.isFinite(known) && known > 0 ? known : this.waveform.duration;
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    if (width === this.canvas.width && height === this.canvas.height && this.layers) return;
    this.canvas.width = width;
    this.canvas.height = height;
    this.ratio = ratio;
    this.layers = null;
    this.draw();
  }

  /** The wave in both colours at the canvas size, drawn once per size and duration. */
  paintLayers() {
    const { width, height } = this.canvas;
    const style = getComputedStyle(this.canvas);
    const total = this.duration();
    const { mins, maxs, length, secondsPerPair } = this.waveform;
    const gain = this.peak > 0.02 ? 0.92 / this.peak : 1;
    const middle = height / 2;
    const layers = {};
    for (const [name, variable, fallback] of [
      ["rest", "--wave-rest", "#9fb3c8"],
      ["played", "--wave-played", "#1f5f8b"],
    ]) {
      const layer = document.createElement("canvas");
      layer.width = width;
      layer.height = height;
      const context = layer.getContext("2d");
      context.fillStyle = colour(style, variable, fallback);
      for (let x = 0; x < width; x += 1) {
        const from = Math.floor(((x / width) * total) / secondsPerPair);
        const to = Math.max(from + 1, Math.floor((((x + 1) / width) * total) / secondsPerPair));
        if (from >= length) break;
        let low = 0;
        let high = 0;
        for (let i = from; i < Math.min(to, length); i += 1) {
          if (mins[i] < low) low = mins[i];
          if (maxs[i] > high) high = maxs[i];
        }
        const top = middle - high * gain * middle;
        const bottom = middle - low * gain * middle;
        context.fillRect(x, top, 1, Math.max(1, bottom - top));
      }
      layers[name] = layer;
    }
    this.layers = layers;
    this.layersFor = total;
  }

  draw() {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.paint());
  }

  animate() {
    const step = () => {
      this.paint();
      if (!this.media.paused && !this.media.ended) this.frame = requestAnimationFrame(step);
    };
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(step);
  }

  paint() {
    const { width, height } = this.canvas;
    if (!this.layers || this.layersFor !== this.duration()) this.paintLayers();
    const context = this.canvas.getContext("2d");
    const style = getComputedStyle(this.canvas);
    const total = this.duration();
    const now = this.media.currentTime || 0;
    const head = total > 0 ? Math.min(width, (now / total) * width) : 0;
    context.clearRect(0, 0, width, height);
    context.drawImage(this.layers.rest, 0, 0);
    if (head > 0) context.drawImage(this.layers.played, 0, 0, head, height, 0, 0, head, height);
    context.fillStyle = colour(style, "--wave-head", "#b42318");
    context.fillRect(Math.round(head - this.ratio), 0, Math.max(2, Math.round(2 * this.ratio)), height);
    if (this.hoverX !== null) this.paintHover(context, style, total);
    this.canvas.setAttribute("aria-valuenow", String(Math.floor(now)));
    this.canvas.setAttribute("aria-valuetext", timecode(now));
    this.canvas.setAttribute("aria-valuemax", String(Math.floor(total)));
  }

  paintHover(context, style, total) {
    const { width, height } = this.canvas;
    const x = this.hoverX * this.ratio;
    context.fillStyle = colour(style, "--wave-hover", "rgba(16, 42, 67, .45)");
    context.fillRect(Math.round(x), 0, Math.max(1, Math.round(this.ratio)), height);
    const label = timecode((x / width) * total);
    context.font = `${Math.round(12 * this.ratio)}px system-ui, sans-serif`;
    const textWidth = context.measureText(label).width;
    const pad = 4 * this.ratio;
    const left = Math.min(Math.max(0, x + pad), width - textWidth - 2 * pad);
    context.fillStyle = "rgba(16, 42, 67, .85)";
    context.fillRect(left, pad, textWidth + 2 * pad, 18 * this.ratio);
    context.fillStyle = "#fff";
    context.textBaseline = "middle";
    context.fillText(label, left + pad, pad + 9 * this.ratio);
  }

  timeAt(event) {
    const box = this.canvas.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    return share * this.duration();
  }

  seek(seconds) {
    const total = this.duration();
    this.media.currentTime = Math.min(Math.max(0, seconds), total > 0 ? total : 0);
    this.draw();
  }

  press(event) {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    this.seek(this.timeAt(event));
    const drag = (move) => this.seek(this.timeAt(move));
    const release = () => {
      this.canvas.removeEventListener("pointermove", drag);
      this.canvas.removeEventListener("pointerup", release);
      this.canvas.removeEventListener("pointercancel", release);
    };
    this.canvas.addEventListener("pointermove", drag);
    this.canvas.addEventListener("pointerup", release);
    this.canvas.addEventListener("pointercancel", release);
  }

  hover(event) {
    const box = this.canvas.getBoundingClientRect();
    this.hoverX = event.clientX - box.left;
    this.draw();
  }

  key(event) {
    const now = this.media.currentTime || 0;
    const moves = {
      ArrowLeft: now - STEP,
      ArrowRight: now + STEP,
      PageDown: now - LONG_STEP,
      PageUp: now + LONG_STEP,
      Home: 0,
      End: this.duration(),
    };
    if (event.key in moves) {
      this.seek(moves[event.key]);
    } else if (event.key === " ") {
      if (this.media.paused) this.media.play();
      else this.media.pause();
    } else {
      return;
    }
    event.preventDefault();
  }
}
