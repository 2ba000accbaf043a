// The disagreement view (/recordings/{id}/compare): step through the stretches where two
// coders disagree (N next, P previous, R replay: each plays its stretch and stops at its
// end), see them on the timeline (zoomed around the one selected), and settle each with the
// consensus API. After a decision the page's body is read again from the server, so what
// shows is what is stored; the player keeps playing.

import { parseTime } from "./annotator/time.js";
import { sendJSON } from "./api.js";
import { timecode } from "./format.js";

const CONTEXT_MS = 20_000; // shown on each side of a stretch when zoomed
const PREROLL_MS = 1_000; // heard before a stretch, to catch what leads into it

const media = document.querySelector("[data-player-media]");
let body = document.querySelector("[data-compare-body]");
let current = -1; // the index of the selected stretch
let stopAt = null; // ms: the playback pauses there (the end of the stretch played)
let ownSeek = false; // the seek under way is select()'s, not the researcher's

function items() {
  return body ? [...body.querySelectorAll("[data-disagreements] > li")] : [];
}

function ms(element, name) {
  return Number.parseInt(element.dataset[name], 10) || 0;
}

function ids(text) {
  return (text || "")
    .split(",")
    .filter(Boolean)
    .map((x) => Number.parseInt(x, 10));
}

function showError(message) {
  const box = body && body.querySelector("[data-compare-error]");
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

/** The window of the timeline: the whole recording, or around the selected stretch. */
function view() {
  const duration = ms(body, "durationMs");
  const zoom = body.querySelector("[data-zoom]");
  const item = items()[current];
  if (!item || !zoom || !zoom.checked || !duration) return [0, Math.max(1, duration)];
  const start = Math.max(0, ms(item, "startMs") - CONTEXT_MS);
  const end = Math.min(duration, ms(item, "endMs") + CONTEXT_MS);
  return [start, Math.max(start + 1, end)];
}

function layout() {
  if (!body) return;
  const [from, to] = view();
  const span = to - from;
  for (const element of body.querySelectorAll("[data-track] > [data-start-ms]")) {
    const start = Math.max(from, ms(element, "startMs"));
    const end = Math.min(to, ms(element, "endMs"));
    element.hidden = end <= start;
    element.style.left = `${((start - from) / span) * 100}%`;
    element.style.width = `${((end - start) / span) * 100}%`;
  }
  const startLabel = body.querySelector("[data-ruler-start]");
  const endLabel = body.querySelector("[data-ruler-end]");
  if (startLabel) startLabel.textContent = timecode(from / 1000);
  if (endLabel) endLabel.textContent = timecode(to / 1000);
  movePlayhead();
}

function movePlayhead() {
  const head = body && body.querySelector("[data-playhead]");
  const track = body && body.querySelector("[data-track]");
  if (!head || !track || !media) return;
  const [from, to] = view();
  const now = media.currentTime * 1000;
  const box = body.querySelector("[data-tracks]").getBoundingClientRect();
  const lane = track.getBoundingClientRect();
  head.hidden = now < from || now > to;
  head.style.left = `${lane.left - box.left + ((now - from) / (to - from)) * lane.width}px`;
}

function select(index, play) {
  const list = items();
  if (!list.length) return;
  current = Math.max(0, Math.min(list.length - 1, index));
  list.forEach((li, i) => li.classList.toggle("current", i === current));
  for (const gap of body.querySelectorAll(".gap")) {
    gap.classList.toggle("current", Number(gap.dataset.index) === current);
  }
  const item = list[current];
  item.scrollIntoView({ block: "nearest" });
  layout();
  if (play && media) {
    ownSeek = true;
    media.currentTime = Math.max(0, ms(item, "startMs") - PREROLL_MS) / 1000;
    stopAt = ms(item, "endMs");
    media.play().catch(() => {});
  }
}

function step(direction) {
  const list = items();
  if (!list.length) return;
  select(current < 0 ? (direction > 0 ? 0 : list.length - 1) : current + direction, true);
}

/** The requests that settle stretch `item` as the button `kind` says; throws when the times
 * of "Autre…" are not times. */
function requests(item, kind) {
  const a = ids(item.dataset.segmentsA);
  const b = ids(item.dataset.segmentsB);
  const span = { start_ms: ms(item, "startMs"), end_ms: ms(item, "endMs") };
  const keep = (mine, theirs) =>
    mine.length
      ? mine.map((id) => ({ kind: "accept", source_ids: [id] }))
      : [{ kind: "none", source_ids: theirs, ...span }];
  if (kind === "a") return keep(a, b);
  if (kind === "b") return keep(b, a);
  if (kind === "none") return [{ kind: "none", source_ids: [...a, ...b], ...span }];
  if (kind === "merge") return [{ kind: "merge", source_ids: [...a, ...b] }];
  const start = parseTime(item.querySelector("[data-new-start]").value);
  const end = parseTime(item.querySelector("[data-new-end]").value);
  if (start === undefined || end === undefined) throw new Error(body.dataset.msgTime);
  const codes = [...item.querySelector("[data-new-codes]").selectedOptions].map((o) => Number(o.value));
  return [{ kind: "new", source_ids: [...a, ...b], start_ms: start, end_ms: end, code_ids: codes }];
}

async function send(method, url, payload) {
  const fallback = body.dataset.msgFailed;
  const answer = await sendJSON(method, url, payload, fallback);
  if (!answer.ok) throw new Error(answer.detail || fallback);
  return answer.data;
}

/** Read the page again and put its new body in place of the old one; throws when the
 * page could not be read (the decisions stored stay stored: a reload shows them). */
async function refresh() {
  const fallback = body.dataset.msgReload;
  let response;
  try {
    response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new Error(fallback);
  }
  if (!response.ok) throw new Error(fallback);
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.querySelector("[data-compare-body]");
  if (!fresh) throw new Error(fallback);
  body.replaceWith(fresh);
  body = fresh;
  bindBody();
}

async function act(work, next) {
  showError("");
  const buttons = [...body.querySelectorAll("button")];
  for (const button of buttons) button.disabled = true;
  try {
    await work();
    await refresh();
    // On to the next stretch still open, without playing it: the researcher decides when.
    const list = items();
    const open = list.findIndex((li, i) => i >= next && !li.classList.contains("settled"));
    if (list.length) select(open >= 0 ? open : Math.min(next, list.length - 1), false);
  } catch (error) {
    // Part of a decision may be stored (keeping two segments is two requests): show what
    // is, so that a second try does not write it twice.
    try {
      await refresh();
    } catch {
      for (const button of buttons) button.disabled = false;
    }
    showError(error.message);
  }
}

function bindBody() {
  if (!body) return;
  const url = `/api/v1/recordings/${body.dataset.recording}/consensus`;
  body.addEventListener("click", (event) => {
    const target = event.target.closest("button, .gap");
    if (!target) return;
    const item = target.closest("[data-disagreements] > li");
    if (target.matches("[data-step]")) step(Number(target.dataset.step));
    else if (target.matches("[data-replay]")) select(current < 0 ? 0 : current, true);
    else if (target.matches(".gap")) select(Number(target.dataset.index), true);
    else if (target.matches("[data-play]") && item) select(Number(item.dataset.index), true);
    else if (target.matches("[data-other]") && item) {
      const form = item.querySelector("[data-new-segment]");
      form.hidden = !form.hidden;
      target.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("input").focus();
    } else if (target.matches("[data-decide]") && item) {
      const index = Number(item.dataset.index);
      let payloads;
      try {
        payloads = requests(item, target.dataset.decide);
      } catch (error) {
        showError(error.message);
        return;
      }
      act(async () => {
        for (const payload of payloads) await send("POST", url, payload);
      }, index);
    } else if (target.matches("[data-undo]") && item) {
      if (!window.confirm(body.dataset.msgUndo)) return;
      const index = Number(item.dataset.index);
      act(() => send("DELETE", `${url}/${target.dataset.undo}`), index);
    } else if (target.matches("[data-adopt]")) {
      if (!window.confirm(body.dataset.msgAdopt)) return;
      const payload = {
        coder_ids: [Number(body.dataset.coderA), Number(body.dataset.coderB)],
        layer: body.dataset.layer,
      };
      act(() => send("POST", `${url}/agreements`, payload), Math.max(0, current));
    }
  });
  const zoom = body.querySelector("[data-zoom]");
  if (zoom) zoom.addEventListener("change", layout);
  for (const track of body.querySelectorAll("[data-track]")) {
    track.addEventListener("click", (event) => {
      if (event.target.closest(".gap") || !media) return;
      const box = track.getBoundingClientRect();
      const [from, to] = view();
      stopAt = null;
      media.currentTime = (from + ((event.clientX - box.left) / box.width) * (to - from)) / 1000;
    });
  }
  if (current >= 0) select(current, false);
  else layout();
}

/** A field where the keys type (a checkbox or a button does not take N, P, R). */
function typing(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target.matches("textarea, select, input:not([type=checkbox], [type=radio], [type=button])"))
  );
}

if (body) {
  bindBody();
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key.toLowerCase();
    if (key === "n") step(1);
    else if (key === "p") step(-1);
    else if (key === "r") select(current < 0 ? 0 : current, true);
    else return;
    event.preventDefault();
  });
  if (media) {
    media.addEventListener("timeupdate", () => {
      if (stopAt !== null && media.currentTime * 1000 >= stopAt) {
        media.pause();
        stopAt = null;
      }
      movePlayhead();
    });
    // A seek by hand (the controls, the keys, the timeline) or a pause is not the stretch
    // playing any more: it plays on.
    media.addEventListener("seeking", () => {
      if (!ownSeek) stopAt = null;
      ownSeek = false;
      movePlayhead();
    });
    media.addEventListener("pause", () => {
      stopAt = null;
    });
  }
  window.addEventListener("resize", movePlayhead);
}
