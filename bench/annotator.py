"""The annotator in headless Chromium on a 90-minute recording holding 2,000 annotations.

A real `autoconf serve` on a fresh data folder; the 90-minute file is the demo session
concatenated 40 times with `ffmpeg -c copy` (cached in bench/.cache/), uploaded and
processed by the real pipeline; 2,000 annotations across the layers go in through the API.
Debian's Chromium (Playwright, never a downloaded browser) then measures:

- interactive: from navigation start until the annotator is ready and has drawn its first
  timeline frame (target 1.5 s); reference: the same page of a recording without annotations;
- zoom and scroll: frames per second while the timeline zooms, then scrolls, on every
  animation frame for 3 s each (target >= 50); reference: the same loop doing nothing;
- marking a moment: from the key press (the event's timestamp) to the frame that shows it
  (target 50 ms), and to the server's answer that stored it (target 200 ms); reference: the
  same POST sent by fetch from the page, bare.
"""

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import researcher_token, serve, wait_for

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
DEMO = ROOT / "autoconf" / "demo" / "seance-demo.mp4"
APP = "document.querySelector('[data-annotator]').annotator"
MEDIA = "document.querySelector('[data-player-media]')"


def long_recording(copies: int) -> Path:
    """The demo session `copies` times in a row, without re-encoding."""
    CACHE.mkdir(exist_ok=True)
    target = CACHE / f"seance-x{copies}.mp4"
    if not target.exists():
        listing = CACHE / "concat.txt"
        listing.write_text("".join(f"file '{DEMO}'\n" for _ in range(copies)))
        subprocess.run(
            [
                *("ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0"),
                *("-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(target)),
            ],
            check=True,
        )
    return target


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def setup(url: str, headers: dict[str, str], media: Path, count: int) -> tuple[int, int]:
    """A study, the long recording (processed) holding `count` annotations, and an empty one."""
    http = httpx.Client(base_url=url, headers=headers, timeout=600)
    study = http.post("/api/v1/studies", json={"name": "Bench"}).json()["id"]
    with media.open("rb") as handle:
        long_id = http.post(
            f"/api/v1/studies/{study}/recordings",
            data={"code": "A90"},
            files={"file": (media.name, handle, "video/mp4")},
        ).json()["id"]
    empty_id = http.post(
        f"/api/v1/studies/{study}/recordings",
        data={"code": "A0"},
        files={"file": ("demo.mp4", DEMO.read_bytes(), "video/mp4")},
    ).json()["id"]
    for recording in (long_id, empty_id):
        wait_for(
            lambda r=recording: http.get(f"/api/v1/recordings/{r}").json()["status"] == "ready",
            900,
            "the processing of the recordings",
        )
    duration = http.get(f"/api/v1/recordings/{long_id}").json()["duration_ms"]
    books = {b["kind"]: b["codes"] for b in http.get(f"/api/v1/studies/{study}/codebooks").json()}
    rng = random.Random(7)
    kinds = [
        ("prepared", None),
        ("stops", None),
        ("schemes", "schemes"),
        ("schemes", "schemes"),
        ("schemes", "schemes"),
        ("phases", "phases"),
        ("categories", "categories"),
    ]
    for index in range(count - count // 8):
        layer, kind = kinds[index % len(kinds)]
        start = rng.randrange(0, duration - 20_000)
        body: dict[str, object] = {"start_ms": start, "layer": layer, "note": f"note {index}"}
        if layer == "prepared":
            body |= {"origin": "prepared", "shared": True}
        elif layer == "stops":
            body |= {"origin": "stop"}
        else:
            body["end_ms"] = start + rng.randrange(1000, 20_000)
        if kind:
            body["code_ids"] = [rng.choice([c["id"] for c in books[kind]])]
        response = http.post(f"/api/v1/recordings/{long_id}/annotations", json=body)
        assert response.status_code == 201, response.text
    # An eighth of them as transcript cues, imported as researchers do (a WebVTT file).
    cues = ["WEBVTT", ""]
    for index in range(count // 8):
        start = index * (duration - 10_000) // max(1, count // 8)
        cues += [f"{vtt(start)} --> {vtt(start + 6000)}", f"<v Conseillère>Réplique {index}", ""]
    imported = http.post(
        f"/api/v1/recordings/{long_id}/transcript",
        files={"file": ("t.vtt", "\n".join(cues).encode(), "text/vtt")},
    )
    assert imported.status_code == 200, imported.text
    return long_id, empty_id


def vtt(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def interactive_ms(page: Page, url: str, recording: int) -> float:
    page.goto(f"{url}/recordings/{recording}")
    page.wait_for_function(
        f"document.documentElement.dataset.annotatorReady && {APP}.timeline.frames > 0"
    )
    return float(page.evaluate(f"{APP}.timeline.firstFrameAt ?? performance.now()"))


FPS = """async ([mode, seconds]) => {
    const timeline = document.querySelector('[data-annotator]').annotator.timeline;
    timeline.fit();
    await new Promise((ok) => requestAnimationFrame(ok));
    const drawn = timeline.frames;
    const times = [];
    let zoomIn = true;
    const end = performance.now() + seconds * 1000;
    await new Promise((done) => {
        function step(now) {
            times.push(now);
            if (mode === "zoom") {
                if (timeline.viewSpan <= 10000) zoomIn = false;
                if (timeline.viewSpan >= timeline.duration) zoomIn = true;
                timeline.zoomAt(zoomIn ? 0.93 : 1.07, timeline.duration / 3);
            } else if (mode === "scroll") {
                if (timeline.viewSpan > 600000) timeline.setView(0, 600000);
                const atEnd = timeline.viewStart + timeline.viewSpan >= timeline.duration;
                if (atEnd) timeline.setView(0, timeline.viewSpan);
                else timeline.scrollBy(timeline.viewSpan / 40);
            }
            if (now < end) requestAnimationFrame(step); else done();
        }
        requestAnimationFrame(step);
    });
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    return {fps: 1000 * gaps.length / (times[times.length - 1] - times[0]),
            worst: Math.max(...gaps), drawn: timeline.frames - drawn};
}"""

MARK = """async () => {
    const app = document.querySelector('[data-annotator]').annotator;
    const before = new Set(app.store.all().map((a) => a.key));
    let pressed = 0;
    const onKey = (e) => { pressed = e.timeStamp; };
    window.addEventListener('keydown', onKey, {capture: true, once: true});
    const shown = new Promise((ok) => {
        const previous = app.timeline.o.onFrame;
        app.timeline.o.onFrame = (now) => {
            if (app.store.all().some((a) => !before.has(a.key))) {
                app.timeline.o.onFrame = previous;
                ok(performance.now());
            }
        };
    });
    const stored = new Promise((ok) => {
        const check = () => {
            const item = app.store.all().find((a) => !before.has(a.key));
            if (!item || item.id == null) return;
            app.store.removeEventListener('change', check);
            ok(performance.now());
        };
        app.store.addEventListener('change', check);
    });
    window.__mark = {shown, stored, pressed: () => pressed};
    return true;
}"""

BARE_POST = """async ([recording, start]) => {
    const t0 = performance.now();
    const response = await fetch(`/api/v1/recordings/${recording}/annotations`, {
        method: 'POST', credentials: 'same-origin',
        headers: {
            'Content-Type': 'application/json', Accept: 'application/json',
            'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content,
        },
        body: JSON.stringify({start_ms: start, origin: 'prepared', shared: false}),
    });
    await response.json();
    return performance.now() - t0;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotations", type=int, default=2000)
    parser.add_argument("--copies", type=int, default=40, help="40 × 2’15 = 90 minutes")
    parser.add_argument("--marks", type=int, default=30)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    media = long_recording(args.copies)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        headers = researcher_token(data)
        with serve(data) as url:
            long_id, empty_id = setup(url, headers, media, args.annotations)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1366, "height": 768})
                page = context.new_page()
                page.goto(f"{url}/login")
                page.fill("input[name=username]", "claire")
                page.fill("input[name=password]", "long-password")
                page.click("button[type=submit]")
                page.wait_for_url("**/studies")
                loads: dict[str, list[float]] = {"empty": [], "full": []}
                for _ in range(5):
                    loads["empty"].append(interactive_ms(page, url, empty_id))
                    loads["full"].append(interactive_ms(page, url, long_id))
                count = page.evaluate(f"{APP}.store.all().length")
                fps = {mode: page.evaluate(FPS, [mode, 3]) for mode in ("idle", "zoom", "scroll")}
                page.evaluate(f"{APP}.timeline.fit()")
                shown, stored, bare = [], [], []
                page.locator("[data-timeline-canvas]").focus()
                for index in range(args.marks):
                    page.evaluate(f"{MEDIA}.currentTime = {60 + index * 97}")
                    page.evaluate(MARK)
                    page.keyboard.press("m")
                    result = page.evaluate(
                        "async () => ({shown: await window.__mark.shown,"
                        " stored: await window.__mark.stored, pressed: window.__mark.pressed()})"
                    )
                    shown.append(result["shown"] - result["pressed"])
                    stored.append(result["stored"] - result["pressed"])
                    bare.append(page.evaluate(BARE_POST, [long_id, 1000 + index]))
                    page.wait_for_timeout(150)
                browser.close()
    full, empty = statistics.median(loads["full"]), statistics.median(loads["empty"])
    slowest = max(loads["full"])
    print(f"recording: {args.copies * 135 / 60:.0f} min, {count} annotations on the page")
    print(
        f"interactive: median {full:.0f} ms, slowest {slowest:.0f} ms "
        f"({verdict(slowest <= 1500)}: 1500 ms), without annotations {empty:.0f} ms, "
        f"ratio {full / empty:.2f}"
    )
    idle = fps["idle"]["fps"]
    for mode in ("zoom", "scroll"):
        f = fps[mode]
        print(
            f"{mode}: {f['fps']:.1f} frames/s, worst frame {f['worst']:.0f} ms, "
            f"{f['drawn']} timeline redraws ({verdict(f['fps'] >= 50)}: 50/s); "
            f"idle loop {idle:.1f}/s, ratio {f['fps'] / idle:.2f}"
        )
    shown_p95, stored_p95 = percentile(shown, 0.95), percentile(stored, 0.95)
    print(
        f"mark shown: p50 {statistics.median(shown):.1f} ms, p95 {shown_p95:.1f} ms "
        f"({verdict(shown_p95 <= 50)}: 50 ms)"
    )
    print(
        f"mark stored: p50 {statistics.median(stored):.1f} ms, p95 {stored_p95:.1f} ms "
        f"({verdict(stored_p95 <= 200)}: 200 ms); "
        f"bare POST from the page p50 {statistics.median(bare):.1f} ms, "
        f"ratio {statistics.median(stored) / statistics.median(bare):.2f}"
    )


def verdict(ok: bool) -> str:
    return "target met" if ok else "target NOT met"


if __name__ == "__main__":
    main()
