// The live session's player (<div data-live data-session-id>): one playhead shared by every
// screen through the server's WebSocket. What this screen does to the player (play, pause,
// seek, speed; the keys and the native controls included) is sent; what the server says is
// applied. Between messages the playhead is kept where it should be (corrected when it
// drifts more than 250 ms). The connection comes back by itself after a drop or a restart.
//
// "Arrêter ici" (and the space bar) stops everyone and records the stop; pressed again, it
// plays on. Every server message is also dispatched on the root as a `live:message` event
// (live-log.js draws the stops, the agenda and who is connected from them), and
// `root.live.send(type, extra)` sends one.

import { bindLog } from "./live-log.js";

const DRIFT_MS = 250;
const QUIET_MS = 400; // changes made by applying the server's state are not sent back
const PLAYHEAD = new Set(["state", "play", "pause", "seek", "rate", "switch", "stop", "end"]);

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select"));
}

function bind(root) {
  const media = root.querySelector("[data-player-media]");
  const status = root.querySelector("[data-live-status]");
  const stop = root.querySelector("[data-live-stop]");
  const switcher = root.querySelector("[data-live-switch]");
  const error = root.querySelector("[data-live-error]");
  if (!media) return;
  const sessionId = root.dataset.sessionId;
  const recordings = JSON.parse(root.dataset.recordings || "[]");
  let recordingId = Number(switcher ? switcher.value : recordings[0] && recordings[0].id);
  let socket = null;
  let seq = -1;
  let anchor = null; // {position_ms, playing, rate, at: performance.now()}
  let quietUntil = 0;
  let retry = 500;
  let ended = false;

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    root.dataset.connection = state;
  }

  function showError(text) {
    if (!error) return;
    error.textContent = text || "";
    error.hidden = !text;
  }

  function expected() {
    if (!anchor) return null;
    if (!anchor.playing) return anchor.position_ms;
    return anchor.position_ms + (performance.now() - anchor.at) * anchor.rate;
  }

  function showStopButton() {
    if (!stop) return;
    const stopped = anchor ? !anchor.playing : media.paused;
    stop.textContent = stopped ? root.dataset.msgResume : root.dataset.msgStop;
    stop.classList.toggle("resume", stopped);
    stop.disabled = ended;
  }

  // Another recording of the interview: its media, then the playhead once it can seek.
  function switchTo(id) {
    const target = recordings.find((r) => r.id === id);
    if (!target) return;
    recordingId = id;
    if (switcher) switcher.value = String(id);
    const code = root.querySelector("[data-live-recording-code]");
    if (code) code.textContent = target.code;
    quietUntil = performance.now() + 5000;
    media.addEventListener(
      "loadedmetadata",
      () => {
        quietUntil = 0;
        sync();
      },
      { once: true },
    );
    media.src = target.media_url;
    if (target.poster_url) media.poster = target.poster_url;
  }

  function apply(message) {
    if (typeof message.seq === "number" && message.seq <= seq) return; // already applied
    seq = message.seq;
    if (message.ended) ended = true;
    const position = message.type === "state" ? message.now_ms : message.position_ms;
    anchor = { position_ms: position, playing: message.playing, rate: message.rate, at: performance.now() };
    root.dataset.seq = String(seq);
    root.dataset.playing = String(message.playing);
    showStopButton();
    if (message.recording_id && message.recording_id !== recordingId) switchTo(message.recording_id);
    else sync();
  }

  // Bring the player to the shared playhead.
  function sync() {
    const position = expected();
    const rate = media.playbackRate !== anchor.rate;
    // Our own change coming back is already here: nothing to do, and nothing to silence
    // (the user's next action must still be sent).
    // Paused, both screens show the same frame; playing, a small difference is left to the
    // drift correction rather than a visible jump.
    const seek = Math.abs(media.currentTime * 1000 - position) > (anchor.playing ? DRIFT_MS : 50);
    const play = anchor.playing && media.paused;
    const pause = !anchor.playing && !media.paused;
    if (rate || seek || play || pause) quietUntil = performance.now() + QUIET_MS;
    if (rate) {
      media.defaultPlaybackRate = anchor.rate;
      media.playbackRate = anchor.rate;
    }
    if (seek) media.currentTime = position / 1000;
    if (play) media.play().catch(() => {});
    if (pause) media.pause();
  }

  function send(type, extra = {}) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify({ type, position_ms: Math.round(media.currentTime * 1000), ...extra }));
    return true;
  }

  function mine() {
    return performance.now() > quietUntil;
  }

  media.addEventListener("play", () => mine() && send("play"));
  media.addEventListener("pause", () => mine() && !media.ended && send("pause"));
  media.addEventListener("seeked", () => mine() && send("seek"));
  media.addEventListener("ratechange", () => mine() && send("rate", { rate: media.playbackRate }));

  // Stop here, or play on: the same button and the same key.
  function stopOrResume() {
    if (ended) return;
    const stopped = anchor ? !anchor.playing : media.paused;
    // Sent here, not left to the media's event: an event right after a change from the
    // server falls in the quiet window.
    quietUntil = performance.now() + QUIET_MS;
    if (stopped) {
      media.play().catch(() => {});
      send("play");
      return;
    }
    media.pause(); // the stop is the message, not a pause
    send("stop");
  }
  if (stop) stop.addEventListener("click", stopOrResume);
  // Before the player's own shortcuts (capture): Space is "stop here" on this page.
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== " " || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (event.target instanceof HTMLElement && event.target.closest("button, a, summary")) {
        if (event.target !== stop) return; // Space on a focused button presses that button
      }
      event.preventDefault();
      event.stopPropagation();
      if (event.target !== stop) stopOrResume();
      else stop.click();
    },
    true,
  );
  if (switcher) {
    switcher.addEventListener("change", () => send("switch", { recording_id: Number(switcher.value), position_ms: 0 }));
  }

  // Keep this screen on the shared playhead.
  setInterval(() => {
    const target = expected();
    if (target == null || media.seeking || performance.now() < quietUntil) return;
    const drift = media.currentTime * 1000 - target;
    root.dataset.drift = String(Math.round(drift));
    if (Math.abs(drift) > DRIFT_MS) {
      quietUntil = performance.now() + QUIET_MS;
      media.currentTime = target / 1000;
    }
  }, 500);

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/live/${sessionId}/ws`);
    say("connecting", root.dataset.msgConnecting);
    socket.addEventListener("open", () => {
      retry = 500;
      say("open", root.dataset.msgConnected);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "error") {
        showError(message.detail);
        return;
      }
      if (PLAYHEAD.has(message.type)) {
        showError("");
        apply(message);
      }
      if (ended) say("ended", root.dataset.msgEnded);
      root.dispatchEvent(new CustomEvent("live:message", { detail: message }));
    });
    socket.addEventListener("close", () => {
      say("lost", root.dataset.msgLost);
      setTimeout(connect, retry);
      retry = Math.min(5000, retry * 2);
    });
  }

  root.live = {
    send,
    role: root.dataset.role,
    seek(positionMs) {
      media.currentTime = positionMs / 1000; // sent as a seek
    },
    showError,
  };
  showStopButton();
  bindLog(root);
  connect();
}

for (const root of document.querySelectorAll("[data-live]")) bind(root);
