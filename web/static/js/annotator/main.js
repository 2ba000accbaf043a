// The annotator of a recording (<div data-annotator>): wires the store (autosave, undo),
// the timeline, the tagging panel, the list and the transcript, and the annotating keys.
// The player's own keys (play, seek, speed, help) stay in ../shortcuts.js; the keys here run
// first (capture) and mark the event as handled. Escape closes what is open, one thing at a
// time (a field, a selection of transcript text, a segment being recorded, the selected
// annotation), and never pauses the playback.

import { tokenHeaders } from "../api.js";
import { fill as fillMessage, timecode } from "../format.js";
import { DraftEditor } from "./draft.js";
import { AnnotationList } from "./list.js";
import { Panel } from "./panel.js";
import { Store } from "./store.js";
import { Timeline } from "./timeline.js";
import { Transcript } from "./transcript.js";

const NUDGE_MS = 100;
// A code key pressed this soon after M codes the moment just marked (not a new segment).
const JUST_MARKED_MS = 10000;
const MAX_LANES = 3;
const LAYER_COLORS = { prepared: "#6f4ac2", stops: "#c2410c", schemes: "#5b6475", consensus: "#5b6475", phases: "#0f766e", categories: "#7c5e10", transcript: "#8a94a6" };
const SPEAKER_COLORS = ["#1f5f8b", "#9a3412", "#166534", "#6b21a8", "#854d0e", "#155e75"];

const TEXT_INPUTS = "textarea, select, input:not([type=checkbox], [type=radio], [type=range], [type=button], [type=submit], [type=color], [type=file])";

/** The codebooks as the interface's language shows them: in English, each code's English
 * label and description where it has them, and its path made of the labels shown. */
function inLanguage(codebooks, language) {
  if (language !== "en") return codebooks;
  return codebooks.map((book) => {
    const paths = new Map();
    const codes = book.codes.map((code) => {
      const label = code.label_en || code.label;
      // Depth-first: a parent comes before its children.
      const path = code.parent_id != null && paths.has(code.parent_id) ? `${paths.get(code.parent_id)}/${label}` : label;
      paths.set(code.id, path);
      return { ...code, label, path, description: code.description_en || code.description };
    });
    return { ...book, codes };
  });
}

/** A field where keys type text: there, only Escape (leave it) and Ctrl+M act (a checkbox is
 * not one). */
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || target.matches(TEXT_INPUTS));
}

class Annotator {
  constructor(root) {
    this.root = root;
    const data = JSON.parse(root.parentElement.querySelector("[data-annotator-data]").textContent);
    this.messages = data.messages;
    this.layerLabels = data.layers; // only the layers this user sees
    this.writable = new Set(data.writable); // and those they write on here
    this.members = data.members;
    this.recordingId = Number(root.dataset.recordingId);
    this.studyId = Number(root.dataset.studyId);
    this.userId = Number(root.dataset.userId);
    this.offsetMs = Number(root.dataset.offsetMs) || 0;
    this.canManage = root.dataset.canManage === "1";
    this.coValidation = root.dataset.coValidation === "1";
    this.media = root.querySelector("[data-player-media]");
    this.toastNode = root.parentElement.querySelector("[data-toast]");
    this.selected = null;
    this.activeLayerId = this.writable.has("schemes") ? "schemes" : "prepared";
    this.open = null;
    this.justMarked = null; // {key, at}: the moment M made, which a code key codes
    this.speakerColors = new Map();
    this.setCodebooks(data.codebooks);
    this.store = new Store({
      recordingId: this.recordingId,
      userId: this.userId,
      annotations: data.annotations,
      storageKey: `autoconf.pending.${this.recordingId}.${this.userId}`,
      canShow: this.canManage,
    });
    this._groups = null;
    this.timeline = new Timeline(root.querySelector("[data-timeline]"), {
      media: this.media,
      durationMs: Number(root.dataset.durationMs) || 0,
      layers: () => this.layers(),
      itemsOf: (id) => this.groups().get(id) || [],
      laneOf: (item) => this.laneOf(item),
      lanesOf: (id) => this.lanesOf(id),
      colorOf: (item) => this.colorOf(item),
      labelOf: (item) => this.labelOf(item),
      activeLayer: () => this.activeLayerId,
      canEdit: (item) => this.canEdit(item),
      onSeek: (ms) => this.seek(ms),
      onSelect: (key, seek) => this.select(key, { seek, focus: false }),
      onCreate: (layerId, start, end) => this.createOnRow(layerId, start, end),
      onEdit: (key, changes) => this.store.update(key, changes),
      onLayer: (layerId) => this.setActiveLayer(layerId),
      overviewLabel: this.messages.overview,
    });
    this.timeline.loadThumbnails(root.dataset.thumbnailsUrl);
    if (!(Number(root.dataset.durationMs) > 0)) {
      // Duration unknown to the server: the player's own tells the timeline its length.
      const known = () => {
        if (Number.isFinite(this.media.duration) && this.media.duration > 0) {
          this.timeline.duration = Math.round(this.media.duration * 1000);
          this.timeline.fit();
        }
      };
      if (this.media.readyState >= 1) known();
      else this.media.addEventListener("loadedmetadata", known, { once: true });
    }
    this.panel = new Panel(root.querySelector("[data-panel]"), this);
    this.list = new AnnotationList(root.querySelector('[data-tab-body="list"]'), this);
    this.transcript = new Transcript(root.querySelector('[data-tab-body="transcript"]'), this);
    const draft = root.querySelector("[data-draft-editor]");
    this.draft = draft ? new DraftEditor(draft, this) : null;
    this._bindStore();
    this._bindToolbar();
    this._bindTabs();
    this._bindKeys();
    this._bindCodebookUpdates();
    this.list.render();
    this.transcript.render();
    this.media.addEventListener("seeked", () => this.timeline.render());
    // A link to a moment (`#t=602000`, from the preparation notes) opens the player there.
    const at = /^#t=(\d+)$/.exec(window.location.hash);
    if (at) {
      const go = () => {
        this.seek(Number(at[1]));
        this.timeline.reveal(Number(at[1]));
        const item = this.store.all().find((a) => a.start_ms === Number(at[1]) && a.layer !== "transcript");
        if (item) this.select(item.key);
      };
      if (this.media.readyState >= 1) go();
      else this.media.addEventListener("loadedmetadata", go, { once: true });
    }
    this.media.addEventListener("pause", () => this.timeline.render());
  }

  // ---- data helpers

  setCodebooks(codebooks) {
    codebooks = inLanguage(codebooks, document.documentElement.lang);
    this.codebooks = codebooks;
    this.codes = new Map();
    this.hotkeys = new Map();
    for (const book of codebooks) {
      for (const code of book.codes) {
        this.codes.set(code.id, { ...code, kind: book.kind });
        if (code.hotkey && !code.archived) this.hotkeys.set(code.hotkey, code.id);
      }
    }
  }

  fill(message, values) {
    return fillMessage(message, values);
  }

  authorName(id) {
    if (id == null) return this.messages.someone;
    return this.members[String(id)] || this.messages.someone;
  }

  canEdit(item) {
    return this.writable.has(item.layer) && (item.author_id === this.userId || this.canManage);
  }

  rowOf(item) {
    return item.layer === "prepared" ? `prepared:${item.author_id ?? ""}` : item.layer;
  }

  groups() {
    if (!this._groups) {
      this._groups = new Map();
      for (const item of this.store.all()) {
        const row = this.rowOf(item);
        if (!this._groups.has(row)) this._groups.set(row, []);
        this._groups.get(row).push(item);
      }
      this._lanes = new Map();
      this._laneCount = new Map();
      for (const [row, items] of this._groups) this._placeInLanes(row, items);
    }
    return this._groups;
  }

  /** Overlapping segments of one row go one under the other (at most MAX_LANES deep). */
  _placeInLanes(row, items) {
    const ends = [];
    for (const item of items) {
      if (item.end_ms == null) continue;
      let lane = ends.findIndex((end) => end <= item.start_ms);
      if (lane < 0) {
        lane = Math.min(ends.length, MAX_LANES - 1);
        if (lane === ends.length) ends.push(0);
      }
      ends[lane] = Math.max(ends[lane], item.end_ms);
      this._lanes.set(item.key, lane);
    }
    this._laneCount.set(row, Math.max(1, ends.length));
  }

  laneOf(item) {
    this.groups();
    return this._lanes.get(item.key) || 0;
  }

  lanesOf(row) {
    this.groups();
    return this._laneCount.get(row) || 1;
  }

  layers() {
    const m = this.messages;
    const rows = [{ id: `prepared:${this.userId}`, label: m.myMarks, editable: true, layer: "prepared" }];
    for (const id of this.groups().keys()) {
      if (!id.startsWith("prepared:") || id === `prepared:${this.userId}`) continue;
      const author = id.slice("prepared:".length);
      rows.push({ id, label: fillMessage(m.marksOf, { name: this.authorName(author === "" ? null : author) }), editable: false, layer: "prepared" });
    }
    for (const layer of ["stops", "schemes", "consensus", "phases", "categories", "transcript"]) {
      if (!(layer in this.layerLabels)) continue;
      rows.push({ id: layer, label: this.layerLabels[layer], editable: this.writable.has(layer), layer });
    }
    return rows;
  }

  colorOf(item) {
    if (item.layer === "transcript") return this.speakerColor(item.speaker);
    const kind = { schemes: "schemes", consensus: "schemes", phases: "phases", categories: "categories", prepared: "principles" }[item.layer];
    let first = null;
    for (const id of item.code_ids) {
      const code = this.codes.get(id);
      if (!code) continue;
      if (code.kind === kind) return code.color;
      first = first || code.color;
    }
    return first || LAYER_COLORS[item.layer] || "#5b6475";
  }

  labelOf(item) {
    if (item.layer === "transcript") return `${item.speaker ? `${item.speaker} : ` : ""}${item.note}`;
    const labels = item.code_ids.map((id) => this.codes.get(id)).filter(Boolean).map((c) => c.label);
    return labels.length ? labels.join(" · ") : item.note;
  }

  speakerColor(speaker) {
    if (!speaker) return LAYER_COLORS.transcript;
    if (!this.speakerColors.has(speaker)) {
      this.speakerColors.set(speaker, SPEAKER_COLORS[this.speakerColors.size % SPEAKER_COLORS.length]);
    }
    return this.speakerColors.get(speaker);
  }

  now() {
    return Math.round(this.media.currentTime * 1000);
  }

  // ---- actions

  seek(ms) {
    this.media.currentTime = Math.max(0, ms) / 1000;
    this.timeline.render();
  }

  playFrom(ms) {
    this.seek(ms);
    this.media.play().catch(() => {});
  }

  select(key, { seek = false, focus = false } = {}) {
    if (this.justMarked && this.justMarked.key !== key) this.justMarked = null;
    this.selected = key;
    this.timeline.selected = key;
    const item = key ? this.store.get(key) : null;
    if (item && seek) {
      this.seek(item.start_ms);
      this.timeline.reveal(item.start_ms);
    }
    this.panel.show(key);
    this.list.highlight();
    this.timeline.render();
    if (focus) this.panel.focusNote();
  }

  setActiveLayer(rowId) {
    const layer = rowId.startsWith("prepared:") ? "schemes" : rowId;
    if (!this.writable.has(layer) || layer === "prepared") return;
    this.activeLayerId = layer;
    this.root.querySelector("[data-active-layer]").value = layer;
    this.timeline.render();
  }

  markMoment() {
    const start = Math.max(0, this.now() - this.offsetMs);
    const item = this.store.create({ start_ms: start, end_ms: null, origin: "prepared", layer: "prepared", shared: false });
    this.select(item.key);
    this.justMarked = { key: item.key, at: performance.now() };
    this.timeline.reveal(start);
    const message = this.hotkeys.size ? this.messages.markedCode : this.messages.marked;
    this.toast(fillMessage(message, { time: timecode(start / 1000) }));
    return item;
  }

  createSegment(start, end, extra = {}) {
    const layer = extra.layer || this.activeLayerId;
    const item = this.store.create({ start_ms: Math.round(start), end_ms: Math.round(end), origin: "coding", layer, ...extra });
    this.select(item.key);
    return item;
  }

  createOnRow(rowId, start, end) {
    if (rowId.startsWith("prepared:")) {
      const item = this.store.create({ start_ms: start, end_ms: end, origin: "prepared", layer: "prepared", shared: false });
      this.select(item.key);
      return;
    }
    this.createSegment(start, end, { layer: rowId, origin: rowId === "stops" ? "stop" : "coding" });
  }

  startSegment(codeIds = [], hotkey = null) {
    const kind = codeIds.length ? this.codes.get(codeIds[0]).kind : null;
    let layer = { schemes: "schemes", phases: "phases", categories: "categories" }[kind] || this.activeLayerId;
    if (!this.writable.has(layer)) layer = "prepared"; // a counsellor's segment is one of their marks
    const color = codeIds.length ? this.codes.get(codeIds[0]).color : LAYER_COLORS[layer];
    this.open = { start_ms: this.now(), layer, code_ids: codeIds, hotkey, color };
    this.timeline.open = this.open;
    this.select(null);
    this.toast(fillMessage(this.messages.segmentStarted, { time: timecode(this.open.start_ms / 1000) }));
  }

  endSegment(extraCodes = []) {
    const open = this.open;
    if (!open) return;
    this.open = null;
    this.timeline.open = null;
    const now = this.now();
    let start = Math.min(open.start_ms, now);
    let end = Math.max(open.start_ms, now);
    if (end - start < 500) end = start + 500;
    // Never past the end of the recording (the server would refuse it).
    const duration = this.timeline.duration;
    if (end > duration) {
      end = duration;
      start = Math.max(0, Math.min(start, end - 500));
    }
    const codes = [...new Set([...open.code_ids, ...extraCodes])];
    this.createSegment(start, end, { layer: open.layer, code_ids: codes });
    this.toast(fillMessage(this.messages.segmentEnded, { from: timecode(start / 1000), to: timecode(end / 1000) }));
  }

  hotkey(codeId, key) {
    const item = this.selected ? this.store.get(this.selected) : null;
    const t = this.now();
    // Paused, the selected annotation takes the code; while playing, the moment just marked
    // with M does, and the selected segment under the playhead (or just ended). Otherwise the
    // key starts (or ends) a coded segment, as BORIS's state events do.
    const justMarked =
      item && this.justMarked && this.justMarked.key === item.key && performance.now() - this.justMarked.at < JUST_MARKED_MS;
    const under =
      item &&
      this.canEdit(item) &&
      (this.media.paused || justMarked || (item.end_ms != null && t >= item.start_ms && t <= item.end_ms + 1000));
    if (under) {
      const ids = new Set(item.code_ids);
      if (ids.has(codeId)) ids.delete(codeId);
      else ids.add(codeId);
      this.store.update(item.key, { code_ids: [...ids].sort((a, b) => a - b) });
      return;
    }
    if (this.open) {
      if (this.open.hotkey === key || !this.open.code_ids.length) this.endSegment([codeId]);
      else {
        this.endSegment();
        this.startSegment([codeId], key);
      }
      return;
    }
    this.startSegment([codeId], key);
  }

  nudge(edge, delta) {
    const item = this.selected ? this.store.get(this.selected) : null;
    if (!item || !this.canEdit(item)) return;
    const duration = this.timeline.duration;
    if (item.end_ms == null) {
      this.store.update(item.key, { start_ms: Math.min(duration, Math.max(0, item.start_ms + delta)) });
    } else if (edge === "start") {
      this.store.update(item.key, { start_ms: Math.min(item.end_ms - NUDGE_MS, Math.max(0, item.start_ms + delta)) });
    } else {
      this.store.update(item.key, { end_ms: Math.max(item.start_ms + NUDGE_MS, Math.min(duration, item.end_ms + delta)) });
    }
  }

  jump(step) {
    const t = this.now();
    const items = this.store.all().filter((a) => a.layer !== "transcript");
    const target =
      step > 0 ? items.find((a) => a.start_ms > t + 50) : [...items].reverse().find((a) => a.start_ms < t - 250);
    if (target) {
      this.select(target.key, { seek: true });
    }
  }

  deleteSelected() {
    const key = this.selected;
    if (!key) return;
    const item = this.store.get(key);
    if (!item || !this.canEdit(item)) return;
    // Undo would give a colleague's annotation back as mine: ask instead.
    const mine = item.author_id === this.userId;
    if (!mine && !window.confirm(this.messages.deleteOthers)) return;
    this.select(null);
    this.store.remove(key, { undoable: mine });
    this.toast(mine ? this.messages.deleted : this.messages.deletedForGood);
  }

  /** Close the innermost thing open; false when nothing was (Escape then does nothing). */
  escape(target) {
    if (this.timeline.drag) {
      this.timeline.drag = null;
      this.timeline.canvas.style.cursor = "";
      this.timeline.render();
      return true;
    }
    if (typing(target)) {
      this.panel.flush();
      target.blur();
      return true;
    }
    const selection = window.getSelection();
    if (selection && !selection.isCollapsed && this.transcript.root.contains(selection.anchorNode)) {
      selection.removeAllRanges();
      return true;
    }
    if (this.open) {
      this.open = null;
      this.timeline.open = null;
      this.timeline.render();
      this.toast(this.messages.segmentAbandoned);
      return true;
    }
    if (this.selected) {
      this.select(null);
      return true;
    }
    return false;
  }

  undo() {
    const entry = this.store.undo();
    this.toast(entry ? this.messages.undone : this.messages.nothingToUndo);
    this._afterHistory(entry);
  }

  redo() {
    const entry = this.store.redo();
    this.toast(entry ? this.messages.redone : this.messages.nothingToRedo);
    this._afterHistory(entry);
  }

  _afterHistory(entry) {
    if (!entry) return;
    const exists = this.store.get(entry.key);
    this.select(exists ? entry.key : null);
  }

  toast(message) {
    const node = this.toastNode;
    if (!node) return;
    node.textContent = message;
    node.hidden = false;
    clearTimeout(this._toastTimer);
    this._toastTimer = setTimeout(() => {
      node.hidden = true;
    }, 2500);
  }

  // ---- wiring

  _bindStore() {
    const state = this.root.querySelector("[data-save-state]");
    const undo = this.root.querySelector("[data-undo]");
    const redo = this.root.querySelector("[data-redo]");
    const showHistory = () => {
      undo.disabled = !this.store.undoStack.length;
      redo.disabled = !this.store.redoStack.length;
    };
    this.store.addEventListener("change", (event) => {
      // The player's chapters (prepared moments) are read again once this is saved: an edit
      // may have moved an annotation onto or off that layer.
      this.chaptersStale = true;
      this._groups = null;
      this.timeline.render();
      this.list.update(event.detail.keys);
      if (event.detail.keys.some((key) => this.store.get(key)?.layer === "transcript" || !this.store.get(key))) {
        this.transcript.render();
      }
      if (this.selected && !this.store.get(this.selected)) this.select(null);
      else if (this.selected && event.detail.keys.includes(this.selected)) this.panel.render();
      showHistory();
    });
    this.store.addEventListener("status", (event) => {
      const { state: s, error, pending } = event.detail;
      const m = this.messages;
      state.dataset.state = s;
      const texts = {
        saved: m.saved,
        saving: m.saving,
        offline: fillMessage(m.offline, { count: pending }),
        signedOut: m.signedOut,
        conflict: m.conflictWaiting,
        error: fillMessage(m.error, { message: error }),
      };
      state.textContent = texts[s] || s;
      if (s === "saved") this.root.dataset.saved = "1";
      else delete this.root.dataset.saved;
      if (s === "saved" && this.chaptersStale) {
        this.chaptersStale = false;
        this.media.dispatchEvent(new Event("tracks-stale"));
      }
    });
    this.conflicts = [];
    this.store.addEventListener("conflict", (event) => {
      this.conflicts.push(event.detail);
      if (this.conflicts.length === 1) this._showConflict();
    });
    this._bindConflictDialog();
    showHistory();
    // The state as it is now (pending changes restored from this browser are being sent).
    if (this.store.pendingCount()) this.store._setState("saving");
    else this.root.dataset.saved = "1";
  }

  /** Conflicts are shown one at a time; each waits, stored, for the user's choice. */
  _showConflict() {
    const conflict = this.conflicts[0];
    if (!conflict) return;
    const { op, theirs, message } = conflict;
    const dialog = this.root.querySelector("[data-conflict]");
    const m = this.messages;
    const describe = (values, names) => {
      const lines = [];
      if (names.includes("start_ms") || names.includes("end_ms")) {
        lines.push(`${timecode((values.start_ms ?? 0) / 1000)}${values.end_ms != null ? ` – ${timecode(values.end_ms / 1000)}` : ""}`);
      }
      if (names.includes("code_ids")) lines.push((values.code_ids || []).map((id) => this.codes.get(id)?.label || `#${id}`).join(", ") || m.noCodes);
      if (names.includes("note")) lines.push(`« ${values.note || ""} »`);
      if (names.includes("fields")) for (const [name, value] of Object.entries(values.fields || {})) lines.push(`${name} : ${value}`);
      if (names.includes("verbatims")) for (const v of values.verbatims || []) lines.push(`« ${v.text} »`);
      if (names.includes("layer")) lines.push(this.layerLabels[values.layer] || values.layer);
      if (names.includes("shared")) lines.push(values.shared ? m.shared : m.private);
      return lines.join("\n");
    };
    const deleting = op.type === "delete";
    const names = deleting ? ["start_ms", "end_ms", "code_ids", "note"] : Object.keys(op.changes);
    dialog.querySelector("[data-conflict-message]").textContent = deleting ? m.conflictDelete : message;
    dialog.querySelector("[data-conflict-mine]").textContent = deleting ? m.conflictMineDelete : describe(op.changes, names);
    dialog.querySelector("[data-conflict-theirs]").textContent = describe(theirs, names);
    dialog.querySelector('[data-conflict-choose="mine"]').textContent = deleting ? m.deleteAnyway : m.keepMine;
    dialog.querySelector('[data-conflict-choose="theirs"]').textContent = deleting ? m.keepTheirs : m.takeTheirs;
    if (!dialog.open) dialog.showModal();
  }

  _bindConflictDialog() {
    const dialog = this.root.querySelector("[data-conflict]");
    // Escape must not close it: the change waits for a choice.
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.addEventListener("click", (event) => {
      const button = event.target.closest("[data-conflict-choose]");
      const conflict = this.conflicts[0];
      if (!button || !conflict) return;
      this.conflicts.shift();
      dialog.close();
      if (button.dataset.conflictChoose === "mine") {
        this.store.keepMine(conflict.op, conflict.theirs);
        this.toast(this.messages.conflictMine);
      } else {
        this.store.takeTheirs(conflict.op, conflict.theirs);
        this.toast(this.messages.conflictTheirs);
      }
      this._showConflict();
    });
  }

  _bindToolbar() {
    const root = this.root;
    root.querySelector("[data-undo]").addEventListener("click", () => this.undo());
    root.querySelector("[data-redo]").addEventListener("click", () => this.redo());
    const zoomLabel = root.querySelector("[data-zoom-label]");
    const showZoom = () => {
      const t = this.timeline;
      zoomLabel.textContent = t.viewSpan >= t.duration ? this.messages.zoomWhole : fillMessage(this.messages.zoomSpan, { span: timecode(t.viewSpan / 1000) });
    };
    const setView = this.timeline.setView.bind(this.timeline);
    this.timeline.setView = (start, span) => {
      setView(start, span);
      showZoom();
    };
    for (const button of root.querySelectorAll("[data-zoom]")) {
      button.addEventListener("click", () => {
        const how = button.dataset.zoom;
        if (how === "fit") this.timeline.fit();
        else this.timeline.zoomAt(how === "in" ? 0.5 : 2);
      });
    }
    showZoom();
    const active = root.querySelector("[data-active-layer]");
    active.value = this.activeLayerId;
    active.addEventListener("change", () => this.setActiveLayer(active.value));
    const offset = root.querySelector("[data-offset-input]");
    offset.addEventListener("change", async () => {
      const seconds = Math.min(10, Math.max(0, Number(offset.value.replace(",", ".")) || 0));
      offset.value = String(seconds);
      this.offsetMs = Math.round(seconds * 1000);
      try {
        const response = await fetch("/api/v1/me", {
          method: "PATCH",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", ...tokenHeaders() },
          body: JSON.stringify({ reaction_offset_ms: this.offsetMs }),
        });
        if (response.ok) this.toast(fillMessage(this.messages.offsetSaved, { seconds: String(seconds).replace(".", ",") }));
      } catch {
        // Kept for this page; saved next time.
      }
    });
    const importForm = root.querySelector("[data-transcript-import]");
    if (importForm) {
      importForm.addEventListener("submit", (event) => {
        if (this.transcript.cues.length && !window.confirm(importForm.dataset.confirmReplace)) event.preventDefault();
      });
    }
  }

  _bindTabs() {
    const tabs = [...this.root.querySelectorAll("[data-tab]")];
    const show = (name) => {
      for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
      for (const body of this.root.querySelectorAll("[data-tab-body]")) body.hidden = body.dataset.tabBody !== name;
      this.root.dataset.tab = name;
      if (name === "transcript") this.transcript.highlight();
    };
    for (const tab of tabs) tab.addEventListener("click", () => show(tab.dataset.tab));
    this.showTab = show;
    show(window.location.hash === "#transcription" ? "transcript" : "list");
  }

  _bindKeys() {
    window.addEventListener(
      "keydown",
      (event) => {
        if (event.defaultPrevented || event.isComposing) return;
        // A dialog (help, conflict) has the keyboard; Escape and ? stay with shortcuts.js.
        if (document.querySelector("dialog[open]")) return;
        // In the draft of a transcription, oTranscribe's keys (Escape plays or pauses).
        if (this.draft && this.draft.key(event)) {
          event.preventDefault();
          event.stopPropagation();
          return;
        }
        if (event.key === "Escape") {
          if (this.escape(event.target)) {
            event.preventDefault();
            event.stopPropagation();
          }
          return;
        }
        const inField = typing(event.target);
        const ctrl = event.ctrlKey || event.metaKey;
        const key = event.key;
        const lower = key.length === 1 ? key.toLowerCase() : key;
        let handled = true;
        if (ctrl && !event.altKey && lower === "m") this.markMoment();
        else if (inField) handled = false;
        else if (ctrl && !event.altKey && (lower === "z" || lower === "y")) {
          if (lower === "y" || event.shiftKey) this.redo();
          else this.undo();
        } else if (event.shiftKey && !ctrl && (key === "ArrowLeft" || key === "ArrowRight")) {
          this.nudge("start", key === "ArrowLeft" ? -NUDGE_MS : NUDGE_MS);
        } else if (ctrl && !event.shiftKey && (key === "ArrowLeft" || key === "ArrowRight")) {
          this.nudge("end", key === "ArrowLeft" ? -NUDGE_MS : NUDGE_MS);
        } else if (ctrl || event.altKey) handled = false;
        else if (lower === "m") this.markMoment();
        else if (lower === "i") this.startSegment();
        else if (lower === "o") this.endSegment();
        else if (lower === "n") this.jump(1);
        else if (lower === "p") this.jump(-1);
        else if (key === "Delete" || key === "Backspace") this.deleteSelected();
        else if (key === "Enter" && this.selected && this._onSurface(event.target)) this.panel.focusNote();
        else if (lower === "z") this.timeline.zoomAt(event.shiftKey ? 2 : 0.5);
        else {
          const code = this._hotkeyOf(event);
          if (code) this.hotkey(code.id, code.hotkey);
          else handled = false;
        }
        if (handled) {
          event.preventDefault();
          event.stopPropagation();
        }
      },
      true,
    );
  }

  /** The page itself, the timeline or the list: where Enter means "write the note" rather
   * than pressing the focused button or link. */
  _onSurface(target) {
    return target === document.body || target === document.documentElement || target.matches("canvas, li[data-key]");
  }

  /** The code whose hotkey was pressed; digits also by their key position, so that 1-9
   * work on an AZERTY keyboard without Shift. */
  _hotkeyOf(event) {
    const digit = /^(?:Digit|Numpad)(\d)$/.exec(event.code || "");
    if (digit && this.hotkeys.has(digit[1])) return this.codes.get(this.hotkeys.get(digit[1]));
    if (event.key.length === 1) {
      const id = this.hotkeys.get(event.key) ?? this.hotkeys.get(event.key.toLowerCase());
      if (id != null) return this.codes.get(id);
    }
    return null;
  }

  _bindCodebookUpdates() {
    const reload = async () => {
      try {
        const response = await fetch(`/api/v1/studies/${this.studyId}/codebooks`, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) return;
        this.setCodebooks(await response.json());
        this._groups = null;
        this.timeline.render();
        this.list.fillFilters();
        this.list.render();
        this.panel.render();
        this.toast(this.messages.codebooksUpdated);
      } catch {
        // Offline: the codes shown stay as they were.
      }
    };
    if ("BroadcastChannel" in window) {
      const channel = new BroadcastChannel("autoconf.codebooks");
      channel.addEventListener("message", (event) => {
        if (!event.data || Number(event.data.study_id) === this.studyId) reload();
      });
    }
    // Another person's edit shows when the researcher comes back to this tab.
    let hiddenAt = 0;
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) hiddenAt = Date.now();
      else if (hiddenAt && Date.now() - hiddenAt > 5000) reload();
    });
  }
}

for (const root of document.querySelectorAll("[data-annotator]")) {
  root.annotator = new Annotator(root);
  document.documentElement.dataset.annotatorReady = "1";
}
