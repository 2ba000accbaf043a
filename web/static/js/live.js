// The live session's player (<div data-live data-session-id>): one playhead shared by every
// screen through the server's WebSocket. What this screen does to the player (play, pause,
// seek, speed; the keys and the native controls included) is sent; what the server says is
// applied. Between messages the player is kept on the shared playhead (put back when it
// drifts more than 250 ms, played or paused when it should be). The connection comes back
// by itself after a drop or a restart.
//
// "Arrêter ici" (and the space bar) stops everyone and records the stop; pressed again, it
// plays on ("Reprendre la lecture"; "Lecture" before the session ever played). Every server
// message is also dispatched on the root as a `live:message` event (live-log.js draws the
// stops, the agenda and who is connected from them), and `root.live.send(type, extra)` sends
// one.
//
// Two rules keep the user's own actions: the media events that applying the server's state
// causes are expected, one by one, and not sent back (any other is the user's); and the
// echo of this screen's own control (marked with its client id), or any event that comes
// while one of its controls is on its way, moves the shared playhead without touching the
// player, which already shows the newer action.

import { formToken } from "./api.js";
import { bindLog } from "./live-log.js";

const DRIFT_MS = 250;
const SETTLE_MS = 400; // no drift correction this soon after a change
const MEDIA_CHECK_MS = 15000; // how often a playing screen asks whether it may still show the media
const EXPECT_MS = 1500; // an expected media event that has not come by then will not
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
  const clientId = Math.random().toString(36).slice(2, 12);
  let recordingId = Number(switcher ? switcher.value : recordings[0] && recordings[0].id);
  let socket = null;
  let seq = -1;
  let anchor = null; // {position_ms, playing, rate, at: performance.now()}
  let pending = 0; // controls sent, not yet echoed (nor refused)
  let changedAt = 0; // the last change of the player, ours or applied
  let serverOffset = 0; // the server's clock minus this one's (Date.now), from the state
  let retry = 500;
  let ended = false;
  let played = false; // the session's playhead ever played: "Lecture" until then
  const expected = { play: [], pause: [], seeked: [], ratechange: [] };
  let seekTarget = null; // {ms, until}: where this page last moved the player itself

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    root.dataset.connection = state;
  }

  let refusal = ""; // why the media is not shown: stays until another recording plays

  function showError(text) {
    if (!error) return;
    const shown = text || refusal;
    error.textContent = shown;
    error.hidden = !shown;
  }

  function target() {
    if (!anchor) return null;
    if (!anchor.playing) return anchor.position_ms;
    return anchor.position_ms + (performance.now() - anchor.at) * anchor.rate;
  }

  function showStopButton() {
    if (!stop) return;
    const stopped = anchor ? !anchor.playing : media.paused;
    // Before anything played, the big button starts the playback; after, it plays on.
    if (stopped) stop.textContent = played ? root.dataset.msgResume : root.dataset.msgPlay;
    else stop.textContent = root.dataset.msgStop;
    stop.classList.toggle("resume", stopped);
    stop.disabled = ended;
  }

  // A media event this page is about to cause (not the user's: not sent).
  function expect(name, count = 1) {
    const until = performance.now() + EXPECT_MS;
    // Seeks set while one is under way end in one "seeked": never more than one expected.
    if (name === "seeked") expected.seeked = [until];
    else for (let i = 0; i < count; i += 1) expected[name].push(until);
  }

  function caused(name) {
    const list = expected[name];
    const now = performance.now();
    while (list.length && list[0] < now) list.shift();
    if (!list.length) return false;
    list.shift();
    return true;
  }

  // The media may not be shown (its consent withdrawn during the session, or missing): the
  // reason instead of a silent broken player.
  function refuse(text) {
    if (!media.paused) expect("pause");
    media.pause();
    media.removeAttribute("src");
    media.removeAttribute("poster");
    media.load();
    media.hidden = true;
    refusal = text || root.dataset.msgMediaRefused;
    showError(refusal);
  }

  // Asked when the player fails, and every MEDIA_CHECK_MS: a player with the whole file in
  // its buffer asks the server nothing more.
  async function checkMedia() {
    const src = media.getAttribute("src");
    if (!src || media.hidden) return;
    let response;
    try {
      response = await fetch(src, { headers: { Range: "bytes=0-0" }, cache: "no-store" });
    } catch {
      return; // the connection's state says so already
    }
    if (response.status !== 403) return;
    let detail = "";
    try {
      detail = (await response.json()).detail;
    } catch {
      // the generic message
    }
    refuse(typeof detail === "string" ? detail : "");
  }
  media.addEventListener("error", checkMedia);
  setInterval(checkMedia, MEDIA_CHECK_MS);

  // Another recording of the interview: its media, then the playhead once it can seek.
  function switchTo(id) {
    const found = recordings.find((r) => r.id === id);
    if (!found) return;
    recordingId = id;
    if (switcher) switcher.value = String(id);
    const code = root.querySelector("[data-live-recording-code]");
    if (code) code.textContent = found.code;
    if (!found.media_url) {
      refuse(found.consent && found.consent.message);
      return;
    }
    media.hidden = false;
    refusal = "";
    showError("");
    media.addEventListener("loadedmetadata", () => sync(), { once: true });
    if (!media.paused) expect("pause");
    media.src = found.media_url;
    if (found.poster_url) media.poster = found.poster_url;
    for (const track of media.querySelectorAll("track[data-track]")) {
      const url = found[`${track.dataset.track}_url`]; // its chapters and segments
      if (url) track.src = url;
    }
  }

  function apply(message) {
    if (typeof message.seq === "number" && message.seq <= seq) return; // already applied
    seq = message.seq;
    if (message.ended) ended = true;
    if (message.playing || message.played) played = true;
    let position = message.type === "state" ? message.now_ms : message.position_ms;
    if (message.playing && message.type !== "state" && message.at) {
      // It has played on since the server wrote it (the time it took to come here).
      const elapsed = Date.now() + serverOffset - Date.parse(message.at);
      position += Math.min(2000, Math.max(0, elapsed)) * message.rate;
    }
    anchor = { position_ms: position, playing: message.playing, rate: message.rate, at: performance.now() };
    root.dataset.seq = String(seq);
    root.dataset.playing = String(message.playing);
    showStopButton();
    const own = message.client === clientId;
    if (own) pending = Math.max(0, pending - 1);
    if (message.recording_id && message.recording_id !== recordingId) switchTo(message.recording_id);
    else if (!own && pending === 0) sync();
    // Our own action coming back, or a change older than the one we sent: the player
    // already shows what wins.
  }

  // Bring the player to the shared playhead.
  function sync() {
    if (!anchor || media.readyState < 1) return;
    const position = target();
    const rate = media.playbackRate !== anchor.rate;
    // Paused, every screen shows the same frame; playing, a small difference is left to the
    // drift correction rather than a visible jump.
    const seek = Math.abs(media.currentTime * 1000 - position) > (anchor.playing ? DRIFT_MS : 50);
    const atEnd = Number.isFinite(media.duration) && position >= media.duration * 1000 - 100;
    const play = anchor.playing && media.paused && !atEnd;
    const pause = !anchor.playing && !media.paused;
    if (rate) {
      if (media.defaultPlaybackRate !== anchor.rate) {
        expect("ratechange");
        media.defaultPlaybackRate = anchor.rate;
      }
      expect("ratechange");
      media.playbackRate = anchor.rate;
    }
    if (seek) {
      expect("seeked");
      seekTarget = { ms: position, until: performance.now() + EXPECT_MS };
      media.currentTime = position / 1000;
    }
    if (play) {
      expect("play");
      media.play().catch((problem) => {
        if (problem && problem.name === "NotAllowedError") showError(root.dataset.msgAutoplay);
      });
    }
    if (pause) {
      expect("pause");
      media.pause();
    }
    if (rate || seek || play || pause) changedAt = performance.now();
  }

  function send(type, extra = {}) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    const message = { type, position_ms: Math.round(media.currentTime * 1000), client: clientId, ...extra };
    socket.send(JSON.stringify(message));
    pending += 1;
    changedAt = performance.now();
    return true;
  }

  media.addEventListener("play", () => caused("play") || send("play"));
  media.addEventListener("pause", () => caused("pause") || media.ended || send("pause"));
  // The end of the recording pauses everyone there.
  media.addEventListener("ended", () => anchor && anchor.playing && send("pause"));
  // Two seeks close together may each end in a "seeked": one that lands where this page put
  // the player is this page's too.
  function ownSeek() {
    const mine = seekTarget && performance.now() < seekTarget.until;
    return mine && Math.abs(media.currentTime * 1000 - seekTarget.ms) < 40;
  }
  media.addEventListener("seeked", () => caused("seeked") || ownSeek() || send("seek"));
  media.addEventListener("ratechange", () => caused("ratechange") || send("rate", { rate: media.playbackRate }));

  // Stop here, or play on: the same button and the same key.
  function stopOrResume() {
    if (ended) return;
    // While this page's own last action is on its way, the player says what was asked
    // (a second press before the echo stops what the first one started).
    const stopped = anchor && pending === 0 ? !anchor.playing : media.paused;
    if (stopped) {
      if (media.paused) expect("play");
      media.play().catch(() => {});
      send("play");
      return;
    }
    if (!media.paused) expect("pause"); // the stop is the message, not a pause
    media.pause();
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

  // Keep this screen on the shared playhead, unless one of its own actions is on its way.
  setInterval(() => {
    const position = target();
    if (position == null || media.seeking || pending > 0) return;
    if (performance.now() - changedAt < SETTLE_MS) return;
    const drift = media.currentTime * 1000 - position;
    root.dataset.drift = String(Math.round(drift));
    if (Math.abs(drift) > DRIFT_MS || (anchor.playing === media.paused && !media.ended)) sync();
  }, 500);

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    // The session's form token: a socket opened with the cookie but without it is refused.
    const token = encodeURIComponent(formToken());
    socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/live/${sessionId}/ws?csrf_token=${token}`);
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
        // A control refused: the shared playhead wins again.
        pending = Math.max(0, pending - 1);
        showError(message.detail);
        if (pending === 0) sync();
        return;
      }
      if (message.type === "resync") {
        socket.close(); // too far behind: reconnect, and start again from the state
        return;
      }
      if (message.type === "state") {
        pending = 0;
        if (message.server_now) serverOffset = Date.parse(message.server_now) - Date.now();
      }
      if (PLAYHEAD.has(message.type)) {
        showError("");
        apply(message);
      }
      if (ended) say("ended", root.dataset.msgEnded);
      root.dispatchEvent(new CustomEvent("live:message", { detail: message }));
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4403) {
        say("lost", root.dataset.msgRefused); // signed out, or no access: retrying won't help
        return;
      }
      say("lost", root.dataset.msgLost);
      setTimeout(connect, retry);
      retry = Math.min(5000, retry * 2);
    });
  }

  root.live = {
    send,
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
