// The recording's player (<div data-player> around an <audio>/<video data-player-media>):
// playback speed, the time written `10’02 / 1h15’10`, for audio the waveform canvas
// (<canvas data-waveform-url>), and its tracks (chapters, current segment: ./tracks.js).
// The native controls work without this module.

import { timecode } from "./format.js";
import { bindTracks } from "./tracks.js";
import { parseWaveform, WaveformView } from "./waveform.js";

const RATE_KEY = "autoconf.playbackRate";

function savedRate() {
  try {
    return Number.parseFloat(window.localStorage.getItem(RATE_KEY)) || 1;
  } catch {
    return 1;
  }
}

async function loadWaveform(canvas, media) {
  try {
    const response = await fetch(canvas.dataset.waveformUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`waveform: HTTP ${response.status}`);
    const waveform = parseWaveform(await response.arrayBuffer());
    canvas.hidden = false;
    return new WaveformView(canvas, media, waveform);
  } catch (error) {
    // The player still works without its picture.
    console.warn(error);
    return null;
  }
}

function bind(root) {
  const media = root.querySelector("[data-player-media]");
  const bar = root.querySelector("[data-player-bar]");
  if (!media || !bar) return;
  const current = bar.querySelector("[data-time-current]");
  const total = bar.querySelector("[data-time-total]");
  const speeds = [...bar.querySelectorAll("[data-rate]")];
  const known = Number.parseInt(root.dataset.durationMs, 10) / 1000;

  function showTime() {
    current.textContent = timecode(media.currentTime);
    // The original's duration, as the rest of the page shows it; the proxy's is a few ms off.
    const duration = Number.isFinite(known) && known > 0 ? known : media.duration;
    if (Number.isFinite(duration) && duration > 0) total.textContent = timecode(duration);
  }

  function showRate() {
    for (const button of speeds) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.rate) === media.playbackRate));
    }
  }

  function setRate(rate) {
    media.defaultPlaybackRate = rate; // survives the reload that a new source causes
    media.playbackRate = rate;
    try {
      window.localStorage.setItem(RATE_KEY, String(rate));
    } catch {
      // Private browsing: the speed just isn't remembered.
    }
  }

  for (const name of ["timeupdate", "seeked", "durationchange", "loadedmetadata"]) {
    media.addEventListener(name, showTime);
  }
  media.addEventListener("ratechange", showRate);
  for (const button of speeds) {
    button.addEventListener("click", () => setRate(Number(button.dataset.rate)));
  }

  const rate = savedRate();
  if (speeds.some((button) => Number(button.dataset.rate) === rate)) setRate(rate);
  showRate();
  showTime();
  bar.hidden = false;

  const canvas = root.querySelector("[data-waveform-url]");
  if (canvas) loadWaveform(canvas, media);
  bindTracks(root, media);
}

for (const root of document.querySelectorAll("[data-player]")) bind(root);
