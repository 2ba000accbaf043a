// Follows the processing of a recording (<div data-media-progress data-api-url>): polls the
// API every second, moves the bar and the stage label, reloads once the job has settled.
// With data-progress-of="job", the answer's `job` is followed instead (a transcription),
// and the recording's status chips are left alone.

import { getJSON } from "./api.js";
import { percent } from "./format.js";

const RUNNING = new Set(["uploaded", "queued", "processing", "running"]);
const HIDDEN_INTERVAL = 5000;
const LONGEST_WAIT = 30000;

function bind(box) {
  const url = box.dataset.apiUrl;
  const interval = Number.parseInt(box.dataset.interval, 10) || 1000;
  const bar = box.querySelector("[data-progress-bar]");
  const shown = box.querySelector("[data-progress-percent]");
  const stage = box.querySelector("[data-progress-stage]");
  const problem = box.querySelector("[data-progress-error]");
  let failures = 0;
  let timer = null;

  function update(recording) {
    const label = box.dataset[`label${recording.status.charAt(0).toUpperCase()}${recording.status.slice(1)}`];
    for (const chip of box.dataset.progressOf ? [] : document.querySelectorAll("[data-status-chip]")) {
      chip.className = `status status-${recording.status}`;
      if (label) chip.textContent = label;
    }
    stage.textContent = recording.stage || "";
    if (typeof recording.progress === "number" && Number.isFinite(recording.progress)) {
      bar.value = Math.max(0, Math.min(100, recording.progress));
      shown.textContent = percent(recording.progress);
    } else {
      bar.removeAttribute("value"); // indeterminate until the job knows how far it is
      shown.textContent = "";
    }
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? Math.max(delay, HIDDEN_INTERVAL) : delay);
  }

  async function poll() {
    let recording;
    try {
      recording = await getJSON(url, box.dataset.msgLost);
    } catch (error) {
      failures += 1;
      if (failures >= 3) {
        problem.textContent = error.message;
        problem.hidden = false;
      }
      schedule(Math.min(interval * 2 ** failures, LONGEST_WAIT));
      return;
    }
    failures = 0;
    problem.hidden = true;
    if (box.dataset.progressOf) recording = recording[box.dataset.progressOf] || { status: "gone" };
    if (!RUNNING.has(recording.status)) {
      window.location.reload();
      return;
    }
    update(recording);
    schedule(interval);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) schedule(0);
  });
  schedule(interval);
}

for (const box of document.querySelectorAll("[data-media-progress]")) bind(box);
