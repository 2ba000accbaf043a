// The session report page: a stop's time in the interview's own recording plays it there.

const media = document.querySelector("[data-player-media]");
for (const button of document.querySelectorAll("[data-ac-seek]")) {
  button.addEventListener("click", () => {
    if (!media) return;
    media.currentTime = Number(button.dataset.acSeek) / 1000;
    media.play().catch(() => {});
    media.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });
}
