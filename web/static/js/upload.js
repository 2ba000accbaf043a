// Resumable upload of a recording (tus protocol, vendored tus-js-client loaded before this
// module as the global `tus`). Enhances <form data-tus-endpoint>; without JavaScript, or
// without tus support, the same form posts the file in one multipart request.
//
// A 2 GB session over a bad connection: chunks are retried on their own, a longer cut
// waits for the network and carries on, and after a reload choosing the same file again
// (same situation code) resumes where the server stopped.

import { detailOf, tokenHeaders } from "./api.js";
import { fileSize, fill, percent, roughDuration } from "./format.js";

const HASH_SLICE = 16 * 1024 * 1024;
const DEFAULT_CHUNK = 8 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
// Client errors that another try cannot fix; 409 (offset mismatch), 423 (locked) and 429
// (too many requests) are retried like network and server errors. A 409 that refuses the
// creation itself (the situation code is taken) is final.
const RETRIED_CLIENT_ERRORS = new Set([409, 423, 429]);
const RECONNECT_DELAY = 30000;
const SPEED_WINDOW = 20000;

function statusOf(error) {
  return error && error.originalResponse ? error.originalResponse.getStatus() : 0;
}

function isFinal(error) {
  const status = statusOf(error);
  if (status < 400 || status >= 500) return false;
  const creating = error.originalRequest && error.originalRequest.getMethod() === "POST";
  return !RETRIED_CLIENT_ERRORS.has(status) || (status === 409 && creating);
}

/** Bytes per millisecond over the last seconds, or null until there is enough to say. */
class Speedometer {
  constructor() {
    this.samples = [];
  }

  reset() {
    this.samples = [];
  }

  add(bytes) {
    const now = performance.now();
    const last = this.samples[this.samples.length - 1];
    if (last && bytes < last.bytes) this.samples = []; // a chunk is being sent again
    this.samples.push({ now, bytes });
    while (this.samples.length > 2 && now - this.samples[0].now > SPEED_WINDOW) this.samples.shift();
  }

  perMs() {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const elapsed = last.now - first.now;
    if (elapsed < 3000 || last.bytes <= first.bytes) return null;
    return (last.bytes - first.bytes) / elapsed;
  }
}

function bind(form) {
  const tus = window.tus;
  const panel = form.querySelector("[data-upload-panel]");
  if (!tus || !tus.isSupported || !panel) return;

  const text = panel.dataset;
  const fileInput = form.elements.namedItem("file");
  const submit = form.querySelector("[type=submit]");
  const message = panel.querySelector("[data-upload-message]");
  const meter = panel.querySelector("[data-upload-meter]");
  const bar = panel.querySelector("[data-upload-bar]");
  const shownPercent = panel.querySelector("[data-upload-percent]");
  const bytes = panel.querySelector("[data-upload-bytes]");
  const eta = panel.querySelector("[data-upload-eta]");
  const errorBox = panel.querySelector("[data-upload-error]");
  const pauseButton = panel.querySelector("[data-upload-pause]");
  const cancelButton = panel.querySelector("[data-upload-cancel]");
  const endpoint = new URL(form.dataset.tusEndpoint, document.baseURI).href;
  const speed = new Speedometer();

  let upload = null;
  let state = "idle"; // idle | uploading | paused | waiting | done | failed
  let resuming = false; // the next progress tells how far the interrupted upload had gone
  let unsteady = false; // a retry notice is shown until a chunk gets through
  let reconnectTimer = null;

  for (const hint of form.querySelectorAll("[data-upload-hint]")) hint.hidden = false;

  function say(line) {
    message.textContent = line;
  }

  function showError(line) {
    errorBox.textContent = line;
    errorBox.hidden = !line;
  }

  function setState(next) {
    state = next;
    const busy = next === "uploading" || next === "paused" || next === "waiting";
    submit.disabled = busy || next === "done";
    fileInput.disabled = busy || next === "done";
    pauseButton.hidden = !busy;
    cancelButton.hidden = !busy;
    pauseButton.textContent = next === "uploading" ? text.labelPause : text.labelResume;
    if (next !== "uploading") eta.textContent = "";
    if (next !== "waiting") clearTimeout(reconnectTimer);
  }

  function showProgress(sent, total) {
    const share = total ? (sent / total) * 100 : 0;
    bar.value = share;
    shownPercent.textContent = percent(share);
    bytes.textContent = fill(text.msgBytes, { sent: fileSize(sent), total: fileSize(total) });
    speed.add(sent);
    const perMs = speed.perMs();
    eta.textContent = perMs ? fill(text.msgEta, { time: roughDuration((total - sent) / perMs / 1000) }) : "";
  }

  function keepPage(event) {
    event.preventDefault();
    event.returnValue = ""; // older Chromium asks for it
  }

  function resume() {
    clearTimeout(reconnectTimer);
    showError("");
    speed.reset();
    say(fill(text.msgSending, { name: upload.file.name }));
    setState("uploading");
    upload.start();
  }

  function waitForNetwork(error) {
    setState("waiting");
    const status = statusOf(error);
    const reason = status ? detailOf(error.originalResponse.getBody(), `${text.msgFailed} (${status})`) : "";
    say(text.msgWaiting);
    showError(reason);
    reconnectTimer = setTimeout(resume, RECONNECT_DELAY);
  }

  function fail(error) {
    const status = statusOf(error);
    const body = status ? error.originalResponse.getBody() : "";
    setState("failed");
    window.removeEventListener("beforeunload", keepPage);
    say("");
    meter.hidden = !(bar.value > 0); // refused before any byte: the message alone says it
    showError(detailOf(body, status ? `${text.msgFailed} (${status})` : text.msgFailed));
  }

  function metadataOf(file) {
    const metadata = {
      filename: file.name,
      filetype: file.type || "application/octet-stream",
      study_id: form.dataset.studyId,
      code: form.elements.namedItem("code").value.trim(),
    };
    const counsellor = form.elements.namedItem("counsellor_id");
    if (counsellor && counsellor.value) metadata.counsellor_id = counsellor.value;
    const interview = form.elements.namedItem("interview");
    if (interview && interview.value === "new") {
      metadata.interview_code = form.elements.namedItem("interview_code").value.trim();
    } else if (interview && interview.value) {
      metadata.interview_id = interview.value;
    }
    return metadata;
  }

  function sameTarget(previous, metadata) {
    const before = previous.metadata || {};
    return ["study_id", "code", "counsellor_id", "interview_id", "interview_code"].every((key) => (before[key] || "") === (metadata[key] || ""));
  }

  async function begin() {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    const metadata = metadataOf(file);
    const chunkSize = Number.parseInt(form.dataset.chunkSize, 10) || DEFAULT_CHUNK;
    showError("");
    panel.hidden = false;
    meter.hidden = false;
    bar.value = 0;
    shownPercent.textContent = percent(0);
    bytes.textContent = fill(text.msgBytes, { sent: fileSize(0), total: fileSize(file.size) });
    speed.reset();
    resuming = false;

    upload = new tus.Upload(file, {
      endpoint,
      metadata,
      headers: tokenHeaders(),
      chunkSize,
      retryDelays: RETRY_DELAYS,
      removeFingerprintOnSuccess: true,
      storeFingerprintForResuming: true,
      onShouldRetry(error) {
        if (isFinal(error)) return false;
        say(text.msgRetrying);
        unsteady = true;
        return true;
      },
      onProgress(sent, total) {
        if (resuming) {
          resuming = false;
          if (sent > 0) say(fill(text.msgResume, { percent: percent((sent / total) * 100) }));
        }
        showProgress(sent, total);
      },
      onChunkComplete() {
        if (unsteady && state === "uploading") say(fill(text.msgSending, { name: file.name }));
        unsteady = false;
      },
      onError(error) {
        if (state !== "uploading") return; // paused or cancelled meanwhile
        if (isFinal(error)) fail(error);
        else waitForNetwork(error);
      },
      onSuccess(payload) {
        setState("done");
        window.removeEventListener("beforeunload", keepPage);
        bar.value = 100;
        shownPercent.textContent = percent(100);
        say(text.msgDone);
        const id = payload && payload.lastResponse ? payload.lastResponse.getHeader("X-Recording-Id") : null;
        if (id && /^\d+$/.test(id.trim())) window.location.assign(`/recordings/${id.trim()}`);
        else window.location.reload();
      },
    });

    setState("uploading");
    say(fill(text.msgSending, { name: file.name }));
    window.addEventListener("beforeunload", keepPage);
    try {
      const previous = (await upload.findPreviousUploads())
        .filter((candidate) => sameTarget(candidate, metadata))
        .sort((a, b) => String(b.creationTime).localeCompare(String(a.creationTime)));
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        resuming = true;
      }
    } catch {
      // No readable URL storage (private browsing): a fresh upload still works.
    }
    if (!resuming && state === "uploading") {
      const sha256 = await fingerprint(file);
      if (sha256) metadata.sha256 = sha256; // the server checks the bytes it received
    }
    if (state === "uploading") upload.start();
  }

  // The file's SHA-256, read in slices (constant memory) with hash-wasm; null when the
  // library is missing or the upload was cancelled meanwhile.
  async function fingerprint(file) {
    if (!window.hashwasm) return null;
    say(fill(text.msgHashing, { name: file.name }));
    const hasher = await window.hashwasm.createSHA256();
    hasher.init();
    for (let start = 0; start < file.size; start += HASH_SLICE) {
      if (state !== "uploading") return null;
      const slice = await file.slice(start, start + HASH_SLICE).arrayBuffer();
      hasher.update(new Uint8Array(slice));
      const done = Math.min(file.size, start + HASH_SLICE);
      shownPercent.textContent = percent((done / file.size) * 100);
      bar.value = (done / file.size) * 100;
    }
    bar.value = 0;
    shownPercent.textContent = percent(0);
    say(fill(text.msgSending, { name: file.name }));
    return hasher.digest("hex");
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (state === "uploading" || state === "paused" || state === "waiting" || state === "done") return;
    begin();
  });

  pauseButton.addEventListener("click", () => {
    if (!upload) return;
    if (state === "uploading") {
      setState("paused");
      upload.abort();
      say(text.msgPaused);
    } else {
      resume();
    }
  });

  cancelButton.addEventListener("click", async () => {
    if (!upload || !window.confirm(text.msgConfirmCancel)) return;
    const cancelled = upload;
    setState("idle");
    window.removeEventListener("beforeunload", keepPage);
    say(text.msgCancelled);
    showError("");
    try {
      await cancelled.abort(true);
    } catch {
      // The server forgets unfinished uploads on its own; nothing left to do here.
    }
  });

  window.addEventListener("online", () => {
    if (state === "waiting") resume();
  });
}

/** The interview choice follows the counsellor: only their interviews are offered, and a
 * new interview's code field shows (with a suggestion) only when one is to be created. */
function followInterview(form) {
  const counsellor = form.querySelector("[data-upload-counsellor]");
  const interview = form.querySelector("[data-upload-interview]");
  const codeLabel = form.querySelector("[data-upload-interview-code]");
  if (!counsellor || !interview || !codeLabel) return;
  const codeInput = codeLabel.querySelector("input");
  let suggested = "";
  const update = () => {
    for (const option of interview.querySelectorAll("option[data-counsellor]")) {
      option.hidden = option.dataset.counsellor !== counsellor.value;
      if (option.hidden && option.selected) interview.value = "";
    }
    const creating = interview.value === "new";
    codeLabel.hidden = !creating;
    codeInput.required = creating;
    const chosen = counsellor.selectedOptions[0];
    const suggestion = counsellor.value && chosen ? `E-${chosen.textContent.trim()}` : "";
    if (creating && (!codeInput.value || codeInput.value === suggested)) codeInput.value = suggestion;
    suggested = suggestion;
  };
  counsellor.addEventListener("change", update);
  interview.addEventListener("change", update);
  update();
}

for (const form of document.querySelectorAll("form[data-tus-endpoint]")) {
  followInterview(form);
  bind(form);
}
