// What a live session's screen shows besides the player, drawn from the server's messages
// (live.js dispatches them as `live:message`, and binds this first): the stops (with their
// comments and the form to type them: a researcher, any comment; the counsellor, their own
// words), the agenda of prepared moments with their statuses, and
// who is connected. Comments are sent over HTTP with the version they were read at: a
// comment changed by someone else in the meantime is shown, never overwritten.

import { sendJSON } from "./api.js";
import { timecode } from "./format.js";

const LEAVE_NOTICE_MS = 60000;

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(document.documentElement.lang || "fr", {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

function pause(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
}

/** Draw the log of the live session `root` from its messages; live.js calls it before it
 * connects, so that no message comes before this listens. */
export function bindLog(root) {
  const list = root.querySelector("[data-live-stops]");
  const empty = root.querySelector("[data-live-stops-empty]");
  const count = root.querySelector("[data-live-stop-count]");
  const agendaList = root.querySelector("[data-live-agenda]");
  const agendaEmpty = root.querySelector("[data-live-agenda-empty]");
  const presence = root.querySelector("[data-live-presence]");
  const researcher = root.dataset.role === "researcher";
  // A new comment is the typing person's by default: a researcher's note, the counsellor's
  // own words (a researcher may choose the counsellor's words instead).
  const ownSpeaker = researcher ? "researcher" : "counsellor";
  const L = list.dataset;
  const S = agendaList ? agendaList.dataset : {};
  const stops = new Map(); // id -> stop (with comments)
  let agenda = [];
  let userId = null;
  let people = [];
  const drafts = new Map(); // stop id -> {text, speaker}
  const editing = new Map(); // comment id -> {text, version}
  const notices = new Map(); // comment id -> conflict message
  const sending = new Set(); // stop ids whose new comment is on its way
  let leftNotice = null;

  const live = () => root.live;
  const error = (text) => live() && live().showError(text);

  // Labels follow the person (wording.label on the server): the interview's counsellor for
  // the counsellor's, the researcher concerned for a researcher's.
  const wording = JSON.parse(root.dataset.wording || "{}");
  const counsellorGender = root.dataset.counsellorGender || "";
  function word(form, role, gender) {
    const byGender = (wording[form] || {})[role];
    if (!byGender) return role;
    return byGender[gender || ""] || byGender[""];
  }
  function roleWord(form, role, researcherGender) {
    return word(form, role, role === "counsellor" ? counsellorGender : researcherGender);
  }

  // --- presence ---------------------------------------------------------------------------
  function drawPresence() {
    const P = presence.dataset;
    const others = people.filter((p) => p.user_id !== userId);
    const names = people.map((p) => `${p.name} (${word("noun", p.role, p.gender)})`);
    const parts = [el("span", { text: `${P.msgHere} ${names.join(" · ")}` })];
    if (!others.length) parts.push(el("span", { class: "muted", text: ` — ${P.msgAlone}` }));
    if (leftNotice) parts.push(el("strong", { class: "warn", "data-live-left": true, text: ` ${leftNotice}` }));
    presence.replaceChildren(...parts);
    presence.dataset.count = String(people.length);
  }

  function updatePresence(next) {
    const now = new Set(next.map((p) => p.user_id));
    const gone = people.filter((p) => !now.has(p.user_id) && p.user_id !== userId);
    if (gone.length) {
      leftNotice = presence.dataset.msgLeft.replace("{name}", gone.map((p) => p.name).join(", "));
      setTimeout(() => {
        leftNotice = null;
        drawPresence();
      }, LEAVE_NOTICE_MS);
    }
    if (next.some((p) => p.user_id !== userId && !people.some((q) => q.user_id === p.user_id))) {
      leftNotice = null; // they are back
    }
    people = next;
    drawPresence();
  }

  // --- stops ------------------------------------------------------------------------------
  // Who said a comment: the counsellor's words, or the note of the researcher who wrote it
  // (in the comment box: the one typing).
  function speakerLabel(speaker, researcherGender) {
    return roleWord("said", speaker, researcherGender);
  }

  function commentItem(stop, comment) {
    const edit = editing.get(comment.id);
    const item = el("li", { class: `comment comment-${comment.speaker}`, "data-comment-id": comment.id });
    if (edit) {
      const area = el("textarea", { rows: 2, "data-edit-text": true, "aria-label": L.labelEdit });
      area.value = edit.text;
      area.addEventListener("input", () => (edit.text = area.value));
      const save = el("button", { type: "button", text: L.labelSave });
      const cancel = el("button", { type: "button", class: "secondary", text: L.labelCancel });
      save.addEventListener("click", () => saveEdit(stop, comment, area.value));
      cancel.addEventListener("click", () => {
        editing.delete(comment.id);
        notices.delete(comment.id);
        drawStop(stop.id);
      });
      item.append(area, el("span", { class: "comment-actions" }, save, cancel));
    } else {
      item.append(
        el("span", { class: "speaker", text: `${speakerLabel(comment.speaker, comment.author_gender)} :` }),
        " ",
        el("span", { class: "comment-text", text: comment.text }),
        el("small", { class: "muted", text: ` — ${comment.author}, ${clock(comment.said_at)}${comment.version > 1 ? ` · ${L.labelEdited}` : ""}` }),
      );
      if (researcher || comment.author_id === userId) {
        const change = el("button", { type: "button", class: "link-button", text: L.labelEdit });
        change.addEventListener("click", () => {
          editing.set(comment.id, { text: comment.text, version: comment.version });
          drawStop(stop.id);
          const area = list.querySelector(`[data-comment-id="${comment.id}"] textarea`);
          if (area) area.focus();
        });
        const remove = el("button", { type: "button", class: "link-button", text: L.labelDelete });
        remove.addEventListener("click", () => removeComment(stop, comment));
        item.append(el("span", { class: "comment-actions" }, change, remove));
      }
    }
    const notice = notices.get(comment.id);
    if (notice) item.append(el("p", { class: "error", role: "alert", text: notice }));
    return item;
  }

  function stopItem(stop) {
    const who = roleWord("stop", stop.role, stop.author_gender);
    const by = stop.author_id === userId ? L.labelYou : stop.author;
    const time = el("button", { type: "button", class: "time-link", title: L.labelSeek, text: timecode(stop.position_ms / 1000) });
    time.addEventListener("click", () => live() && live().seek(stop.position_ms));
    const paused = stop.pause_ms == null ? L.labelOngoing : pause(stop.pause_ms);
    const head = el(
      "p",
      { class: "stop-head" },
      time,
      el("strong", { class: `stop-by stop-by-${stop.role}`, text: ` ${who}` }),
      el("span", { text: ` ${L.labelBy} ${by}` }),
      el("small", { class: "muted", text: ` · ${clock(stop.stopped_at)} · ${L.labelPause} ${paused}` }),
    );
    const item = el("li", { class: "stop", "data-stop-id": stop.id, "data-role": stop.role }, head);
    if (!researcher) {
      // The counsellor: what was said as theirs, and a box for their own words.
      const comments = el("ul", { class: "comments" });
      for (const comment of stop.comments) comments.append(commentItem(stop, comment));
      item.append(comments, commentForm(stop));
      return item;
    }
    // Which prepared moment it answers.
    const answers = el("select", { "data-stop-answers": true, "aria-label": L.labelAnswers });
    answers.append(el("option", { value: "", text: L.labelLiveAdded }));
    for (const moment of agenda) {
      const option = el("option", { value: moment.prepared_id, text: `${timecode(moment.position_ms / 1000)} — ${moment.note || moment.labels.join(", ")}` });
      if (moment.prepared_id === stop.prepared_id) option.selected = true;
      answers.append(option);
    }
    answers.addEventListener("change", async () => {
      const value = answers.value ? Number(answers.value) : null;
      const result = await request("PATCH", `/api/v1/live/stops/${stop.id}`, { prepared_id: value });
      if (result && result.ok) {
        stops.get(stop.id).prepared_id = result.data.prepared_id;
        drawStop(stop.id);
        drawAgenda();
      }
    });
    item.append(el("label", { class: "stop-answers" }, el("span", { text: `${L.labelAnswers} ` }), answers));
    const comments = el("ul", { class: "comments" });
    for (const comment of stop.comments) comments.append(commentItem(stop, comment));
    item.append(comments, commentForm(stop));
    return item;
  }

  function commentForm(stop) {
    const draft = drafts.get(stop.id) || { text: "", speaker: ownSpeaker };
    const form = el("form", { class: "comment-form", "data-comment-form": true });
    const area = el("textarea", { rows: 2, name: "text", placeholder: L.labelPlaceholder, "aria-label": L.labelPlaceholder });
    area.value = draft.text;
    const speakers = el("span", { class: "speakers", role: "radiogroup" });
    // A counsellor types their own words only: no choice of speaker.
    for (const speaker of researcher ? ["researcher", "counsellor"] : []) {
      const input = el("input", { type: "radio", name: `speaker-${stop.id}`, value: speaker, checked: draft.speaker === speaker });
      input.addEventListener("change", () => {
        draft.speaker = speaker;
        drafts.set(stop.id, draft);
      });
      speakers.append(el("label", {}, input, ` ${speakerLabel(speaker, root.dataset.userGender)}`));
    }
    area.addEventListener("input", () => {
      draft.text = area.value;
      drafts.set(stop.id, draft);
    });
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const sent = area.value;
      const text = sent.trim();
      if (!text || sending.has(stop.id)) return; // Enter pressed again while it goes
      sending.add(stop.id);
      let result;
      try {
        result = await request("POST", `/api/v1/live/stops/${stop.id}/comments`, { speaker: draft.speaker, text });
      } finally {
        sending.delete(stop.id);
      }
      if (result && result.ok) {
        // What was typed meanwhile stays in the box.
        const now = (drafts.get(stop.id) || draft).text;
        const rest = now.startsWith(sent) ? now.slice(sent.length).trimStart() : now;
        drafts.set(stop.id, { text: rest, speaker: draft.speaker });
        addComment(result.data);
      }
    });
    form.append(area, speakers, el("button", { type: "submit", text: L.labelAdd }));
    return form;
  }

  async function request(method, url, body) {
    try {
      const result = await sendJSON(method, url, body, L.labelOffline);
      if (!result.ok && result.status !== 409) error(result.detail);
      else error("");
      return result;
    } catch (problem) {
      error(problem.message);
      return null;
    }
  }

  async function saveEdit(stop, comment, text) {
    const edit = editing.get(comment.id);
    const result = await request("PATCH", `/api/v1/live/comments/${comment.id}`, { version: edit.version, text });
    if (!result) return;
    if (result.ok) {
      editing.delete(comment.id);
      notices.delete(comment.id);
      addComment(result.data);
    } else if (result.status === 409) {
      // Theirs is shown; ours stays in the box, based on theirs now.
      notices.set(comment.id, L.labelConflict);
      if (result.data && result.data.current) {
        edit.version = result.data.current.version;
        addComment(result.data.current);
      } else {
        keepAsDraft(stop.id, comment.id);
        removeFromStop(stop.id, comment.id);
      }
      drawStop(stop.id);
    }
  }

  async function removeComment(stop, comment) {
    const result = await request("DELETE", `/api/v1/live/comments/${comment.id}?version=${comment.version}`);
    if (!result) return;
    if (result.ok) removeFromStop(stop.id, comment.id);
    else if (result.status === 409) {
      notices.set(comment.id, L.labelConflict);
      if (result.data && result.data.current) addComment(result.data.current);
      drawStop(stop.id);
    }
  }

  // Redraw with `draw`, keeping the caret where the user is typing (a comment box or an
  // edit): an event arriving meanwhile must not take the text box away.
  function keepingFocus(draw) {
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const textBox = focused && focused.matches("textarea") ? focused : null;
    const stopBox = textBox && textBox.closest("[data-stop-id]");
    const commentBox = textBox && textBox.closest("[data-comment-id]");
    const caret = textBox ? textBox.selectionStart : null;
    draw();
    if (!stopBox) return;
    const scope = list.querySelector(`[data-stop-id="${stopBox.dataset.stopId}"]`);
    const inner = commentBox ? `[data-comment-id="${commentBox.dataset.commentId}"] textarea` : "[data-comment-form] textarea";
    const again = scope && scope.querySelector(inner);
    if (!again) return;
    again.focus({ preventScroll: true });
    again.setSelectionRange(caret, caret);
  }

  function drawStop(id) {
    keepingFocus(() => {
      const item = stopItem(stops.get(id));
      const old = list.querySelector(`[data-stop-id="${id}"]`);
      if (old) old.replaceWith(item);
      else list.prepend(item);
    });
  }

  function drawStops() {
    keepingFocus(() => list.replaceChildren(...[...stops.values()].reverse().map(stopItem)));
    counts();
  }

  function counts() {
    empty.hidden = stops.size > 0;
    count.textContent = stops.size ? String(stops.size) : "";
  }

  function upsertStop(stop) {
    const known = stops.get(stop.id);
    const fresh = !known;
    stops.set(stop.id, { ...known, ...stop });
    drawStop(stop.id);
    counts();
    drawAgenda();
    // A new stop: the researcher types there, unless already typing elsewhere.
    if (fresh && researcher) {
      const active = document.activeElement;
      if (!active || active === document.body || active.matches("[data-live-stop], video, audio")) {
        const area = list.querySelector(`[data-stop-id="${stop.id}"] [data-comment-form] textarea`);
        if (area) area.focus({ preventScroll: true });
      }
    }
  }

  function addComment(comment) {
    const stop = stops.get(comment.stop_id);
    if (!stop) return;
    const index = stop.comments.findIndex((c) => c.id === comment.id);
    if (index < 0) stop.comments.push(comment);
    else if (stop.comments[index].version <= comment.version) stop.comments[index] = comment;
    drawStop(stop.id);
  }

  // An edit whose comment is gone: its text goes to the stop's box, not away.
  function keepAsDraft(stopId, commentId) {
    const edit = editing.get(commentId);
    if (!edit || !edit.text.trim()) return;
    const draft = drafts.get(stopId) || { text: "", speaker: ownSpeaker };
    draft.text = draft.text ? `${draft.text}\n${edit.text}` : edit.text;
    drafts.set(stopId, draft);
    error(L.labelGone);
  }

  function removeFromStop(stopId, commentId) {
    const stop = stops.get(stopId);
    if (!stop) return;
    stop.comments = stop.comments.filter((c) => c.id !== commentId);
    editing.delete(commentId);
    drawStop(stopId);
  }

  // --- agenda -----------------------------------------------------------------------------
  function drawAgenda() {
    if (!agendaList) return;
    // The counsellor's list is their own prepared moments, without statuses.
    const added = researcher ? [...stops.values()].filter((s) => s.prepared_id == null) : [];
    const rows = [
      ...agenda.map((m) => ({ ...m, kind: "prepared" })),
      ...added.map((s) => ({ kind: "live", position_ms: s.position_ms, stop: s })),
    ].sort((a, b) => a.position_ms - b.position_ms);
    agendaEmpty.hidden = rows.length > 0;
    agendaList.replaceChildren(
      ...rows.map((row) => {
        const go = el("button", { type: "button", class: "time-link", title: S.labelGo, text: timecode(row.position_ms / 1000) });
        if (row.kind === "live") {
          go.addEventListener("click", () => live() && live().seek(row.position_ms));
          return el("li", { class: "agenda-item status-live", "data-status": "live" }, go, el("span", { class: "status", text: S.labelLiveAdded }));
        }
        go.addEventListener("click", () => live() && live().send("goto", { prepared_id: row.prepared_id }));
        if (!researcher) {
          return el("li", { class: "agenda-item", "data-prepared-id": row.prepared_id }, go, el("span", { class: "agenda-note", text: row.note || row.labels.join(", ") }));
        }
        const select = el("select", { "aria-label": S.labelStatus, "data-agenda-status": true });
        for (const status of ["planned", "brought_up", "discussed", "skipped"]) {
          select.append(el("option", { value: status, text: S[`status${status[0].toUpperCase()}${status.slice(1)}`], selected: row.status === status }));
        }
        select.addEventListener("change", async () => {
          const result = await request("PUT", `/api/v1/live/${root.dataset.sessionId}/agenda/${row.prepared_id}`, { status: select.value });
          if (result && result.ok) setStatus(row.prepared_id, select.value);
        });
        return el(
          "li",
          { class: `agenda-item status-${row.status}`, "data-prepared-id": row.prepared_id, "data-status": row.status },
          go,
          el("span", { class: "agenda-note", text: row.note || row.labels.join(", ") }),
          el("small", { class: "muted", text: ` — ${row.author}${row.note && row.labels.length ? ` · ${row.labels.join(", ")}` : ""}` }),
          select,
        );
      }),
    );
  }

  function setStatus(preparedId, status) {
    const item = agenda.find((m) => m.prepared_id === preparedId);
    if (item) item.status = status;
    drawAgenda();
  }

  // --- messages ---------------------------------------------------------------------------
  root.addEventListener("live:message", (event) => {
    const message = event.detail;
    switch (message.type) {
      case "state":
        userId = message.user_id;
        stops.clear();
        for (const stop of message.log.stops) stops.set(stop.id, stop);
        agenda = message.log.agenda || [];
        drawStops();
        drawAgenda();
        updatePresence(message.log.presence);
        break;
      case "stop":
      case "stop_edit":
        upsertStop(message.stop);
        break;
      case "play":
      case "end":
        for (const id of message.resumed || []) {
          const stop = stops.get(id);
          if (stop && !stop.resumed_at) {
            stop.resumed_at = message.at;
            stop.pause_ms = Date.parse(message.at) - Date.parse(stop.stopped_at);
            drawStop(id);
          }
        }
        break;
      case "comment":
        addComment(message.comment);
        break;
      case "comment_deleted":
        keepAsDraft(message.comment_deleted.stop_id, message.comment_deleted.id);
        removeFromStop(message.comment_deleted.stop_id, message.comment_deleted.id);
        break;
      case "stop_deleted":
        stops.delete(message.stop_deleted.id);
        drawStops();
        drawAgenda();
        break;
      case "presence":
        updatePresence(message.presence);
        break;
      default:
        break;
    }
    if (message.agenda) setStatus(message.agenda.prepared_id, message.agenda.status);
  });
}
