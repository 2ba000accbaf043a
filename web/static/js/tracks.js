// The player's WebVTT tracks (<track data-track="chapters|segments"> in its media element),
// read through the TextTrack API: the prepared moments as a row of chapters under the player
// (<ol data-chapter-list>: a click goes there, the current one is marked), and the coding
// segments under the playhead on one line (<p data-segment-line>). A `tracks-stale` event
// on the media element (the annotator sends it after saving a prepared moment) loads them
// again. Without this module the tracks are the browser's alone.

import { timecode } from "./format.js";

/** A cue's text as written: its character references (&amp;, &lt;) read, no markup. */
function plain(cue) {
  return cue.getCueAsHTML().textContent;
}

function chapterItem(cue, media) {
  const title = plain(cue);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "chapter";
  button.title = `${timecode(cue.startTime)} · ${title}`;
  button.dataset.start = String(cue.startTime);
  const time = document.createElement("span");
  time.className = "chapter-time";
  time.textContent = timecode(cue.startTime);
  const words = document.createElement("span");
  words.className = "chapter-title";
  words.textContent = title;
  button.append(time, words);
  button.addEventListener("click", () => {
    media.currentTime = cue.startTime;
  });
  const item = document.createElement("li");
  item.append(button);
  return item;
}

function bindChapters(element, root, media) {
  const nav = root.querySelector("[data-chapters]");
  const list = root.querySelector("[data-chapter-list]");
  if (!nav || !list) return;
  const { track } = element;

  // One current chapter: the latest begun (at a boundary Chromium holds both active).
  function markCurrent() {
    const starts = [...(track.activeCues || [])].map((cue) => cue.startTime);
    const current = starts.length ? String(Math.max(...starts)) : null;
    for (const button of list.querySelectorAll("button")) {
      if (button.dataset.start !== current) {
        button.removeAttribute("aria-current");
        continue;
      }
      button.setAttribute("aria-current", "true");
      // Into the row's view, sideways only: the page itself never scrolls for it.
      const left = button.offsetLeft; // from the row's start (the row is positioned)
      if (left < list.scrollLeft || left + button.offsetWidth > list.scrollLeft + list.clientWidth) {
        list.scrollLeft = Math.max(0, left - 8);
      }
    }
  }

  function render() {
    const cues = [...(track.cues || [])];
    list.replaceChildren(...cues.map((cue) => chapterItem(cue, media)));
    nav.hidden = cues.length === 0;
    root.dataset.chapters = String(cues.length);
    markCurrent();
  }

  element.addEventListener("load", render);
  element.addEventListener("error", render); // none, rather than another recording's
  track.addEventListener("cuechange", markCurrent);
  if (element.readyState === HTMLTrackElement.LOADED) render();
}

function bindSegments(element, root) {
  const line = root.querySelector("[data-segment-line]");
  const current = line && line.querySelector("[data-segment-current]");
  if (!line || !current) return;
  const { track } = element;
  const messages = line.dataset;

  function describe(cue) {
    let data;
    try {
      data = JSON.parse(cue.text);
    } catch {
      return null;
    }
    const codes = Array.isArray(data.codes) && data.codes.length ? data.codes.join(" · ") : "";
    const what = codes || data.note || messages.msgNoCode;
    return data.layer === "consensus" ? `${what} (${messages.msgConsensus})` : what;
  }

  function show() {
    const cues = [...(track.activeCues || [])];
    const texts = cues.map(describe).filter(Boolean);
    current.textContent = texts.length ? texts.join(" ; ") : messages.msgNone;
  }

  function render() {
    line.hidden = !(track.cues && track.cues.length);
    show();
  }

  element.addEventListener("load", render);
  element.addEventListener("error", render);
  track.addEventListener("cuechange", show);
  if (element.readyState === HTMLTrackElement.LOADED) render();
}

/** Loads the tracks of `root`'s media (hidden: read here, drawn by nobody) and binds them. */
export function bindTracks(root, media) {
  const elements = [...media.querySelectorAll("track[data-track]")];
  for (const element of elements) {
    if (element.dataset.track === "chapters") bindChapters(element, root, media);
    else if (element.dataset.track === "segments") bindSegments(element, root);
    element.track.mode = "hidden";
  }
  let version = 0;
  media.addEventListener("tracks-stale", () => {
    version += 1;
    for (const element of elements) {
      const url = new URL(element.src, window.location.href);
      url.searchParams.set("v", String(version));
      element.src = url.href; // the browser reads the track again, and says so with `load`
    }
  });
}
