// The codebook editor (web/templates/codebooks.html): tabs for the study's codebooks and, for
// its researchers, editing each tree in place. Every change goes at once to the JSON API;
// on a refusal the server's message is shown next to the code and the codebook is read
// again, so the page never shows a state the server does not hold. After each change a
// message on the "autoconf.codebooks" BroadcastChannel tells the open annotation pages.

import Sortable from "../vendor/sortable-1.15.6.esm.js";
import { detailOf, getJSON, tokenHeaders } from "./api.js";

const CHANNEL = "autoconf.codebooks";

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (all, name) => (name in values ? String(values[name]) : all));
}

/** fetch + JSON; throws an Error whose message is the server's French detail. */
async function send(method, url, body, fallback) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { Accept: "application/json", ...tokenHeaders(), ...(body ? { "Content-Type": "application/json" } : {}) },
      credentials: "same-origin",
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw Object.assign(new Error(fallback), { status: 0 });
  }
  const text = await response.text();
  if (!response.ok) {
    throw Object.assign(new Error(detailOf(text, `${fallback} (${response.status})`)), {
      status: response.status,
    });
  }
  return text ? JSON.parse(text) : null;
}

function setupTabs(root) {
  const list = root.querySelector("[data-book-tabs]");
  const tabs = [...root.querySelectorAll("[data-book-tab]")];
  if (!list || !tabs.length) return;
  list.hidden = false;

  // The address remembers the tab by kind (#categories): a link can open it, and no element
  // has that id, so the browser does not scroll the tabs out of sight.
  const hashOf = (tab) => `#${tab.dataset.kind}`;

  function select(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      root.querySelector(`[data-book-panel="${other.dataset.bookTab}"]`).hidden = !selected;
    }
    if (focus) tab.focus();
  }

  function choose(tab, focus) {
    select(tab, focus);
    if (location.hash !== hashOf(tab)) history.replaceState(null, "", hashOf(tab));
  }

  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[data-book-tab]");
    if (tab) choose(tab, false);
  });
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    choose(tabs[(next + tabs.length) % tabs.length], true);
  });
  const wanted = tabs.find((tab) => hashOf(tab) === location.hash);
  select(wanted || tabs[0], false);
}

function setupEditor(root) {
  const studyId = Number(root.dataset.studyId);
  const msg = root.dataset;
  const status = root.querySelector("[data-save-status]");
  const codeTemplate = root.querySelector("template[data-code-template]");
  const addTemplate = root.querySelector("template[data-add-child-template]");
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(CHANNEL) : null;
  const sortables = new Map(); // codebook id -> the Sortable instances of its lists

  // Changes go to the server one after the other, in the order they were made. After a
  // refusal the codebook is read again and the changes still waiting are dropped: they were
  // computed from a tree that no longer is.
  let queue = Promise.resolve();
  let epoch = 0;
  function enqueue(work) {
    const mine = epoch;
    queue = queue.then(() => (mine === epoch ? work() : undefined)).catch(() => {});
    return queue;
  }

  const panelOf = (bookId) => root.querySelector(`[data-book-panel="${bookId}"]`);
  const itemOf = (codeId) => root.querySelector(`li.code-item[data-code-id="${codeId}"]`);
  const bookIdOf = (element) => Number(element.closest("[data-book-panel]").dataset.bookPanel);
  const labelOf = (item) => item.querySelector(":scope > .code-row .code-label").dataset.saved;
  const siblingItems = (list) => [...list.children].filter((el) => el.matches("li.code-item"));
  const parentIdOf = (item) => {
    const id = item.parentElement.dataset.parentId;
    return id ? Number(id) : null;
  };
  const positionOf = (item) => siblingItems(item.parentElement).indexOf(item);
  // A code's own controls (not its sub-codes'): in its row, below it, or in its English part.
  const ownControl = (selector) =>
    `:scope > .code-row ${selector}, :scope > ${selector}, :scope > .code-english ${selector}`;
  const fieldOf = (item, field) => item.querySelector(ownControl(`[data-field="${field}"]`));

  function say(text) {
    if (!status) return;
    status.textContent = text;
    status.classList.remove("fresh");
    void status.offsetWidth; // restart the fade
    status.classList.add("fresh");
  }

  function announce(bookId) {
    if (channel) channel.postMessage({ study_id: studyId, codebook_id: bookId });
  }

  function showCodeError(item, text, deleteRefused = false) {
    const box = item.querySelector(":scope > [data-code-error]");
    box.querySelector("[data-code-error-text]").textContent = text;
    box.querySelector("[data-delete-refused]").hidden = !deleteRefused;
    box.hidden = false;
  }

  function clearCodeError(item) {
    const box = item.querySelector(":scope > [data-code-error]");
    if (box) box.hidden = true;
  }

  function showBookError(bookId, text) {
    const box = panelOf(bookId).querySelector("[data-book-error]");
    box.textContent = text;
    box.hidden = !text;
  }

  // --- Rendering a codebook from the API's view (after a refusal, or a change elsewhere) ---

  function fillItem(item, code) {
    item.dataset.codeId = code.id;
    item.classList.toggle("archived", code.archived);
    const row = item.querySelector(":scope > .code-row");
    row.setAttribute("aria-label", code.label);
    const values = {
      color: code.color,
      label: code.label,
      hotkey: code.hotkey || "",
      description: code.description,
      label_en: code.label_en,
      description_en: code.description_en,
    };
    for (const [field, value] of Object.entries(values)) {
      const input = fieldOf(item, field);
      input.value = value;
      input.dataset.saved = value;
    }
    item.querySelector(":scope > [data-field=description]").hidden = !code.description;
    item.querySelector(":scope > [data-english]").hidden = !(code.label_en || code.description_en);
    fieldOf(item, "description_en").hidden = !code.description_en;
    row.querySelector("[data-archived-badge]").hidden = !code.archived;
    row.querySelector('[data-action="archive"]').textContent = code.archived ? msg.msgUnarchive : msg.msgArchive;
    item.querySelector(":scope > ul.code-children").dataset.parentId = code.id;
  }

  function renderBook(book) {
    const panel = panelOf(book.id);
    const active = document.activeElement;
    let focus = null;
    if (active && panel.contains(active) && active.closest("li.code-item")) {
      const control = active.dataset.field
        ? `[data-field="${active.dataset.field}"]`
        : active.dataset.action && `[data-action="${active.dataset.action}"]`;
      if (control) focus = { codeId: active.closest("li.code-item").dataset.codeId, control };
    }
    const children = new Map();
    for (const code of book.codes) {
      if (!children.has(code.parent_id)) children.set(code.parent_id, []);
      children.get(code.parent_id).push(code);
    }
    const build = (code) => {
      const item = codeTemplate.content.firstElementChild.cloneNode(true);
      fillItem(item, code);
      const list = item.querySelector(":scope > ul.code-children");
      for (const child of children.get(code.id) || []) list.append(build(child));
      return item;
    };
    panel.querySelector("ul.code-root").replaceChildren(...(children.get(null) || []).map(build));
    afterStructureChange(book.id);
    if (focus) {
      const target = itemOf(focus.codeId)?.querySelector(ownControl(focus.control));
      if (target) target.focus();
    }
  }

  async function reload(bookId) {
    try {
      const books = await getJSON(msg.codebooksUrl, msg.msgReloadFailed);
      for (const book of books) if (bookId === undefined || book.id === bookId) renderBook(book);
    } catch (error) {
      showBookError(bookId, error.message);
    }
  }

  /** A refusal: read the codebook again, then show the server's message where it belongs. */
  async function refused(bookId, codeId, error, deleteRefused = false) {
    epoch += 1;
    await reload(bookId);
    const item = codeId ? itemOf(codeId) : null;
    if (item) showCodeError(item, error.message, deleteRefused);
    else showBookError(bookId, error.message);
    if (status) status.textContent = "";
  }

  function saved(bookId, item, text) {
    if (item) clearCodeError(item);
    showBookError(bookId, "");
    say(text || msg.msgSaved);
    announce(bookId);
  }

  // --- Structure: move buttons, counts, drag and drop ---

  function afterStructureChange(bookId) {
    const panel = panelOf(bookId);
    for (const item of panel.querySelectorAll("li.code-item")) {
      const row = item.querySelector(":scope > .code-row");
      const atRoot = item.parentElement.classList.contains("code-root");
      const first = !item.previousElementSibling;
      const last = !item.nextElementSibling;
      for (const [action, off] of [["up", first], ["down", last], ["indent", first], ["outdent", atRoot]]) {
        // aria-disabled, not disabled: a focused button must keep the focus at the end of a move.
        row.querySelector(`[data-action="${action}"]`).setAttribute("aria-disabled", String(off));
      }
    }
    const items = [...panel.querySelectorAll("li.code-item")];
    const archived = items.filter((item) => item.classList.contains("archived")).length;
    const active = items.length - archived;
    const plural = (n, one, many) => format(n <= 1 ? one : many, { n });
    let summary = plural(active, msg.msgActiveOne, msg.msgActiveMany);
    if (archived) summary += ` · ${plural(archived, msg.msgArchivedOne, msg.msgArchivedMany)}`;
    panel.querySelector("[data-book-summary]").textContent = summary;
    panel.querySelector("[data-book-empty]").hidden = items.length > 0;
    const count = root.querySelector(`[data-book-tab="${bookId}"] [data-book-count]`);
    if (count) count.textContent = String(active);
    syncSortables(bookId);
  }

  /** One Sortable per list of the codebook (each code's sub-list is a drop target), never
   * two: lists that left the page lose theirs, new ones get one. */
  function syncSortables(bookId) {
    const kept = (sortables.get(bookId) || []).filter((sortable) => {
      if (sortable.el.isConnected) return true;
      sortable.destroy();
      return false;
    });
    for (const list of panelOf(bookId).querySelectorAll("ul.code-list")) {
      if (Sortable.get(list)) continue;
      kept.push(
        new Sortable(list, {
          group: `codebook-${bookId}`, // codes move within their codebook only
          handle: ".code-handle",
          draggable: ".code-item",
          animation: 150,
          fallbackOnBody: true,
          swapThreshold: 0.65,
          emptyInsertThreshold: 8,
          ghostClass: "code-ghost",
          chosenClass: "code-chosen",
          onStart: () => root.classList.add("dragging"),
          onEnd: (event) => {
            root.classList.remove("dragging");
            if (event.from === event.to && event.oldIndex === event.newIndex) return;
            move(event.item);
          },
        }),
      );
    }
    sortables.set(bookId, kept);
  }

  /** The item is where it should be in the page; tell the server. */
  function move(item) {
    const bookId = bookIdOf(item);
    const codeId = Number(item.dataset.codeId);
    afterStructureChange(bookId);
    const body = { parent_id: parentIdOf(item), position: positionOf(item) };
    enqueue(async () => {
      try {
        await send("PATCH", `/api/v1/codes/${codeId}`, body, msg.msgFailed);
        saved(bookId, itemOf(codeId));
      } catch (error) {
        await refused(bookId, codeId, error);
      }
    });
  }

  function moveBy(item, action) {
    const list = item.parentElement;
    const focused = item.contains(document.activeElement) ? document.activeElement : null;
    if (action === "up" && item.previousElementSibling) list.insertBefore(item, item.previousElementSibling);
    else if (action === "down" && item.nextElementSibling) item.nextElementSibling.after(item);
    else if (action === "indent" && item.previousElementSibling) {
      item.previousElementSibling.querySelector(":scope > ul.code-children").append(item);
    } else if (action === "outdent" && !list.classList.contains("code-root")) list.closest("li.code-item").after(item);
    else return;
    if (focused && document.activeElement !== focused) focused.focus(); // moving a node blurs it
    move(item);
  }

  // --- Fields: label, colour, hotkey, description, English label and description ---

  function saveField(input, value) {
    const item = input.closest("li.code-item");
    const bookId = bookIdOf(item);
    const codeId = Number(item.dataset.codeId);
    const field = input.dataset.field;
    const before = input.dataset.saved;
    input.dataset.saved = value ?? "";
    enqueue(async () => {
      try {
        const code = await send("PATCH", `/api/v1/codes/${codeId}`, { [field]: value }, msg.msgFailed);
        const current = itemOf(codeId);
        if (current && field === "label") current.querySelector(":scope > .code-row").setAttribute("aria-label", code.label);
        saved(bookId, current);
      } catch (error) {
        input.dataset.saved = before;
        await refused(bookId, codeId, error);
      }
    });
  }

  function fieldChanged(input) {
    const field = input.dataset.field;
    let value = input.value;
    if (field === "label") {
      value = value.replace(/\s+/g, " ").trim(); // a label is one line, even when pasted
      input.value = value || input.dataset.saved;
      if (!value) {
        input.value = input.dataset.saved;
        showCodeError(input.closest("li.code-item"), msg.msgEmptyLabel);
        return;
      }
    } else if (field === "label_en") {
      value = value.replace(/\s+/g, " ").trim(); // optional: empty removes it
      input.value = value;
    } else if (field === "hotkey") {
      value = value.trim().slice(-1);
      input.value = value;
    } else if (field === "description" || field === "description_en") {
      value = value.trim();
    }
    if (value === input.dataset.saved) return;
    saveField(input, field === "hotkey" && !value ? null : value);
  }

  function hotkeyKeydown(input, event) {
    if (event.ctrlKey || event.metaKey || event.altKey || ["Tab", "Escape", "Enter"].includes(event.key)) return;
    if (event.key === "Backspace" || event.key === "Delete") {
      event.preventDefault();
      input.value = "";
      if (input.dataset.saved) saveField(input, null);
      return;
    }
    if (event.key.length === 1 && event.key.trim()) {
      event.preventDefault();
      input.value = event.key;
      if (event.key !== input.dataset.saved) saveField(input, event.key);
    }
  }

  // --- Adding, archiving, deleting ---

  function openAddChild(item) {
    const open = item.querySelector(":scope > form[data-add-form]");
    if (open) {
      open.querySelector("input").focus();
      return;
    }
    const form = addTemplate.content.firstElementChild.cloneNode(true);
    form.dataset.parentId = item.dataset.codeId;
    form.querySelector("[data-add-child-label]").textContent = format(msg.msgAddChild, { label: labelOf(item) });
    item.querySelector(":scope > ul.code-children").before(form);
    form.querySelector("input").focus();
  }

  function closeAdd(form) {
    const item = form.closest("li.code-item");
    form.remove();
    item?.querySelector(':scope > .code-row [data-action="add-child"]').focus();
  }

  function add(form) {
    const input = form.querySelector("input[name=label]");
    const label = input.value.trim();
    const error = form.querySelector("[data-add-error]");
    if (!label) {
      error.textContent = msg.msgEmptyLabel;
      error.hidden = false;
      return;
    }
    const bookId = bookIdOf(form);
    const parentId = form.dataset.parentId ? Number(form.dataset.parentId) : null;
    const parent = parentId ? itemOf(parentId) : null;
    const body = { label, parent_id: parentId };
    if (parent) body.color = parent.querySelector(':scope > .code-row [data-field="color"]').dataset.saved;
    enqueue(async () => {
      try {
        const code = await send("POST", `/api/v1/codebooks/${bookId}/codes`, body, msg.msgFailed);
        const item = codeTemplate.content.firstElementChild.cloneNode(true);
        fillItem(item, code);
        const list = parent
          ? parent.querySelector(":scope > ul.code-children")
          : panelOf(bookId).querySelector("ul.code-root");
        list.append(item);
        afterStructureChange(bookId);
        input.value = "";
        error.hidden = true;
        saved(bookId, null, format(msg.msgAdded, { label: code.label }));
      } catch (failure) {
        // Nothing changed on the server: keep what was typed, say why it was refused.
        error.textContent = failure.message;
        error.hidden = false;
      }
    });
  }

  function setArchived(item, archived) {
    const bookId = bookIdOf(item);
    const codeId = Number(item.dataset.codeId);
    const label = labelOf(item);
    enqueue(async () => {
      try {
        const code = await send("PATCH", `/api/v1/codes/${codeId}`, { archived }, msg.msgFailed);
        const current = itemOf(codeId);
        if (current) {
          fillItem(current, code);
          afterStructureChange(bookId);
        }
        saved(bookId, current, format(archived ? msg.msgArchived : msg.msgUnarchived, { label }));
      } catch (error) {
        await refused(bookId, codeId, error);
      }
    });
  }

  function remove(item, force) {
    const label = labelOf(item);
    const count = item.querySelectorAll("li.code-item").length;
    const question = force
      ? format(msg.msgConfirmForce, { label })
      : format(count ? msg.msgConfirmDeleteChildren : msg.msgConfirmDelete, { label, count });
    if (!window.confirm(question)) return;
    const bookId = bookIdOf(item);
    const codeId = Number(item.dataset.codeId);
    enqueue(async () => {
      try {
        await send("DELETE", `/api/v1/codes/${codeId}${force ? "?force=true" : ""}`, null, msg.msgFailed);
        const current = itemOf(codeId);
        const next = current?.nextElementSibling || current?.previousElementSibling;
        const parent = current?.parentElement.closest("li.code-item");
        current?.remove();
        afterStructureChange(bookId);
        // Keep the keyboard user's place: the next code, or the add field.
        const focus = next || parent;
        if (focus) focus.querySelector(":scope > .code-row .code-label").focus();
        else panelOf(bookId).querySelector(":scope > form[data-add-form] input").focus();
        saved(bookId, null, format(msg.msgDeleted, { label }));
      } catch (error) {
        await refused(bookId, codeId, error, error.status === 409);
      }
    });
  }

  // --- Events, delegated from the editor ---

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || button.getAttribute("aria-disabled") === "true") return;
    const item = button.closest("li.code-item");
    const action = button.dataset.action;
    if (["up", "down", "indent", "outdent"].includes(action)) moveBy(item, action);
    else if (action === "add-child") openAddChild(item);
    else if (action === "describe") {
      // Shown on demand, and left open: folding it when it loses the focus would move the
      // rows below under the pointer, between a press and its release.
      const field = item.querySelector(":scope > [data-field=description]");
      field.hidden = false;
      field.focus();
    }
    else if (action === "english") {
      // Both English fields, shown on demand and left open (as the description).
      item.querySelector(":scope > [data-english]").hidden = false;
      fieldOf(item, "description_en").hidden = false;
      fieldOf(item, "label_en").focus();
    }
    else if (action === "close-add") closeAdd(button.closest("form"));
    else if (action === "archive") setArchived(item, !item.classList.contains("archived"));
    else if (action === "archive-instead") {
      clearCodeError(item);
      setArchived(item, true);
    } else if (action === "delete") remove(item, false);
    else if (action === "force-delete") remove(item, true);
  });

  root.addEventListener("change", (event) => {
    if (event.target.matches("[data-field]")) fieldChanged(event.target);
  });

  root.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.matches('[data-field="hotkey"]')) hotkeyKeydown(target, event);
    else if (target.matches('[data-field="label"], [data-field="label_en"]')) {
      if (event.key === "Enter") {
        event.preventDefault();
        fieldChanged(target);
      } else if (event.key === "Escape") {
        target.value = target.dataset.saved;
      }
    } else if (target.matches("form[data-add-form] input") && event.key === "Escape") {
      const form = target.closest("form");
      if (form.closest("li.code-item")) closeAdd(form);
    }
  });

  root.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-add-form]");
    if (!form) return;
    event.preventDefault();
    add(form);
  });

  // Another tab changed a codebook of this study: show the server's state, unless the user
  // is typing in it (their change will be saved, and the tree read again, when they leave).
  const pending = new Set();
  function refreshFromElsewhere(bookId) {
    const active = document.activeElement;
    const typing = active && panelOf(bookId)?.contains(active) && active.matches("input, textarea");
    if (typing) {
      pending.add(bookId);
      return;
    }
    enqueue(async () => {
      await reload(bookId);
      say(msg.msgChangedElsewhere);
    });
  }
  if (channel) {
    channel.addEventListener("message", (event) => {
      const data = event.data || {};
      if (data.study_id === studyId && panelOf(data.codebook_id)) refreshFromElsewhere(data.codebook_id);
    });
  }
  root.addEventListener("focusout", () => {
    // After the change event of the field being left, so its save is queued first.
    setTimeout(() => {
      for (const bookId of pending) {
        pending.delete(bookId);
        refreshFromElsewhere(bookId);
      }
    });
  });

  for (const panel of root.querySelectorAll("[data-book-panel]")) afterStructureChange(Number(panel.dataset.bookPanel));
}

const editor = document.querySelector("[data-codebook-editor]");
if (editor) {
  setupTabs(editor);
  if (editor.dataset.canEdit === "true") setupEditor(editor);
}
