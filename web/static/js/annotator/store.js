// The annotations of one recording as the annotator edits them: every change is applied
// here at once (the screen never waits for the network), queued, saved in order through the
// API, and kept in localStorage until the server has it, so a reload or a dropped
// connection loses nothing.
//
// - Each change carries the version it was based on, recorded when it is made (and moved on
//   when one of our own earlier changes of the same annotation is accepted), so a change
//   replayed after a reload can never overwrite someone else's newer edit: it gets a 409.
// - A 409 becomes a "conflict" event with both versions; the change stays stored until the
//   user chooses (keepMine / takeTheirs). A refused change (422, 403…) puts the server's
//   version back on screen and says why; the state stays "error" until the next change.
// - A create carries a client key (the item's local key): sent again after a lost answer,
//   the server returns the annotation it created the first time.
// - Each tab keeps its own queue (key + tab id, with a heartbeat); a tab adopts the queues of
//   tabs closed with changes still waiting.
// - Undo and redo replay the inverse of the user's last changes through the same queue. A
//   delete asks the server for what it takes with the annotation (`Prefer:
//   return=representation`: a stop's live-session row, the stops that answered a prepared
//   moment, its agenda statuses); giving it back sends those links with the create, so an
//   undo restores the annotation as it was, links included (under a new id).

import { sendJSON } from "../api.js";

const EDITABLE = ["start_ms", "end_ms", "code_ids", "note", "speaker", "fields", "layer", "shared", "verbatims"];
const RETRY_MAX_MS = 10000;
const HEARTBEAT_MS = 4000;
const ORPHAN_MS = 15000;

function randomPart() {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(36).padStart(2, "0")).join("");
}

function newKey() {
  return `k${Date.now().toString(36)}${randomPart()}`;
}

function pick(item, names) {
  const out = {};
  for (const name of names) if (name in item) out[name] = structuredClone(item[name]);
  return out;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function detailText(json, status) {
  const detail = json && json.detail;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail) && detail.length) return detail.map((issue) => issue.msg).join(" ; ");
  return `HTTP ${status}`;
}

export class Store extends EventTarget {
  constructor({ recordingId, userId, annotations, storageKey, canShow = false }) {
    super();
    this.recordingId = recordingId;
    this.userId = userId;
    // Researchers show annotations to the counsellor: an undo gives that back too.
    this.canShow = canShow;
    // What each delete took with its annotation (by the annotation's key then): its links.
    this.deletedLinks = new Map();
    this.baseKey = storageKey;
    this.tabKey = `${storageKey}.${randomPart()}`;
    this.items = new Map();
    this.byId = new Map();
    this.queue = [];
    this.conflicts = [];
    this.inFlight = null;
    this.undoStack = [];
    this.redoStack = [];
    this.state = "saved"; // saved | saving | offline | signedOut | error
    this.lastError = "";
    this.retryDelay = 1000;
    this.retryTimer = null;
    this._sorted = null;
    for (const annotation of annotations) this._put({ ...annotation, key: `s${annotation.id}` });
    this._restorePending();
    window.addEventListener("online", () => this._kick(true));
    setInterval(() => {
      if (this.pendingCount()) this._persist();
    }, HEARTBEAT_MS);
    // Closing (or leaving) the tab leaves its waiting changes to the next tab that opens.
    window.addEventListener("pagehide", () => this._persist(0));
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this._persist();
    });
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
    return this.queue.length + this.conflicts.length + (this.inFlight ? 1 : 0);
  }

  // ---- user changes

  create(data) {
    const item = { ...this._blank(), ...structuredClone(data), key: newKey(), id: null, version: 0 };
    this._put(item);
    const saved = pick(item, [...EDITABLE, "origin"]);
    this._enqueue({ type: "create", key: item.key, data: saved });
    this._record({ type: "create", key: item.key, data: saved });
    this._changed([item.key]);
    return item;
  }

  update(key, changes) {
    const item = this.items.get(key);
    if (!item) return;
    const before = pick(item, Object.keys(changes));
    const after = structuredClone(changes);
    if (same(before, pick(after, Object.keys(changes)))) return;
    this._apply(key, after);
    this._record({ type: "update", key, before, after });
  }

  /** Delete; `undoable` false when undo could not give it back as it was (someone else's). */
  remove(key, { undoable = true } = {}) {
    const item = this.items.get(key);
    if (!item) return;
    const data = pick(item, [...EDITABLE, "origin", ...(this.canShow ? ["shown_to_counsellor"] : [])]);
    this._delete(key);
    if (undoable) this._record({ type: "remove", key, data });
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

  // ---- conflicts (the op stays stored until one of these is called)

  /** Keep my version: my change is sent again over the other version (or deleted anyway). */
  keepMine(op, theirs) {
    this._resolved(op);
    // Changes made while the question was open build on my version over theirs: first mine,
    // then them, all on the other version.
    for (const other of this.queue) if (other.key === op.key) other.version = theirs.version;
    const item = this.items.get(op.key);
    if (item) item.version = theirs.version;
    const again =
      op.type === "delete"
        ? { type: "delete", key: op.key, id: theirs.id, version: theirs.version }
        : { type: "update", key: op.key, id: theirs.id, version: theirs.version, changes: structuredClone(op.changes) };
    this.queue.unshift(again);
    this._persist();
    this._kick();
    this._changed([op.key]);
  }

  /** Take the other version, as the server holds it now: it replaces mine on screen (a
   * deleted one comes back, and undo no longer deletes it again). */
  async takeTheirs(op, theirs) {
    this._resolved(op);
    if (op.type === "delete") {
      for (const stack of [this.undoStack, this.redoStack]) {
        for (let index = stack.length - 1; index >= 0; index -= 1) if (stack[index].key === op.key) stack.splice(index, 1);
      }
    }
    const fresh = await this._request("GET", `/api/v1/annotations/${theirs.id}`).catch(() => null);
    this._restoreFromServer(op.key, fresh && fresh.ok && fresh.json ? fresh.json : theirs);
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

  /** The server's version on screen, with my changes still waiting applied over it. */
  _restoreFromServer(key, current) {
    const item = this.items.get(key) || { key };
    Object.assign(item, pick(current, [...EDITABLE, "origin", "author_id", "version", "updated_at"]));
    item.id = current.id;
    item.code_ids = current.code_ids || [];
    for (const op of this.queue) if (op.key === key && op.type === "update") Object.assign(item, structuredClone(op.changes));
    this._put(item);
    this._changed([key]);
  }

  _apply(key, changes) {
    const item = this.items.get(key);
    if (!item) return;
    Object.assign(item, structuredClone(changes));
    this._sorted = null;
    this._enqueue({ type: "update", key, id: item.id, version: item.id != null ? item.version : null, changes: structuredClone(changes) });
    this._changed([key]);
  }

  _delete(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    if (item.id != null) this.byId.delete(item.id);
    this._sorted = null;
    // Not yet created on the server: forget its queued create and edits instead.
    const waiting = this.queue.findIndex((op) => op.key === key && op.type === "create" && !op.sent);
    if (waiting >= 0) {
      this.queue = this.queue.filter((op) => op.key !== key);
      this._persist();
    } else {
      this._enqueue({ type: "delete", key, id: item.id, version: item.id != null ? item.version : null });
    }
    this._changed([key]);
  }

  _replay(entry, backwards) {
    if (entry.type === "update") {
      this._apply(entry.key, backwards ? entry.before : entry.after);
    } else if ((entry.type === "create") === backwards) {
      this._delete(entry.key);
    } else {
      // Given back under a new key: the server may still hold the old one's client key.
      entry.old = entry.key;
      const key = newKey();
      for (const stack of [this.undoStack, this.redoStack]) for (const other of stack) if (other.key === entry.key) other.key = key;
      entry.key = key;
      const item = { ...this._blank(), ...structuredClone(entry.data), key, id: null, version: 0 };
      this._put(item);
      // The links come with the delete's answer: known now, or when that answer arrives.
      const links = this.deletedLinks.get(entry.old) ?? null;
      this._enqueue({ type: "create", key, data: structuredClone(entry.data), restores: entry.old, links });
      this._changed([key]);
    }
  }

  _record(entry) {
    this.undoStack.push(entry);
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack = [];
  }

  _enqueue(op) {
    if (this.state === "error") this._setState("saving");
    const last = this.queue[this.queue.length - 1];
    // Typing in a note sends one request per pause, not one per key: a change of the same
    // fields joins the one waiting (keeping the version it was based on). Never one already
    // sent (its answer may have been lost: the server may hold it as sent), never other
    // fields (a refusal of one must not take the other with it).
    const mergeable = op.type === "update" && last && last.key === op.key && !last.sent;
    const sameFields = (changes) => same(Object.keys(changes).sort(), Object.keys(op.changes).sort());
    if (mergeable && last.type === "update" && sameFields(last.changes)) {
      Object.assign(last.changes, op.changes);
    } else if (mergeable && last.type === "create") {
      Object.assign(last.data, op.changes);
    } else {
      this.queue.push(op);
    }
    this._persist();
    this._kick();
  }

  _persist(at = Date.now()) {
    try {
      const ops = [...this.conflicts, ...(this.inFlight ? [this.inFlight] : []), ...this.queue];
      if (ops.length) window.localStorage.setItem(this.tabKey, JSON.stringify({ at, ops }));
      else window.localStorage.removeItem(this.tabKey);
    } catch {
      // Storage full or disabled: changes still go to the server, only a reload would lose them.
    }
  }

  /** This tab's queue is new; adopt the ones left by closed tabs (and the older format). */
  _restorePending() {
    const ops = [];
    try {
      for (let index = window.localStorage.length - 1; index >= 0; index -= 1) {
        const name = window.localStorage.key(index);
        if (name !== this.baseKey && !(name && name.startsWith(`${this.baseKey}.`))) continue;
        const stored = JSON.parse(window.localStorage.getItem(name) || "null");
        const entry = Array.isArray(stored) ? { at: 0, ops: stored } : stored;
        if (!entry || Date.now() - (entry.at || 0) < ORPHAN_MS) continue; // a live tab's
        ops.push(...(entry.ops || []));
        window.localStorage.removeItem(name);
      }
    } catch {
      return;
    }
    const byClientKey = new Map();
    for (const item of this.items.values()) if (item.client_key) byClientKey.set(item.client_key, item);
    for (const op of ops) {
      if (op.type === "create") {
        const stored = byClientKey.get(op.key);
        if (stored) {
          // It reached the server before the reload: the listed one takes the local key.
          this.items.delete(stored.key);
          stored.key = op.key;
          this._put(stored);
          continue;
        }
        if (!this.items.has(op.key)) this._put({ ...this._blank(), ...op.data, key: op.key, id: null, version: 0 });
        this.queue.push(op);
        continue;
      }
      const key = op.id != null && this.byId.has(op.id) ? this.byId.get(op.id) : op.key;
      const item = this.items.get(key);
      if (!item) continue; // deleted on the server meanwhile, or its creation was refused
      op.key = key;
      if (op.type === "update") Object.assign(item, op.changes);
      else if (op.type === "delete") {
        this.items.delete(key);
        if (item.id != null) this.byId.delete(item.id);
      }
      this.queue.push(op);
    }
    this._sorted = null;
    this._persist();
  }

  _setState(state, error = "") {
    this.state = state;
    this.lastError = error;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, error, pending: this.pendingCount() } }));
  }

  _changed(keys) {
    this.dispatchEvent(new CustomEvent("change", { detail: { keys } }));
  }

  _resolved(op) {
    this.conflicts = this.conflicts.filter((other) => other !== op);
    this._persist();
    if (!this.pendingCount() && this.state !== "error") this._setState("saved");
  }

  _kick(now = false) {
    if (now && this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.inFlight || this.retryTimer) return;
    if (!this.queue.length) {
      if (this.state === "saving" || this.state === "offline" || this.state === "signedOut") {
        this._setState(this.conflicts.length ? "conflict" : "saved");
      }
      return;
    }
    this.inFlight = this.queue.shift();
    this.inFlight.sent = true;
    if (this.state !== "error") this._setState("saving");
    this._send(this.inFlight).catch((failure) => {
      // Anything unexpected (an answer that is not the API's: a captive portal, a proxy
      // page) keeps the change and tries again, as when offline.
      throw failure && "retry" in failure ? failure : { retry: true };
    }).then(
      () => {
        this.inFlight = null;
        this.retryDelay = 1000;
        this._persist();
        this._kick();
      },
      (failure) => {
        const op = this.inFlight;
        this.inFlight = null;
        if (failure && failure.retry) {
          // Offline, signed out or the server restarting: keep the change first in line.
          this.queue.unshift(op);
          this._persist();
          this._setState(failure.signedOut ? "signedOut" : "offline");
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this._kick();
          }, this.retryDelay);
          this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
          return;
        }
        this._persist();
        if (failure && failure.conflict) this._setState("conflict");
        else this._setState("error", failure ? failure.message : "");
        this._kick();
      },
    );
  }

  async _request(method, url, body, headers = {}) {
    let answer;
    try {
      answer = await sendJSON(method, url, body, "", headers);
    } catch {
      throw { retry: true };
    }
    const { status, ok, data: json } = answer;
    if (status >= 500 || status === 408 || status === 429) throw { retry: true };
    // Signed out (session expired): keep the change for after the next login.
    if (status === 401) throw { retry: true, signedOut: true };
    // A success must be the API's answer (an annotation); anything else is not a save.
    if (ok && method !== "DELETE" && !(json && Number.isInteger(json.id) && Number.isInteger(json.version))) {
      throw { retry: true };
    }
    return { status, ok, json };
  }

  /** Our own later changes of `key` were based on `from`: they now build on `to`. */
  _rebase(key, from, to) {
    for (const op of this.queue) {
      if (op.key === key && (op.version === from || op.version == null)) op.version = to;
    }
  }

  async _send(op) {
    if (op.type === "create") {
      const links = op.links ?? (op.restores ? this.deletedLinks.get(op.restores) : null);
      const body = { ...op.data, client_key: op.key, ...(links ? { links } : {}) };
      const answer = await this._request("POST", `/api/v1/recordings/${this.recordingId}/annotations`, body);
      if (!answer.ok) return this._refused(op, answer);
      op.id = answer.json.id;
      const item = this.items.get(op.key);
      for (const other of this.queue) if (other.key === op.key) other.id = answer.json.id;
      // Created before a reload whose page already listed it: one item, not two.
      const twin = this.byId.get(answer.json.id);
      if (twin && twin !== op.key) {
        this.items.delete(twin);
        this._sorted = null;
        this._changed([twin]);
      }
      this._rebase(op.key, null, answer.json.version);
      if (item) {
        item.id = answer.json.id;
        item.version = answer.json.version;
        item.author_id = answer.json.author_id;
        item.shared = answer.json.shared;
        this.byId.set(item.id, item.key);
        this._changed([item.key]);
      } else if (!this.queue.some((other) => other.key === op.key && other.type === "delete")) {
        // Deleted while its creation was on the way.
        this.queue.unshift({ type: "delete", key: op.key, id: answer.json.id, version: answer.json.version });
      }
      return;
    }
    const item = this.items.get(op.key);
    const id = op.id ?? (item ? item.id : null);
    if (id == null) return; // its creation was refused
    op.id = id;
    if (op.version == null) op.version = item ? item.version : null;
    if (op.type === "update") {
      const answer = await this._request("PATCH", `/api/v1/annotations/${id}`, { ...op.changes, version: op.version });
      if (answer.ok) {
        this._rebase(op.key, op.version, answer.json.version);
        if (item) {
          item.version = answer.json.version;
          item.shared = answer.json.shared;
        }
        return;
      }
      return this._refused(op, answer);
    }
    const answer = await this._request("DELETE", `/api/v1/annotations/${id}${op.version != null ? `?version=${op.version}` : ""}`, undefined, {
      Prefer: "return=representation",
    });
    if (answer.ok) {
      if (answer.json && answer.json.links) this._deletedWith(op.key, answer.json.links);
      return;
    }
    if (answer.status === 404) return;
    return this._refused(op, answer);
  }

  /** Keep what the delete of `key` took with it, for an undo (also one already queued). */
  _deletedWith(key, links) {
    this.deletedLinks.set(key, links);
    for (const op of this.queue) if (op.type === "create" && op.restores === key && !op.links) op.links = links;
    this._persist();
  }

  async _refused(op, answer) {
    const message = detailText(answer.json, answer.status);
    const current = answer.json && answer.json.current;
    if (answer.status === 409 && current) {
      // Our own change whose answer was lost, sent again: it is already there.
      if (op.type === "update" && op.sent && Object.keys(op.changes).every((name) => same(op.changes[name], current[name]))) {
        // Mine made version+1; if someone wrote after it, my later changes must meet theirs.
        const item = this.items.get(op.key);
        if (item) item.version = op.version + 1;
        this._rebase(op.key, op.version, op.version + 1);
        return;
      }
      this.conflicts.push(op);
      this._persist();
      this.dispatchEvent(new CustomEvent("conflict", { detail: { op, theirs: current, message } }));
      throw { retry: false, conflict: true, message };
    }
    if (op.type === "create") {
      // Refused (e.g. outside the recording): it cannot exist, it leaves the screen.
      if (this.items.delete(op.key)) {
        this._sorted = null;
        this._changed([op.key]);
      }
      this.queue = this.queue.filter((other) => other.key !== op.key);
      throw { retry: false, message };
    }
    // Refused or gone: the screen goes back to what the server holds.
    const fresh = await this._request("GET", `/api/v1/annotations/${op.id}`).catch(() => null);
    if (fresh && fresh.ok) this._restoreFromServer(op.key, fresh.json);
    else if (fresh && fresh.status === 404 && this.items.has(op.key)) {
      const item = this.items.get(op.key);
      this.items.delete(op.key);
      this.byId.delete(item.id);
      this._sorted = null;
      this._changed([op.key]);
    }
    if (answer.status === 404) return; // deleted by someone else: nothing more to say
    throw { retry: false, message };
  }
}
