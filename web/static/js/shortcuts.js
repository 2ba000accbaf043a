// Keyboard shortcuts of the player (the help panel, <dialog data-shortcuts>, lists them).
// Outside text fields: Space or K play/pause, ←/→ 2 s, J/L 10 s, < and > speed, ? help.
// Escape closes what is open (the help: the dialog's own; a field: left, so that the keys
// act again) and never touches the playback: closing something must not stop the video.

const SMALL_STEP = 2;
const BIG_STEP = 10;

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || target.matches("input, textarea, select"));
}

/** Play or pause. */
export function toggle(media) {
  if (media.paused) media.play().catch(() => {});
  else media.pause();
}

/** Move the playhead by `seconds`, within the recording. */
export function seekBy(media, seconds) {
  const end = Number.isFinite(media.duration) ? media.duration : Infinity;
  media.currentTime = Math.min(end, Math.max(0, media.currentTime + seconds));
}

/** One speed slower (-1) or faster (+1) among the player's speed buttons (in `root`); the
 * speed chosen. */
export function changeRate(root, media, step) {
  const rates = [...root.querySelectorAll("[data-rate]")].map((b) => Number(b.dataset.rate)).sort((a, b) => a - b);
  if (!rates.length) return media.playbackRate;
  const index = rates.findIndex((rate) => rate >= media.playbackRate - 1e-9);
  const next = rates[Math.min(rates.length - 1, Math.max(0, (index < 0 ? rates.length - 1 : index) + step))];
  const button = root.querySelector(`[data-rate="${next}"]`);
  if (button) button.click(); // the player module keeps the buttons and the saved speed in step
  else media.playbackRate = next;
  return next;
}

function bind(root) {
  const media = root.querySelector("[data-player-media]");
  const help = root.querySelector("dialog[data-shortcuts]");
  const opener = root.querySelector("[data-shortcuts-open]");
  if (!media) return;

  function showHelp() {
    if (!help) return;
    if (help.open) help.close();
    else help.showModal();
  }

  if (opener) opener.addEventListener("click", showHelp);

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (typing(event.target) && !(help && help.open)) event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    const actions = {
      " ": () => toggle(media),
      k: () => toggle(media),
      K: () => toggle(media),
      ArrowLeft: () => seekBy(media, -SMALL_STEP),
      ArrowRight: () => seekBy(media, SMALL_STEP),
      j: () => seekBy(media, -BIG_STEP),
      J: () => seekBy(media, -BIG_STEP),
      l: () => seekBy(media, BIG_STEP),
      L: () => seekBy(media, BIG_STEP),
      "<": () => changeRate(root, media, -1),
      ">": () => changeRate(root, media, 1),
      "?": showHelp,
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault(); // also keeps the native controls from acting a second time
    action();
  });
}

for (const root of document.querySelectorAll("[data-player]")) bind(root);
