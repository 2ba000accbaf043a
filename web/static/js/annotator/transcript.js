// The transcript beside the player: the cue being spoken is highlighted (and followed), a
// click on a cue seeks there, a search marks and walks through matches, and selected text
// becomes a segment over the span of its cues, with the quote kept as a verbatim.

import { timecode } from "../format.js";

export class Transcript {
  constructor(root, app) {
    this.app = app;
    this.root = root;
    this.list = root.querySelector("[data-transcript]");
    this.empty = root.querySelector("[data-transcript-empty]");
    this.search = root.querySelector("[data-transcript-search]");
    this.hits = root.querySelector("[data-transcript-hits]");
    this.follow = root.querySelector("[data-transcript-follow]");
    this.action = root.querySelector("[data-selection-segment]");
    this.cues = [];
    this.current = null;
    this.matchIndex = -1;
    this.list.addEventListener("click", (event) => {
      const li = event.target.closest("li[data-key]");
      if (!li || !window.getSelection().isCollapsed) return;
      app.seek(Number(li.dataset.start));
    });
    this.search.addEventListener("input", () => this.render());
    this.search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      this.nextMatch(event.shiftKey ? -1 : 1);
    });
    document.addEventListener("selectionchange", () => this._selectionChanged());
    this.action.addEventListener("mousedown", (event) => event.preventDefault()); // keep the selection
    this.action.addEventListener("click", () => this.segmentFromSelection());
    app.media.addEventListener("timeupdate", () => this.highlight());
    app.media.addEventListener("seeked", () => this.highlight());
  }

  render() {
    this.cues = this.app.store.all().filter((a) => a.layer === "transcript");
    const needle = this.search.value.trim().toLowerCase();
    let found = 0;
    const rows = this.cues.map((cue) => {
      const li = document.createElement("li");
      li.dataset.key = cue.key;
      li.dataset.start = String(cue.start_ms);
      const time = document.createElement("span");
      time.className = "time";
      time.textContent = timecode(cue.start_ms / 1000);
      li.append(time);
      if (cue.speaker) {
        const who = document.createElement("strong");
        who.className = "speaker";
        who.style.setProperty("--speaker", this.app.speakerColor(cue.speaker));
        who.textContent = cue.speaker;
        li.append(who);
      }
      const text = document.createElement("span");
      text.className = "text";
      const note = cue.note || "";
      const at = needle ? note.toLowerCase().indexOf(needle) : -1;
      if (at >= 0) {
        found += 1;
        li.classList.add("match");
        const mark = document.createElement("mark");
        mark.textContent = note.slice(at, at + needle.length);
        text.append(note.slice(0, at), mark, note.slice(at + needle.length));
      } else {
        text.textContent = note;
      }
      li.append(text);
      return li;
    });
    this.list.replaceChildren(...rows);
    this.empty.hidden = this.cues.length > 0;
    const m = this.app.messages;
    this.hits.textContent = needle ? (found ? this.app.fill(m.hits, { count: found }) : m.noHits) : "";
    this.matchIndex = -1;
    this.current = null;
    this.highlight();
  }

  nextMatch(step) {
    const matches = [...this.list.querySelectorAll("li.match")];
    if (!matches.length) return;
    this.matchIndex = (this.matchIndex + step + matches.length) % matches.length;
    const li = matches[this.matchIndex];
    li.scrollIntoView({ block: "center" });
    this.app.seek(Number(li.dataset.start));
  }

  /** The cue at the playhead: the last one started, if it has not ended yet. */
  cueAt(ms) {
    let low = 0;
    let high = this.cues.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.cues[mid].start_ms <= ms) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found < 0) return null;
    const cue = this.cues[found];
    return (cue.end_ms ?? cue.start_ms) >= ms ? cue : null;
  }

  highlight() {
    const cue = this.cueAt(this.app.media.currentTime * 1000);
    const key = cue ? cue.key : null;
    if (key === this.current) return;
    if (this.current) {
      const old = this.list.querySelector(`li[data-key="${CSS.escape(this.current)}"]`);
      if (old) old.classList.remove("current");
    }
    this.current = key;
    if (!key) return;
    const li = this.list.querySelector(`li[data-key="${CSS.escape(key)}"]`);
    if (!li) return;
    li.classList.add("current");
    li.setAttribute("aria-current", "true");
    const shown = !this.root.hidden && this.list.offsetParent !== null; // not folded away
    // Following the playback: not before it starts (the tab opens on what is above the list).
    const moved = this.app.media.played.length > 0 || this.app.media.currentTime > 0;
    if (this.follow.checked && shown && moved && window.getSelection().isCollapsed) {
      li.scrollIntoView({ block: "nearest" });
    }
  }

  _selectedCues() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    if (!this.list.contains(range.commonAncestorContainer)) return null;
    const liOf = (node) => (node.nodeType === 1 ? node : node.parentElement).closest("li[data-key]");
    const first = liOf(range.startContainer);
    const last = liOf(range.endContainer);
    if (!first || !last) return null;
    const keys = this.cues.map((c) => c.key);
    const from = keys.indexOf(first.dataset.key);
    const to = keys.indexOf(last.dataset.key);
    if (from < 0 || to < 0) return null;
    return { cues: this.cues.slice(Math.min(from, to), Math.max(from, to) + 1), text: selection.toString().replace(/\s+/g, " ").trim() };
  }

  _selectionChanged() {
    const chosen = this._selectedCues();
    if (!chosen || !chosen.text) {
      this.action.hidden = true;
      return;
    }
    const rect = window.getSelection().getRangeAt(0).getBoundingClientRect();
    const box = this.root.getBoundingClientRect();
    this.action.hidden = false;
    this.action.style.top = `${rect.bottom - box.top + this.root.scrollTop + 6}px`;
    this.action.style.left = `${Math.max(0, Math.min(box.width - this.action.offsetWidth, rect.left - box.left))}px`;
  }

  segmentFromSelection() {
    const chosen = this._selectedCues();
    if (!chosen) return;
    const first = chosen.cues[0];
    const last = chosen.cues[chosen.cues.length - 1];
    const end = Math.max(last.end_ms ?? last.start_ms, first.start_ms + 100);
    const speakers = [...new Set(chosen.cues.map((c) => c.speaker).filter(Boolean))];
    this.app.createSegment(first.start_ms, end, {
      verbatims: [{ text: chosen.text, speaker: speakers.join(", "), ms: first.start_ms }],
    });
    window.getSelection().removeAllRanges();
    this.action.hidden = true;
  }
}
