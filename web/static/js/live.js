// The live session's player (<div data-live data-session-id>): one playhead shared by every
// screen through the server's WebSocket. What this screen does to the player (play, pause,
// seek, speed; the keys and the native controls included) is sent; what the server says is
// applied. Between messages the playhead is kept where it should be (corrected when it
// drifts more than 250 ms). The connection comes back by itself after a drop or a restart.

const DRIFT_MS = 250;
const QUIET_MS = 400; // changes made by applying the server's state are not sent back

function bind(root) {
  const media = root.querySelector("[data-player-media]");
  const status = root.querySelector("[data-live-status]");
  const stop = root.querySelector("[data-live-stop]");
  if (!media) return;
  const sessionId = root.dataset.sessionId;
  let socket = null;
  let seq = -1;
  let anchor = null; // {position_ms, playing, rate, at: performance.now()}
  let quietUntil = 0;
  let retry = 500;

  function say(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function expected() {
    if (!anchor) return null;
    if (!anchor.playing) return anchor.position_ms;
    return anchor.position_ms + (performance.now() - anchor.at) * anchor.rate;
  }

  function apply(message) {
    if (typeof message.seq === "number" && message.seq <= seq) return; // already applied
    seq = message.seq;
    const position = message.type === "state" ? message.now_ms : message.position_ms;
    anchor = { position_ms: position, playing: message.playing, rate: message.rate, at: performance.now() };
    const rate = media.playbackRate !== message.rate;
    // Our own change coming back is already here: nothing to do, and nothing to silence
    // (the user's next action must still be sent).
    // Paused, both screens show the same frame; playing, a small difference is left to the
    // drift correction rather than a visible jump.
    const seek = Math.abs(media.currentTime * 1000 - position) > (message.playing ? DRIFT_MS : 50);
    const play = message.playing && media.paused;
    const pause = !message.playing && !media.paused;
    if (rate || seek || play || pause) quietUntil = performance.now() + QUIET_MS;
    if (rate) {
      media.defaultPlaybackRate = message.rate;
      media.playbackRate = message.rate;
    }
    if (seek) media.currentTime = position / 1000;
    if (play) media.play().catch(() => {});
    if (pause) media.pause();
    root.dataset.seq = String(seq);
  }

  function send(type, extra = {}) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type, position_ms: Math.round(media.currentTime * 1000), ...extra }));
  }

  function mine() {
    return performance.now() > quietUntil;
  }

  media.addEventListener("play", () => mine() && send("play"));
  media.addEventListener("pause", () => mine() && !media.ended && send("pause"));
  media.addEventListener("seeked", () => mine() && send("seek"));
  media.addEventListener("ratechange", () => mine() && send("rate", { rate: media.playbackRate }));
  if (stop) {
    stop.addEventListener("click", () => {
      media.pause(); // sent as a pause; the stop as data comes with the stops layer
    });
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
        say("open", message.detail);
        return;
      }
      if (message.ended) say("ended", root.dataset.msgEnded);
      apply(message);
    });
    socket.addEventListener("close", () => {
      say("lost", root.dataset.msgLost);
      setTimeout(connect, retry);
      retry = Math.min(5000, retry * 2);
    });
  }
  connect();
}

for (const root of document.querySelectorAll("[data-live]")) bind(root);
