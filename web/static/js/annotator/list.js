// The side list of annotations, in time order, filterable by layer, code, author, origin and
// text; it reads like the researcher's notes: `10’02 — il reformule sans vérifier…`.

import { timecode } from "../format.js";

function option(value, label) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  return node;
}

export class AnnotationList {
  constructor(root, app) {
    this.app = app;
    this.list = root.querySelector("[data-list]");
    this.emptyNote = root.querySelector("[data-list-empty]");
    this.count = document.querySelector("[data-list-count]");
    this.filters = Object.fromEntries([...root.querySelectorAll("[data-filter]")].map((f) => [f.dataset.filter, f]));
    this.rows = new Map();
    this.pending = false;
    for (const filter of Object.values(this.filters)) filter.addEventListener("input", () => this.refresh());
    this.list.addEventListener("click", (event) => {
      const row = event.target.closest("li[data-key]");
      if (row) app.select(row.dataset.key, { seek: true });
    });
    this.list.addEventListener("dblclick", (event) => {
      const row = event.target.closest("li[data-key]");
      if (row) app.panel.focusNote();
    });
    this.fillFilters();
  }

  fillFilters() {
    const m = this.app.messages;
    const keep = Object.fromEntries(Object.entries(this.filters).map(([name, f]) => [name, f.value]));
    const layer = this.filters.layer;
    layer.replaceChildren(layer.firstElementChild);
    for (const [id, label] of Object.entries(this.app.layerLabels)) layer.append(option(id, label));
    const code = this.filters.code;
    code.replaceChildren(code.firstElementChild);
    for (const book of this.app.codebooks) {
      const group = document.createElement("optgroup");
      group.label = m[`codebook_${book.kind}`] || book.name;
      for (const c of book.codes) group.append(option(String(c.id), `${"  ".repeat(c.depth)}${c.label}`));
      code.append(group);
    }
    code.append(option("none", m.noCodes));
    const author = this.filters.author;
    author.replaceChildren(author.firstElementChild);
    const authors = new Set(this.app.store.all().map((a) => a.author_id));
    for (const id of authors) author.append(option(String(id ?? ""), this.app.authorName(id)));
    const origin = this.filters.origin;
    origin.replaceChildren(origin.firstElementChild);
    for (const name of ["prepared", "stop", "coding", "transcript", "import"]) origin.append(option(name, m[`origin_${name}`]));
    for (const [name, value] of Object.entries(keep)) this.filters[name].value = value;
  }

  matches(item) {
    const f = this.filters;
    if (f.layer.value && item.layer !== f.layer.value) return false;
    if (f.code.value === "none" && item.code_ids.length) return false;
    if (f.code.value && f.code.value !== "none" && !item.code_ids.includes(Number(f.code.value))) return false;
    if (f.author.value !== "" && String(item.author_id ?? "") !== f.author.value) return false;
    if (f.origin.value && item.origin !== f.origin.value) return false;
    const text = f.text.value.trim().toLowerCase();
    if (text && !`${item.note} ${item.speaker || ""}`.toLowerCase().includes(text)) return false;
    // The transcript has its own tab; it joins the list only when asked for.
    if (!f.layer.value && !f.origin.value && !text && item.layer === "transcript") return false;
    return true;
  }

  /** Re-render on the next frame (many changes in one frame render once). */
  refresh() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const items = this.app.store.all().filter((item) => this.matches(item));
    this.rows = new Map();
    const rows = [];
    for (const item of items) {
      const row = this.row(item);
      this.rows.set(item.key, row);
      rows.push(row);
    }
    this.list.replaceChildren(...rows);
    this.showCounts();
    this.highlight();
  }

  /** Re-render only the rows of `keys` (a mark while 2,000 rows are listed costs one row). */
  update(keys) {
    if (this.pending) return; // a full render is on its way
    const all = this.app.store.all();
    for (const key of new Set(keys)) {
      const old = this.rows.get(key);
      const item = this.app.store.get(key);
      if (old) {
        old.remove();
        this.rows.delete(key);
      }
      if (!item || !this.matches(item)) continue;
      const row = this.row(item);
      // Before the next listed annotation in time order.
      let next = null;
      for (let index = all.indexOf(item) + 1; index < all.length && !next; index += 1) {
        next = this.rows.get(all[index].key) || null;
      }
      this.list.insertBefore(row, next);
      this.rows.set(key, row);
    }
    this.showCounts();
    this.highlight();
  }

  showCounts() {
    this.emptyNote.hidden = this.rows.size > 0;
    let count = 0;
    for (const item of this.app.store.all()) if (item.layer !== "transcript") count += 1;
    this.count.textContent = String(count);
  }

  row(item) {
    const li = document.createElement("li");
    li.dataset.key = item.key;
    li.className = `layer-${item.layer}`;
    if (item.id == null) li.classList.add("unsaved");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = item.end_ms == null ? timecode(item.start_ms / 1000) : `${timecode(item.start_ms / 1000)} – ${timecode(item.end_ms / 1000)}`;
    li.append(time, " — ");
    const body = document.createElement("span");
    body.className = "body";
    for (const id of item.code_ids) {
      const code = this.app.codes.get(id);
      if (!code) continue;
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.style.setProperty("--chip", code.color);
      chip.textContent = code.label;
      chip.title = code.path;
      body.append(chip);
    }
    const text = item.speaker ? `${item.speaker} : ${item.note}` : item.note;
    if (text) body.append(document.createTextNode(text));
    else if (!item.code_ids.length) {
      const none = document.createElement("em");
      none.className = "muted";
      none.textContent = this.app.messages.noNote;
      body.append(none);
    }
    li.append(body);
    const meta = document.createElement("small");
    meta.className = "muted";
    const bits = [this.app.layerLabels[item.layer] || item.layer];
    if (item.author_id !== this.app.userId) bits.push(this.app.authorName(item.author_id));
    if (item.layer === "prepared" && !item.shared) bits.push(this.app.messages.private);
    meta.textContent = bits.join(" · ");
    li.append(meta);
    return li;
  }

  highlight() {
    for (const row of this.list.querySelectorAll("li.selected")) row.classList.remove("selected");
    const key = this.app.selected;
    if (!key) return;
    const row = this.list.querySelector(`li[data-key="${CSS.escape(key)}"]`);
    if (row) {
      row.classList.add("selected");
      // Only when the selection changes: the researcher may be scrolling the list meanwhile.
      if (this.scrolledTo !== key) row.scrollIntoView({ block: "nearest" });
      this.scrolledTo = key;
    }
  }
}
