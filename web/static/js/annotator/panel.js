// The tagging panel of the selected annotation: times, layer, sharing (prepared marks),
// note, codes of every codebook, structured fields and verbatims. Every change goes to the
// store at once (text after a short pause), which saves it.

import { timecode } from "../format.js";
import { formatMs, parseTime } from "./time.js";

const TYPING_PAUSE_MS = 400;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

export class Panel {
  constructor(root, app) {
    this.app = app;
    this.root = root;
    this.form = root.querySelector("[data-panel-form]");
    this.empty = root.querySelector("[data-panel-empty]");
    this.title = root.querySelector("[data-panel-title]");
    this.meta = root.querySelector("[data-panel-meta]");
    this.note = root.querySelector("[data-panel-note]");
    this.layer = root.querySelector("[data-panel-layer]");
    this.shared = root.querySelector("[data-panel-shared]");
    this.sharedRow = root.querySelector("[data-panel-shared-row]");
    // Researchers only: show a prepared moment (or, with co-validation, a coded segment) to
    // the recording's counsellor.
    this.shown = root.querySelector("[data-panel-shown]");
    this.shownRow = root.querySelector("[data-panel-shown-row]");
    this.codesBox = root.querySelector("[data-panel-codes]");
    this.fieldInputs = [...root.querySelectorAll("[data-field]")];
    this.fieldsCount = root.querySelector("[data-fields-count]");
    this.timeInputs = [...root.querySelectorAll("[data-time-input]")];
    this.verbatimList = root.querySelector("[data-verbatim-list]");
    this.verbatimsCount = root.querySelector("[data-verbatims-count]");
    this.key = null;
    this.timers = new Map();
    this.categoryFilter = "";
    this._bind();
  }

  get item() {
    return this.key ? this.app.store.get(this.key) : null;
  }

  show(key) {
    this.flush();
    this.key = key;
    this.render(true);
  }

  /** Send what is still waiting for the typing pause (before the selection changes). */
  flush() {
    for (const [name, timer] of this.timers) {
      clearTimeout(timer);
      this.timers.delete(name);
      this._commitText(name);
    }
  }

  focusNote() {
    if (this.item) this.note.focus();
  }

  render(full = false) {
    const item = this.item;
    this.form.hidden = !item;
    this.empty.hidden = Boolean(item);
    if (!item) return;
    const m = this.app.messages;
    const editable = this.app.canEdit(item);
    const isMoment = item.end_ms == null;
    this.form.dataset.layer = item.layer; // a coding layer puts its codes before the note
    this.title.textContent = isMoment
      ? `${m.moment} ${timecode(item.start_ms / 1000)}`
      : `${m.segment} ${timecode(item.start_ms / 1000)} – ${timecode(item.end_ms / 1000)}`;
    const author = this.app.authorName(item.author_id);
    const parts = [this.app.messages[`origin_${item.origin}`] || item.origin, this.app.fill(m.by, { name: author })];
    if (item.layer === "prepared") parts.push(item.shared ? m.shared : m.private);
    if (item.id == null) parts.push(m.unsaved);
    this.meta.textContent = parts.join(" · ");
    const active = document.activeElement;
    for (const input of this.timeInputs) {
      if (input !== active || full) {
        const value = item[input.dataset.timeInput];
        input.value = value == null ? "" : formatMs(value);
        input.setCustomValidity("");
      }
      input.disabled = !editable;
    }
    if (this.layer.value !== item.layer) this.layer.value = item.layer;
    this.layer.disabled = !editable || item.layer === "transcript";
    this.sharedRow.hidden = item.layer !== "prepared";
    this.shared.checked = item.shared;
    this.shared.disabled = item.author_id !== this.app.userId;
    if (this.shown) {
      const coding = ["schemes", "consensus", "phases", "categories"].includes(item.layer);
      this.shownRow.hidden = !(item.layer === "prepared" || (coding && this.app.coValidation));
      this.shown.checked = Boolean(item.shown_to_counsellor);
    }
    if (this.note !== active || full) this.note.value = item.note || "";
    this.note.readOnly = !editable;
    let filled = 0;
    for (const input of this.fieldInputs) {
      const value = (item.fields || {})[input.dataset.field] || "";
      if (value) filled += 1;
      if (input !== active || full) input.value = value;
      input.readOnly = !editable;
    }
    this.fieldsCount.textContent = filled ? `(${filled})` : "";
    const clipRow = this.form.querySelector("[data-panel-clip-row]");
    if (clipRow) {
      // A clip is a segment's, once stored.
      clipRow.hidden = isMoment || item.id == null || item.layer === "transcript";
      const clip = clipRow.querySelector("[data-panel-clip]");
      if (clip && item.id != null) clip.href = `/api/v1/annotations/${item.id}/clip`;
    }
    const stopRow = this.form.querySelector("[data-panel-stop-row]");
    if (stopRow) {
      // A stop of a live session: what was said there is in the interview's report.
      stopRow.hidden = item.layer !== "stops" || item.id == null;
      if (item.id != null) stopRow.querySelector("[data-panel-stop]").href = `/stops/${item.id}`;
    }
    this._renderCodes(item, editable);
    this._renderVerbatims(item, editable);
    for (const button of this.form.querySelectorAll("[data-panel-delete], [data-verbatim-add]")) {
      button.disabled = !editable;
    }
  }

  _renderCodes(item, editable) {
    const box = this.codesBox;
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.book));
    const filterFocused = document.activeElement && document.activeElement.matches("[data-category-filter]");
    if (filterFocused) {
      // Rebuilding would take the focus away from the filter being typed in.
      for (const input of box.querySelectorAll("input[type=checkbox][data-code]")) {
        input.checked = item.code_ids.includes(Number(input.dataset.code));
        input.disabled = !editable;
      }
      return;
    }
    box.replaceChildren();
    const applied = new Set(item.code_ids);
    for (const book of this.app.codebooks) {
      const codes = book.codes.filter((c) => !c.archived || applied.has(c.id));
      if (!codes.length) continue;
      const details = el("details", { "data-book": String(book.id) });
      const count = codes.filter((c) => applied.has(c.id)).length;
      const preferred =
        (book.kind === "schemes" && item.layer !== "prepared") ||
        (book.kind === "principles" && item.layer === "prepared") ||
        (book.kind === "phases" && item.layer === "phases") ||
        (book.kind === "categories" && item.layer === "categories");
      if (open.has(String(book.id)) || preferred || count) details.open = true;
      const summary = el("summary", {}, this.app.messages[`codebook_${book.kind}`] || book.name);
      if (count) summary.append(" ", el("small", { class: "muted" }, `(${count})`));
      details.append(summary);
      if (book.kind === "categories") {
        const filter = el("input", {
          type: "search",
          "data-category-filter": "",
          placeholder: this.app.messages.filterCodes,
          "aria-label": this.app.messages.filterCodes,
        });
        filter.value = this.categoryFilter;
        details.append(filter);
      }
      const list = el("ul", { class: `code-choices kind-${book.kind}` });
      const needle = this.categoryFilter.trim().toLowerCase();
      for (const code of codes) {
        if (book.kind === "categories" && needle && !code.path.toLowerCase().includes(needle)) continue;
        const li = el("li", { style: `--depth: ${code.depth}` });
        const label = el("label", { class: "code-choice", title: code.description || code.path });
        const box2 = el("input", { type: "checkbox", "data-code": String(code.id) });
        box2.checked = applied.has(code.id);
        box2.disabled = !editable || (code.archived && !box2.checked);
        const swatch = el("span", { class: "swatch", style: `background: ${code.color}` });
        label.append(box2, swatch, el("span", { class: "code-label" }, code.label));
        if (code.hotkey) label.append(el("kbd", {}, code.hotkey));
        li.append(label);
        list.append(li);
      }
      details.append(list);
      box.append(details);
    }
  }

  _renderVerbatims(item, editable) {
    const list = this.verbatimList;
    list.replaceChildren();
    (item.verbatims || []).forEach((verbatim, index) => {
      const li = el("li");
      const quote = el("blockquote", {}, `« ${verbatim.text} »`);
      const who = el("span", { class: "muted" }, [verbatim.speaker || this.app.messages.speakerUnknown, verbatim.ms != null ? timecode(verbatim.ms / 1000) : ""].filter(Boolean).join(", "));
      li.append(quote, who);
      if (verbatim.ms != null) {
        const play = el("button", { type: "button", class: "link-button", "data-verbatim-seek": String(verbatim.ms) }, "▶");
        li.append(play);
      }
      if (editable) {
        const remove = el("button", { type: "button", class: "link-button", "data-verbatim-remove": String(index) }, this.app.messages.remove);
        li.append(remove);
      }
      list.append(li);
    });
    this.verbatimsCount.textContent = item.verbatims && item.verbatims.length ? `(${item.verbatims.length})` : "";
  }

  _update(changes) {
    if (this.key) this.app.store.update(this.key, changes);
  }

  _commitText(name) {
    const item = this.item;
    if (!item) return;
    if (name === "note") this._update({ note: this.note.value });
    else {
      const fields = {};
      for (const input of this.fieldInputs) if (input.value.trim()) fields[input.dataset.field] = input.value;
      this._update({ fields });
    }
  }

  _typed(name) {
    clearTimeout(this.timers.get(name));
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        this._commitText(name);
      }, TYPING_PAUSE_MS),
    );
  }

  _bind() {
    this.form.addEventListener("submit", (event) => event.preventDefault());
    this.note.addEventListener("input", () => this._typed("note"));
    this.note.addEventListener("blur", () => this.flush());
    for (const input of this.fieldInputs) {
      input.addEventListener("input", () => this._typed("fields"));
      input.addEventListener("blur", () => this.flush());
    }
    for (const input of this.timeInputs) {
      input.addEventListener("change", () => {
        const item = this.item;
        if (!item) return;
        const name = input.dataset.timeInput;
        const text = input.value.trim();
        const value = text === "" && name === "end_ms" ? null : parseTime(text);
        if (value === undefined) {
          input.setCustomValidity(this.app.messages.badTime);
          input.reportValidity();
          return;
        }
        const start = name === "start_ms" ? value : item.start_ms;
        const end = name === "end_ms" ? value : item.end_ms;
        if (end != null && end < start) {
          input.setCustomValidity(this.app.messages.endBeforeStart);
          input.reportValidity();
          return;
        }
        input.setCustomValidity("");
        this._update({ start_ms: start, end_ms: end === start ? null : end });
      });
    }
    this.layer.addEventListener("change", () => {
      // Only a prepared moment stays private: on another layer it is the team's.
      const layer = this.layer.value;
      this._update(layer === "prepared" ? { layer } : { layer, shared: true });
    });
    this.shared.addEventListener("change", () => this._update({ shared: this.shared.checked }));
    if (this.shown) this.shown.addEventListener("change", () => this._update({ shown_to_counsellor: this.shown.checked }));
    this.codesBox.addEventListener("change", (event) => {
      const box = event.target.closest("input[data-code]");
      if (!box || !this.item) return;
      const id = Number(box.dataset.code);
      const ids = new Set(this.item.code_ids);
      if (box.checked) ids.add(id);
      else ids.delete(id);
      this._update({ code_ids: [...ids].sort((a, b) => a - b) });
    });
    this.codesBox.addEventListener("input", (event) => {
      if (!event.target.matches("[data-category-filter]")) return;
      this.categoryFilter = event.target.value;
      const needle = this.categoryFilter.trim().toLowerCase();
      for (const input of event.target.parentElement.querySelectorAll("input[data-code]")) {
        const code = this.app.codes.get(Number(input.dataset.code));
        input.closest("li").hidden = Boolean(needle) && !code.path.toLowerCase().includes(needle);
      }
    });
    this.form.querySelector("[data-panel-delete]").addEventListener("click", () => this.app.deleteSelected());
    this.form.querySelector("[data-panel-seek]").addEventListener("click", () => {
      if (this.item) this.app.playFrom(this.item.start_ms);
    });
    const text = this.form.querySelector("[data-verbatim-text]");
    const speaker = this.form.querySelector("[data-verbatim-speaker]");
    const time = this.form.querySelector("[data-verbatim-time]");
    this.form.querySelector("[data-verbatim-add]").addEventListener("click", () => {
      const item = this.item;
      if (!item || !text.value.trim()) {
        text.focus();
        return;
      }
      const ms = time.value.trim() ? parseTime(time.value) : item.start_ms;
      if (ms === undefined) {
        time.setCustomValidity(this.app.messages.badTime);
        time.reportValidity();
        return;
      }
      time.setCustomValidity("");
      this._update({ verbatims: [...(item.verbatims || []), { text: text.value.trim(), speaker: speaker.value.trim(), ms }] });
      text.value = "";
      time.value = "";
    });
    this.verbatimList.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-verbatim-remove]");
      const seek = event.target.closest("[data-verbatim-seek]");
      if (remove && this.item) {
        const verbatims = [...this.item.verbatims];
        verbatims.splice(Number(remove.dataset.verbatimRemove), 1);
        this._update({ verbatims });
      } else if (seek) {
        this.app.playFrom(Number(seek.dataset.verbatimSeek));
      }
    });
  }
}
