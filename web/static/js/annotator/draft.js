// The draft of an automatic transcription, corrected beside the player (the Transcription
// tab, while a draft waits to be validated). Each cue is a text field, saved as one types
// (PATCH …/draft, with the version read: a clash with another window keeps both texts in
// view). oTranscribe's keys work while typing: Escape play/pause, F1 slower, F2 faster,
// F3 back 2 s, F4 forward 2 s; Ctrl+Enter cuts the cue at the cursor. Cues are joined with
// the next, speakers renamed or swapped at once, and the draft validated once flushed.

import { sendJSON } from "../api.js";
import { timecode } from "../format.js";
import { changeRate, seekBy, toggle } from "../shortcuts.js";

const SAVE_AFTER_MS = 700;
const STEP_S = 2;

export class DraftEditor {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.url = root.dataset.apiUrl;
    this.m = app.messages;
    this.list = root.querySelector("[data-draft-cues]");
    this.status = root.querySelector("[data-draft-status]");
    this.speakerForm = root.querySelector("[data-draft-speakers]");
    this.speakerFields = root.querySelector("[data-speaker-fields]");
    this.swapButton = root.querySelector("[data-swap]");
    this.names = root.querySelector("datalist");
    this.count = document.querySelector("[data-draft-count]");
    this.cues = [];
    this.speakers = [];
    this.timers = new Map(); // cue id -> pending save
    this.saving = new Map(); // cue id -> the save under way
    this.current = null;
    this.drawing = false;

    this.list.addEventListener("input", (event) => {
      const li = event.target.closest("li[data-cue]");
      if (!li || !event.target.matches("[data-text]")) return;
      autosize(event.target);
      this._error(Number(li.dataset.cue), ""); // typing again answers an earlier refusal
      this._later(Number(li.dataset.cue));
    });
    this.list.addEventListener("focusout", (event) => {
      // Not the field of a cue being drawn again (Chromium blurs a focused field it removes).
      if (this.drawing || !event.target.isConnected) return;
      const li = event.target.closest("li[data-cue]");
      if (li && event.target.matches("[data-text]")) this.save(Number(li.dataset.cue));
    });
    this.list.addEventListener("change", (event) => {
      const li = event.target.closest("li[data-cue]");
      if (li && event.target.matches("[data-speaker]")) this.setSpeaker(Number(li.dataset.cue), event.target);
    });
    this.list.addEventListener("click", (event) => {
      const li = event.target.closest("li[data-cue]");
      if (!li) return;
      const id = Number(li.dataset.cue);
      if (event.target.closest("[data-seek]")) this.play(id);
      else if (event.target.closest("[data-split]")) this.split(id);
      else if (event.target.closest("[data-merge]")) this.merge(id);
    });
    this.speakerForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.rename(this._renames());
    });
    this.swapButton.addEventListener("click", () => {
      const [a, b] = this.speakers;
      this.rename({ [a]: b, [b]: a });
    });
    const validate = document.querySelector("form[data-draft-validate]");
    if (validate) validate.addEventListener("submit", (event) => this.validate(event, validate));
    app.media.addEventListener("timeupdate", () => this.highlight());
    app.media.addEventListener("seeked", () => this.highlight());
    // Leaving within a moment of typing: the text is sent, and the browser asks to wait.
    window.addEventListener("beforeunload", (event) => {
      if (!this.timers.size && !this.saving.size) return;
      this.flush();
      event.preventDefault();
    });
    this.load();
  }

  async load() {
    const answer = await this._send("GET", "");
    if (answer) this.show(answer);
  }

  /** Draw the draft (`{cues, speakers}` as the API gives it); callers send what is typed
   * first (`flush`), since the fields are drawn again. */
  show(draft, focus = null) {
    this.cues = draft.cues;
    this.speakers = draft.speakers;
    this._names();
    this.drawing = true;
    try {
      this.list.replaceChildren(...this.cues.map((cue) => this._row(cue)));
    } finally {
      this.drawing = false;
    }
    for (const area of this.list.querySelectorAll("[data-text]")) autosize(area);
    this._speakerBar();
    if (this.count) this.count.textContent = this.app.fill(this.m.draftCount, { count: this.cues.length });
    this.current = null;
    this.highlight();
    if (focus) {
      const area = this._area(focus.id);
      if (area) {
        area.focus();
        area.setSelectionRange(focus.at, focus.at);
      }
    }
  }

  _row(cue) {
    const li = document.createElement("li");
    li.dataset.cue = String(cue.id);
    li.dataset.start = String(cue.start_ms);
    const head = document.createElement("div");
    head.className = "draft-cue-head";
    const time = document.createElement("button");
    time.type = "button";
    time.className = "time";
    time.dataset.seek = "";
    time.textContent = `${timecode(cue.start_ms / 1000)} – ${timecode(cue.end_ms / 1000)}`;
    time.title = this.m.draftPlay;
    const who = document.createElement("input");
    who.dataset.speaker = "";
    who.value = cue.speaker;
    who.maxLength = 100;
    who.setAttribute("list", this.names.id);
    who.setAttribute("aria-label", this.m.draftSpeaker);
    who.style.setProperty("--speaker", this.app.speakerColor(cue.speaker));
    const split = button(this.m.draftSplit, this.m.draftSplitHint, "split");
    const merge = button(this.m.draftMerge, this.m.draftMergeHint, "merge");
    merge.hidden = cue === this.cues[this.cues.length - 1];
    head.append(time, who);
    const foot = document.createElement("div");
    foot.className = "draft-cue-foot";
    foot.append(split, merge);
    const text = document.createElement("textarea");
    text.dataset.text = "";
    text.rows = 1;
    text.value = cue.text;
    text.setAttribute("aria-label", this.app.fill(this.m.draftCueLabel, { time: timecode(cue.start_ms / 1000) }));
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    li.append(head, text, error, foot);
    return li;
  }

  _names() {
    this.names.replaceChildren(...this.speakers.map((name) => Object.assign(document.createElement("option"), { value: name })));
  }

  _speakerBar() {
    const fields = this.speakers.map((name) => {
      const input = document.createElement("input");
      input.value = name;
      input.dataset.was = name;
      input.required = true;
      input.maxLength = 100;
      input.setAttribute("aria-label", this.app.fill(this.m.draftRenameLabel, { name }));
      return input;
    });
    this.speakerFields.replaceChildren(...fields);
    const summary = document.querySelector("[data-draft-speaker-list]");
    if (summary) summary.textContent = this.speakers.join(", ");
    this.speakerForm.hidden = !fields.length;
    this.swapButton.hidden = this.speakers.length !== 2;
  }

  _renames() {
    const names = {};
    for (const input of this.speakerFields.querySelectorAll("input")) {
      if (input.value.trim() && input.value.trim() !== input.dataset.was) names[input.dataset.was] = input.value.trim();
    }
    return names;
  }

  _cue(id) {
    return this.cues.find((cue) => cue.id === id);
  }

  _li(id) {
    return this.list.querySelector(`li[data-cue="${id}"]`);
  }

  _area(id) {
    const li = this._li(id);
    return li && li.querySelector("[data-text]");
  }

  _later(id) {
    clearTimeout(this.timers.get(id));
    this.timers.set(id, setTimeout(() => this.save(id), SAVE_AFTER_MS));
    this._say(this.m.draftUnsaved);
  }

  /** Send the cue's text if it changed; resolves once the server has it (or refused it). */
  save(id) {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const under = this.saving.get(id);
    if (under) return under.then(() => this.save(id));
    const cue = this._cue(id);
    const area = this._area(id);
    if (!cue || !area || tidy(area.value) === cue.text) return Promise.resolve();
    const text = area.value;
    const done = this._patch(cue, { text }).finally(() => this.saving.delete(id));
    this.saving.set(id, done);
    return done;
  }

  async setSpeaker(id, input) {
    const cue = this._cue(id);
    const name = input.value.trim();
    if (!cue || !name || name === cue.speaker) {
      if (cue) input.value = cue.speaker;
      return;
    }
    await this.save(id);
    const ok = await this._patch(cue, { speaker: name });
    if (ok) {
      input.style.setProperty("--speaker", this.app.speakerColor(name));
      this.speakers = [...new Set(this.cues.map((c) => c.speaker))];
      this._names();
      this._speakerBar();
    }
  }

  /** PATCH one cue; true once stored. A clash (409) shows the stored text and keeps the
   * one typed here in the message, so that nothing typed is lost. */
  async _patch(cue, changes) {
    this._say(this.m.draftSaving);
    const answer = await this._send("PATCH", "", { cue_id: cue.id, version: cue.version, ...changes }, cue.id, true);
    if (!answer) return false;
    if (answer.status === 409 && answer.data && answer.data.current) {
      const typed = this._area(cue.id)?.value ?? "";
      Object.assign(cue, answer.data.current);
      const li = this._li(cue.id);
      if (li) {
        this.drawing = true;
        try {
          li.replaceWith(this._row(cue));
        } finally {
          this.drawing = false;
        }
        autosize(this._area(cue.id));
      }
      this._error(cue.id, `${answer.detail} ${this.app.fill(this.m.draftYours, { text: typed })}`);
      this._say("");
      return false;
    }
    if (!answer.ok) {
      this._error(cue.id, answer.detail);
      this._say("");
      return false;
    }
    Object.assign(cue, answer.data);
    this._error(cue.id, "");
    this._say(this.timers.size ? this.m.draftUnsaved : this.m.draftSaved);
    return true;
  }

  /** Everything typed, sent. */
  async flush() {
    await Promise.all([...new Set([...this.timers.keys(), ...this.saving.keys()])].map((id) => this.save(id)));
    await Promise.all([...this.saving.values()]);
  }

  async split(id, at = null) {
    await this.flush(); // the cues are drawn again: nothing typed may wait
    const cue = this._cue(id);
    const area = this._area(id);
    if (!cue || !area) return;
    const cut = at ?? area.selectionStart;
    const answer = await this._send("POST", "/split", { cue_id: id, version: cue.version, at: cut }, id);
    if (!answer) return;
    const second = answer.cues.find((c) => c.start_ms >= cue.start_ms && c.id !== id && !this._cue(c.id));
    this.show(answer, second ? { id: second.id, at: 0 } : null);
    this._say(this.m.draftSplitDone);
  }

  async merge(id) {
    const index = this.cues.findIndex((cue) => cue.id === id);
    if (index < 0 || index === this.cues.length - 1) return;
    await this.flush();
    const cue = this._cue(id);
    const answer = await this._send("POST", "/merge", { cue_id: id, version: cue.version }, id);
    if (!answer) return;
    this.show(answer, { id, at: cue.text.length });
    this._say(this.m.draftMergeDone);
  }

  async rename(names) {
    if (!Object.keys(names).length) return;
    await this.flush();
    const answer = await this._send("POST", "/speakers", { names });
    if (!answer) return;
    this.show(answer);
    this._say(this.m.draftRenamed);
  }

  async validate(event, form) {
    event.preventDefault();
    if (!window.confirm(form.dataset.draftValidate)) return;
    await this.flush();
    if (this.cues.some((cue) => tidy(this._area(cue.id)?.value ?? "") !== cue.text)) {
      this._say(this.m.draftFixFirst);
      return;
    }
    const answer = await this._send("POST", "/validate", {});
    if (answer) window.location.reload();
  }

  /** oTranscribe's keys, which also work while typing in a cue; the annotator asks first
   * (its own Escape would leave the field). True when the key was taken. */
  key(event) {
    if (event.isComposing || event.altKey || event.metaKey || !this.root.contains(event.target)) return false;
    const media = this.app.media;
    const li = event.target.closest && event.target.closest("li[data-cue]");
    let act = null;
    if (event.key === "Escape" && !event.ctrlKey) act = () => toggle(media);
    else if (event.key === "F1" && !event.ctrlKey) act = () => this.rate(-1);
    else if (event.key === "F2" && !event.ctrlKey) act = () => this.rate(1);
    else if (event.key === "F3" && !event.ctrlKey) act = () => seekBy(media, -STEP_S);
    else if (event.key === "F4" && !event.ctrlKey) act = () => seekBy(media, STEP_S);
    else if (event.key === "Enter" && event.ctrlKey && li && event.target.matches("[data-text]")) {
      act = () => this.split(Number(li.dataset.cue), event.target.selectionStart);
    }
    if (!act) return false;
    act();
    return true;
  }

  rate(step) {
    const next = changeRate(this.app.root, this.app.media, step);
    this._say(this.app.fill(this.m.draftRate, { rate: String(next).replace(".", ",") }));
  }

  play(id) {
    const cue = this._cue(id);
    if (!cue) return;
    this.app.seek(cue.start_ms);
    this.app.media.play().catch(() => {});
    const area = this._area(id);
    if (area) area.focus();
  }

  /** The cue at the playhead, marked and kept in view unless the researcher is typing. */
  highlight() {
    const ms = this.app.media.currentTime * 1000;
    const cue = this.cues.findLast((c) => c.start_ms <= ms && ms <= c.end_ms + 300) || null;
    const id = cue ? cue.id : null;
    if (id === this.current) return;
    if (this.current != null) this._li(this.current)?.classList.remove("current");
    this.current = id;
    const li = id != null && this._li(id);
    if (!li) return;
    li.classList.add("current");
    if (!this.root.closest("[hidden]") && !this.list.contains(document.activeElement)) li.scrollIntoView({ block: "nearest" });
  }

  _error(id, message) {
    const node = this._li(id)?.querySelector(".error");
    if (!node) return;
    node.textContent = message;
    node.hidden = !message;
  }

  _say(message) {
    this.status.textContent = message;
  }

  /** One call to the draft's API: its JSON, or null after showing why (beside the cue,
   * or in the editor's status line). With `raw`, the answer itself. */
  async _send(method, path, body, id = null, raw = false) {
    let answer;
    try {
      answer = await sendJSON(method, this.url + path, body, this.m.draftUnreachable);
    } catch (error) {
      if (id != null) this._error(id, error.message);
      else this._say(error.message);
      return null;
    }
    if (raw) return answer;
    if (!answer.ok) {
      if (id != null) this._error(id, answer.detail);
      else this._say(answer.detail);
      return null;
    }
    return answer.data;
  }
}

function button(label, title, action) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "link-button";
  node.dataset[action] = "";
  node.textContent = label;
  node.title = title;
  return node;
}

/** The text as the server keeps it (spaces and line breaks as single spaces). */
function tidy(text) {
  return text.split(/\s+/).filter(Boolean).join(" ");
}

/** A cue's field as tall as its text. */
function autosize(area) {
  if (!area) return;
  area.style.height = "auto";
  area.style.height = `${area.scrollHeight + 2}px`;
}
