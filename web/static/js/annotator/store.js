// The annotations of one recording as the annotator edits them: every change is applied
// here at once (the screen never waits for the network), queued, saved in order through the
// API, and kept in localStorage until the server has it, so a reload or a dropped
// connection loses nothing. Edits carry the version they were based on; a 409 becomes a
// "conflict" event with both versions, for the user to choose. Undo and redo replay the
// inverse of the user's last changes through the same queue.
//
// Items are keyed locally ("k…"): a new annotation has a key before the server gives it an
// id, so undo, redo and the queue can refer to it across a reload.

const EDITABLE = ["start_ms", "end_ms", "code_ids", "note", "speaker", "fields", "layer", "shared", "verbatims"];
const RETRY_MAX_MS = 10000;

let counter = 0;
function newKey() {
  counter += 1;
  return `k${Date.now().toString(36)}${counter}`;
}

function pick(item, names) {
  const out = {};
  for (const name of names) if (name in item) out[name] = structuredClone(item[name]);
  return out;
}

export class Store extends EventTarget {
  constructor({ recordingId, userId, annotations, storageKey }) {
    super();
    this.recordingId = recordingId;
    this.userId = userId;
    this.storageKey = storageKey;
    this.items = new Map();
    this.byId = new Map();
    this.queue = [];
    this.inFlight = null;
    this.undoStack = [];
    this.redoStack = [];
    this.state = "saved"; // saved | saving | offline | error
    this.lastError = "";
    this.retryDelay = 1000;
    this.retryTimer = null;
    this._sorted = null;
    for (const annotation of annotations) this._put({ ...annotation, key: `s${annotation.id}` });
    this._restorePending();
    window.addEventListener("online", () => this._kick(true));
    this._kick();
  }

  // ---- reading

  get(key) {
    return this.items.get(key);
  }

  /** Every annotation, in time order (cached until the next change). */
  all() {
    if (!this._sorted) {
      this._sorted = [...this.items.values()].sort(
        (a, b) => a.start_ms - b.start_ms || (a.id ?? Infinity) - (b.id ?? Infinity),
      );
    }
    return this._sorted;
  }

  pendingCount() {
    return this.queue.length + (this.inFlight ? 1 : 0);
  }

  // ---- user changes (each one undoable)

  create(data) {
    const item = { ...this._blank(), ...structuredClone(data), key: newKey(), id: null, version: 0 };
    this._put(item);
    this._enqueue({ type: "create", key: item.key, data: pick(item, [...EDITABLE, "origin"]) });
    this._record({ type: "create", key: item.key, data: pick(item, [...EDITABLE, "origin"]) });
    this._changed([item.key]);
    return item;
  }

  update(key, changes) {
    const item = this.items.get(key);
    if (!item) return;
    const before = pick(item, Object.keys(changes));
    const after = structuredClone(changes);
    if (JSON.stringify(before) === JSON.stringify(pick(after, Object.keys(changes)))) return;
    this._apply(key, after);
    this._record({ type: "update", key, before, after });
  }

  remove(key) {
    const item = this.items.get(key);
    if (!item) return;
    const data = pick(item, [...EDITABLE, "origin"]);
    this._delete(key);
    this._record({ type: "remove", key, data });
  }

  undo() {
    const entry = this.undoStack.pop();
    if (!entry) return null;
    this._replay(entry, true);
    this.redoStack.push(entry);
    return entry;
  }

  redo() {
    const entry = this.redoStack.pop();
    if (!entry) return null;
    this._replay(entry, false);
    this.undoStack.push(entry);
    return entry;
  }

  // ---- conflicts

  /** Keep my version: send my values again over the other version. */
  keepMine(key, mine, theirs) {
    const item = this.items.get(key);
    if (!item) return;
    item.version = theirs.version;
    this._enqueue({ type: "update", key, changes: structuredClone(mine) });
    this._changed([key]);
  }

  /** Take the other version: it replaces mine on screen. */
  takeTheirs(key, theirs) {
    const item = this.items.get(key);
    if (!item) return;
    Object.assign(item, pick(theirs, [...EDITABLE, "origin", "author_id", "version", "updated_at"]));
    this._changed([key]);
  }

  // ---- internals

  _blank() {
    return {
      start_ms: 0,
      end_ms: null,
      code_ids: [],
      note: "",
      speaker: null,
      fields: {},
      origin: "coding",
      layer: "schemes",
      shared: true,
      verbatims: [],
      author_id: this.userId,
    };
  }

  _put(item) {
    this.items.set(item.key, item);
    if (item.id != null) this.byId.set(item.id, item.key);
    this._sorted = null;
  }

  _apply(key, changes) {
    const item = this.items.get(key);
    if (!item) return;
    Object.assign(item, structuredClone(changes));
    this._sorted = null;
    this._enqueue({ type: "update", key, changes: structuredClone(changes) });
    this._changed([key]);
  }

  _delete(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    if (item.id != null) this.byId.delete(item.id);
    this._sorted = null;
    // Not yet created on the server: forget its queued create and edits instead.
    const waiting = this.queue.findIndex((op) => op.key === key && op.type === "create");
    if (waiting >= 0) {
      this.queue = this.queue.filter((op) => op.key !== key);
      this._persist();
    } else {
      this._enqueue({ type: "delete", key, id: item.id, version: item.version });
    }
    this._changed([key]);
  }

  _replay(entry, backwards) {
    if (entry.type === "update") {
      this._apply(entry.key, backwards ? entry.before : entry.after);
    } else if ((entry.type === "create") === backwards) {
      this._delete(entry.key);
    } else {
      const item = { ...this._blank(), ...structuredClone(entry.data), key: entry.key, id: null, version: 0 };
      this._put(item);
      this._enqueue({ type: "create", key: item.key, data: structuredClone(entry.data) });
      this._changed([item.key]);
    }
  }

  _record(entry) {
    this.undoStack.push(entry);
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack = [];
  }

  _enqueue(op) {
    const last = this.queue[this.queue.length - 1];
    // Typing in a note sends one request per pause, not one per key.
    if (op.type === "update" && last && last.key === op.key && last.type === "update") {
      Object.assign(last.changes, op.changes);
    } else if (op.type === "update" && last && last.key === op.key && last.type === "create") {
      Object.assign(last.data, op.changes);
    } else {
      this.queue.push(op);
    }
    this._persist();
    this._kick();
  }

  _persist() {
    try {
      if (this.queue.length || this.inFlight) {
        const ops = this.inFlight ? [this.inFlight, ...this.queue] : this.queue;
        window.localStorage.setItem(this.storageKey, JSON.stringify(ops));
      } else {
        window.localStorage.removeItem(this.storageKey);
      }
    } catch {
      // Storage full or disabled: changes still go to the server, only a reload would lose them.
    }
  }

  _restorePending() {
    let ops = [];
    try {
      ops = JSON.parse(window.localStorage.getItem(this.storageKey) || "[]");
    } catch {
      ops = [];
    }
    for (const op of ops) {
      if (op.type === "create") {
        if (op.id != null && this.byId.has(op.id)) continue; // it reached the server after all
        this._put({ ...this._blank(), ...op.data, key: op.key, id: null, version: 0 });
      } else {
        const key = op.id != null ? this.byId.get(op.id) : op.key;
        const item = key && this.items.get(key);
        if (op.type === "update" && item) {
          op.key = key;
          Object.assign(item, op.changes);
          if (op.version != null) item.version = op.version;
        } else if (op.type === "delete" && item) {
          op.key = key;
          this.items.delete(key);
          this.byId.delete(item.id);
        } else if (!item && op.type === "update" && !this.items.has(op.key)) {
          continue; // deleted on the server meanwhile
        }
      }
      this.queue.push(op);
    }
    this._sorted = null;
  }

  _setState(state, error = "") {
    this.state = state;
    this.lastError = error;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, error, pending: this.pendingCount() } }));
  }

  _changed(keys) {
    this.dispatchEvent(new CustomEvent("change", { detail: { keys } }));
  }

  _kick(now = false) {
    if (now && this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.inFlight || this.retryTimer || !this.queue.length) {
      if (!this.inFlight && !this.queue.length && this.state !== "saved") this._setState("saved");
      return;
    }
    this.inFlight = this.queue.shift();
    this._setState("saving");
    this._send(this.inFlight).then(
      () => {
        this.inFlight = null;
        this.retryDelay = 1000;
        this._persist();
        this._kick();
      },
      (failure) => {
        if (failure && failure.retry) {
          // Offline or the server restarting: keep the change first in line and try again.
          this.queue.unshift(this.inFlight);
          this.inFlight = null;
          this._setState("offline");
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this._kick();
          }, this.retryDelay);
          this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
        } else {
          this.inFlight = null;
          this._persist();
          this._setState("error", failure ? failure.message : "");
          this._kick();
        }
      },
    );
  }

  async _request(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw { retry: true };
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw { retry: true };
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, ok: response.ok, json };
  }

  async _send(op) {
    if (op.type === "create") {
      const answer = await this._request("POST", `/api/v1/recordings/${this.recordingId}/annotations`, op.data);
      if (!answer.ok) return this._refused(op, answer);
      op.id = answer.json.id;
      const item = this.items.get(op.key);
      if (item) {
        item.id = answer.json.id;
        item.version = answer.json.version;
        item.author_id = answer.json.author_id;
        this.byId.set(item.id, item.key);
        this._changed([item.key]);
      } else {
        // Deleted while its creation was on the way.
        this.queue.unshift({ type: "delete", key: op.key, id: answer.json.id, version: answer.json.version });
      }
      return;
    }
    const item = this.items.get(op.key);
    const id = op.id ?? (item ? item.id : null);
    if (id == null) return; // its creation was refused
    if (op.type === "update") {
      if (!item) return;
      op.id = id;
      op.version = item.version;
      const answer = await this._request("PATCH", `/api/v1/annotations/${id}`, { ...op.changes, version: item.version });
      if (answer.ok) {
        item.version = answer.json.version;
        return;
      }
      return this._refused(op, answer);
    }
    const version = item ? item.version : op.version;
    const answer = await this._request("DELETE", `/api/v1/annotations/${id}?version=${version}`);
    if (answer.ok || answer.status === 404) return;
    return this._refused(op, answer);
  }

  _refused(op, answer) {
    const detail = answer.json && typeof answer.json.detail === "string" ? answer.json.detail : "";
    if (answer.status === 409 && answer.json && answer.json.current) {
      this.dispatchEvent(
        new CustomEvent("conflict", {
          detail: { key: op.key, op, mine: op.changes || {}, theirs: answer.json.current, message: detail },
        }),
      );
      throw { retry: false, message: detail };
    }
    if (answer.status === 404 && op.type === "update") {
      // Deleted by someone else: it goes from this screen too.
      const item = this.items.get(op.key);
      if (item) {
        this.items.delete(op.key);
        this.byId.delete(item.id);
        this._sorted = null;
        this._changed([op.key]);
      }
    }
    if (answer.status === 401) {
      // Signed out (session expired): keep the change for after the next login.
      throw { retry: true };
    }
    if (op.type === "create" && this.items.has(op.key)) {
      this.items.delete(op.key);
      this._sorted = null;
      this._changed([op.key]);
    }
    throw { retry: false, message: detail || `HTTP ${answer.status}` };
  }
}
