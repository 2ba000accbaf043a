"""Live sessions: one playhead shared by two browsers, and 50 sessions on one server process.

A real `autoconf serve` on a fresh data folder loaded by `autoconf demo` (its researcher, its
2'15 recording, already processed); Debian's Chromium (Playwright, never a downloaded browser)
and the `websockets` client then measure:

- propagation: two browser contexts (the demo researcher, signed in by the login form) open
  the same `/live/{id}` page. An init script wraps `WebSocket.prototype.send` and listens to
  every socket the page creates, logging each message with `performance.timeOrigin +
  performance.now()` (one clock for both pages: the same machine). Page A sends 200 controls
  on its page's own socket, worded as its page script words them, 100-150 ms apart: seeks to
  ever new positions, a play and a pause every ten (not through its player: its page script
  drops some actions, see below). Each is paired with the event page B received with the
  same type and position, in seq order (other messages, such as presence, and controls page
  B might send are skipped); page B's script applies them to its player as usual. Time from
  A's send to B's receipt, p50 and p95 (target p95 < 150 ms); reference: `fetch(
  '/api/v1/health')` from page A, bare. Then 30 actions on page A's player itself (seek, play,
  pause, 100-150 ms apart, as a user clicking along): how many its page script never sent;
- drift: page A seeks to 0 and plays, page B follows, for 60 s; both pages log every 250 ms
  (`timeOrigin + now()`, `currentTime`) from an in-page setInterval. Page A's position is
  interpolated at page B's instants, once both play; median, p95 and max of |B - A| (target
  max < 250 ms). Reference: page A against the server's playhead, `position_ms + (t - at) *
  rate` of the play event (the server's clock: the same machine's), the playhead both pages
  mean to follow, so the ratio says how much of a page's own lag the other page shares;
- load: 50 live sessions created through the API (the researcher's bearer token), two
  `websockets` clients each on the one server process; once all are connected, and 2 s more
  for the writes of their joins, in each session one client sends a control (seek, play or
  pause to a new position) every 500 ms +/- 150 ms for 20 s and the other times its arrival
  (`time.perf_counter`, one process), paired by type and position. p50, p95, max (target p95
  < 250 ms); reference: the same with 1 session, just before.

Options: `--events 200 --actions 30 --drift-seconds 60 --sessions 50 --load-seconds 20`.
About 2.5 minutes on 2 cores.
"""

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
from playwright.sync_api import BrowserContext, Page, sync_playwright
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import cli, serve, wait_for

CONTROLS = ("play", "pause", "seek", "rate")
MEDIA = "document.querySelector('[data-player-media]')"
ROOT = "document.querySelector('[data-live]')"
# Two pages side by side, each in front of its own person: no background throttling.
BROWSER_ARGS = [
    *CHROMIUM_ARGS,
    "--autoplay-policy=no-user-gesture-required",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]

# Every message each socket of the page sends and receives, on the machine's clock.
RECORD = """(() => {
    const now = () => performance.timeOrigin + performance.now();
    const log = (window.__live = {sent: [], received: [], sockets: []});
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        log.sent.push([now(), String(data)]);
        return send.call(this, data);
    };
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            log.sockets.push(this);
            this.addEventListener('message', (e) => log.received.push([now(), e.data]));
        }
    };
})();"""

# `count` controls on the page's own socket, as the page script words them, `minGap` to
# `maxGap` ms apart: seeks to ever new positions, a play and a pause every ten.
SEND = """async ([count, minGap, maxGap, duration]) => {
    const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
    const socket = window.__live.sockets.filter((s) => s.readyState === WebSocket.OPEN).pop();
    for (let i = 0; i < count; i++) {
        const type = i % 10 === 4 ? 'play' : i % 10 === 7 ? 'pause' : 'seek';
        const position = 5000 + ((i * 7919) % (duration - 20000));
        socket.send(JSON.stringify({type, position_ms: position}));
        await sleep(minGap + Math.random() * (maxGap - minGap));
    }
}"""

# The same actions on page A's player, as a user clicking along: how many the page sends.
DRIVE = """async ([count, minGap, maxGap, duration]) => {
    const media = document.querySelector('[data-player-media]');
    const log = window.__live;
    const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
    let unsent = 0;
    for (let i = 0; i < count; i++) {
        const before = log.sent.length;
        const start = performance.now();
        if (i % 10 === 4) media.play().catch(() => {});
        else if (i % 10 === 7) media.pause();
        else media.currentTime = (5000 + ((i * 7919) % (duration - 20000))) / 1000;
        while (log.sent.length === before && performance.now() - start < 600) await sleep(1);
        if (log.sent.length === before) unsent++;
        const gap = minGap + Math.random() * (maxGap - minGap);
        await sleep(Math.max(0, gap - (performance.now() - start)));
    }
    return unsent;
}"""

HEALTH = """async (count) => {
    const times = [];
    for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        const response = await fetch('/api/v1/health', {credentials: 'same-origin'});
        await response.text();
        times.push(performance.now() - t0);
    }
    return times;
}"""

SAMPLE = """(ms) => {
    const media = document.querySelector('[data-player-media]');
    window.__samples = [];
    window.__sampler = setInterval(() => window.__samples.push([
        performance.timeOrigin + performance.now(), media.currentTime * 1000, media.paused,
        media.seeking]), ms);
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def demo(data: Path) -> tuple[str, str, int, dict[str, str]]:
    """`autoconf demo`: its login, its study, and an API token of its researcher."""
    printed = cli(data, "demo")
    lines = dict(line.strip().split(" : ", 1) for line in printed.splitlines() if " : " in line)
    username = lines["Identifiant"]
    token = cli(data, "token", "create", username).strip()
    study = int(lines["Étude"].rsplit("/", 1)[1])
    return username, lines["Mot de passe"], study, {"Authorization": f"Bearer {token}"}


def signed_in(context: BrowserContext, url: str, username: str, password: str) -> Page:
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/studies")
    return page


def messages(page: Page, which: str) -> list[tuple[float, dict[str, Any]]]:
    """What the page's sockets sent or received so far: (time, message)."""
    found = []
    for at, raw in page.evaluate(f"window.__live.{which}"):
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if isinstance(message, dict):
            found.append((at, message))
    return found


def controls_received(page: Page) -> list[tuple[float, dict[str, Any]]]:
    """The control events the page received, once each, by seq."""
    by_seq: dict[int, tuple[float, dict[str, Any]]] = {}
    for at, message in messages(page, "received"):
        if message.get("type") in CONTROLS and isinstance(message.get("seq"), int):
            by_seq.setdefault(message["seq"], (at, message))
    return [by_seq[seq] for seq in sorted(by_seq)]


def pair(
    sent: list[tuple[float, dict[str, Any]]], received: list[tuple[float, dict[str, Any]]]
) -> tuple[list[float], int]:
    """Latency of each sent control to its event (same type and position, in order); the
    number of sent controls without one."""
    latencies, missing, next_index = [], 0, 0
    received = [r for r in received if sent and r[0] >= sent[0][0]]
    for sent_at, control in sent:
        key = (control.get("type"), control.get("position_ms"))
        for index in range(next_index, min(len(received), next_index + 20)):
            got_at, event = received[index]
            if (event.get("type"), event.get("position_ms")) == key:
                latencies.append(got_at - sent_at)
                next_index = index + 1
                break
        else:
            missing += 1
    return latencies, missing


def propagation(a: Page, b: Page, count: int, duration: int) -> dict[str, Any]:
    start_a, start_b = len(messages(a, "sent")), len(messages(b, "sent"))
    a.evaluate(SEND, [count, 100, 150, duration])
    a.wait_for_timeout(1000)  # the last events arrive
    sent = [m for m in messages(a, "sent")[start_a:] if m[1].get("type") in CONTROLS]
    latencies, missing = pair(sent, controls_received(b))
    echoed = [m for m in messages(b, "sent")[start_b:] if m[1].get("type") in CONTROLS]
    return {
        "latencies": latencies,
        "sent": len(sent),
        "missing": missing,
        "echoed": len(echoed),
        "health": a.evaluate(HEALTH, 100),
    }


def player_actions(a: Page, count: int, duration: int) -> int:
    """How many of `count` actions on page A's player its page script did not send."""
    a.wait_for_timeout(1000)
    unsent = int(a.evaluate(DRIVE, [count, 100, 150, duration]))
    a.wait_for_timeout(1000)
    return unsent


def interpolate(series: list[list[Any]], t: float) -> float | None:
    """The position of a playing, not seeking, player at `t` from its samples around it."""
    low, high = 0, len(series) - 1
    if not series or t < series[0][0] or t > series[-1][0]:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if series[middle][0] <= t:
            low = middle
        else:
            high = middle
    (t0, p0, paused0, seeking0), (t1, p1, paused1, seeking1) = series[low], series[high]
    if paused0 or paused1 or seeking0 or seeking1 or t1 == t0:
        return None
    return float(p0 + (p1 - p0) * (t - t0) / (t1 - t0))


def drift(a: Page, b: Page, seconds: float) -> dict[str, Any]:
    a.evaluate(
        "window.__live.sockets.filter((s) => s.readyState === WebSocket.OPEN).pop()"
        ".send(JSON.stringify({type: 'pause', position_ms: 0}))"
    )
    wait_for(
        lambda: (
            all(
                page.evaluate(f"{MEDIA}.paused && {MEDIA}.currentTime < 0.05 && !{MEDIA}.seeking")
                for page in (a, b)
            )
            and a.evaluate(f"{ROOT}.dataset.seq") == b.evaluate(f"{ROOT}.dataset.seq")
        ),
        10,
        "both players paused at 0",
    )
    received_before = len(messages(a, "received"))
    for page in (a, b):
        page.evaluate(SAMPLE, 250)
    a.wait_for_timeout(1000)
    a.evaluate(f"{MEDIA}.play()")  # as the user does: the page script sends it
    a.wait_for_timeout(seconds * 1000)
    series = []
    for page in (a, b):
        page.evaluate("clearInterval(window.__sampler)")
        series.append(page.evaluate("window.__samples"))
    played = [m for _, m in messages(a, "received")[received_before:] if m.get("type") == "play"]
    assert played, "page A received no play event"
    at = datetime.fromisoformat(played[0]["at"])
    at_ms = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp() * 1000

    def server(t: float) -> float:
        return float(played[0]["position_ms"] + (t - at_ms) * played[0]["rate"])

    def playing(samples: list[list[Any]]) -> float:
        return next(s[0] for s in samples if not s[2] and s[1] > 0)

    since = max(playing(series[0]), playing(series[1]))
    between, signed = [], []
    for t, position, paused, seeking in series[1]:
        other = interpolate(series[0], t)
        if t >= since and not paused and not seeking and other is not None:
            between.append(abs(position - other))
            signed.append(position - other)
    against = [
        [p - server(t) for t, p, paused, seeking in s if t >= since and not paused and not seeking]
        for s in series
    ]
    jumps = sum(
        1
        for s0, s1 in zip(series[1], series[1][1:], strict=False)
        if s0[0] >= since and abs((s1[1] - s0[1]) - (s1[0] - s0[0])) > 150
    )
    return {
        "between": between,
        "signed": statistics.median(signed),
        "a_server": [abs(d) for d in against[0]],
        "b_server": [abs(d) for d in against[1]],
        "a_signed": statistics.median(against[0]),
        "b_signed": statistics.median(against[1]),
        "jumps": jumps,
    }


async def one_session(
    url: str,
    session_id: int,
    headers: dict[str, str],
    seconds: float,
    seed: int,
    connected: asyncio.Barrier,
) -> tuple[list[float], int, int]:
    """One sending and one receiving client (sending once every session's clients are
    connected): latencies, controls sent, controls not seen."""
    rng = random.Random(seed)
    socket_url = url.replace("http://", "ws://") + f"/api/v1/live/{session_id}/ws"
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    async with (
        connect(socket_url, additional_headers=headers, proxy=None) as sender,
        connect(socket_url, additional_headers=headers, proxy=None) as receiver,
    ):
        for socket in (sender, receiver):
            assert json.loads(await socket.recv())["type"] == "state"

        async def receive() -> None:
            async for raw in receiver:
                got = time.perf_counter()
                event = json.loads(raw)
                key = (event.get("type"), event.get("position_ms"))
                if event.get("type") in CONTROLS and key in sent:
                    latencies.append((got - sent.pop(key)) * 1000)

        async def drain() -> None:
            async for _ in sender:
                pass

        tasks = [asyncio.create_task(receive()), asyncio.create_task(drain())]
        await connected.wait()
        await asyncio.sleep(2 + rng.random() * 0.5)  # after the writes of the joins
        end = time.perf_counter() + seconds
        count = 0
        while time.perf_counter() < end:
            kind = ("seek", "seek", "play", "seek", "pause")[count % 5]
            position = 1000 + count * 2999 % 120_000
            sent[(kind, position)] = time.perf_counter()
            await sender.send(json.dumps({"type": kind, "position_ms": position}))
            count += 1
            await asyncio.sleep(0.5 + rng.uniform(-0.15, 0.15))
        deadline = time.perf_counter() + 3
        while sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, count, len(sent)


async def load(
    url: str, headers: dict[str, str], recording: int, sessions: int, seconds: float
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        ids = []
        for _ in range(sessions):
            response = await http.post(f"/api/v1/recordings/{recording}/live")
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    connected = asyncio.Barrier(len(ids))
    results = await asyncio.gather(
        *(one_session(url, i, headers, seconds, seed, connected) for seed, i in enumerate(ids))
    )
    latencies = [lat for result in results for lat in result[0]]
    return {
        "latencies": latencies,
        "sent": sum(r[1] for r in results),
        "missing": sum(r[2] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--actions", type=int, default=30)
    parser.add_argument("--drift-seconds", type=float, default=60)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--load-seconds", type=float, default=20)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        username, password, study, headers = demo(data)
        with serve(data) as url:
            http = httpx.Client(base_url=url, headers=headers, timeout=30)
            listed = http.get(f"/api/v1/studies/{study}/recordings").json()
            recording = next(r for r in listed if r["original_filename"] == "seance-demo.mp4")
            assert recording["status"] == "ready", recording
            duration = recording["duration_ms"]
            live = http.post(f"/api/v1/recordings/{recording['id']}/live").json()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                pages = []
                for _ in range(2):
                    context = browser.new_context(viewport={"width": 1366, "height": 768})
                    context.add_init_script(RECORD)
                    page = signed_in(context, url, username, password)
                    page.goto(f"{url}/live/{live['id']}")
                    page.wait_for_function(f"{ROOT}.dataset.seq !== undefined")
                    page.evaluate(f"{MEDIA}.muted = true")
                    pages.append(page)
                a, b = pages
                spread = propagation(a, b, args.events, duration)
                spread["unsent"] = player_actions(a, args.actions, duration)
                drifted = drift(a, b, args.drift_seconds)
                browser.close()
            single = asyncio.run(load(url, headers, recording["id"], 1, args.load_seconds))
            many = asyncio.run(
                load(url, headers, recording["id"], args.sessions, args.load_seconds)
            )
    report(spread, drifted, single, many, args, duration)


def report(
    spread: dict[str, Any],
    drifted: dict[str, Any],
    single: dict[str, Any],
    many: dict[str, Any],
    args: argparse.Namespace,
    duration: int,
) -> None:
    print(
        f"demo recording {duration / 1000:.0f} s, one `autoconf serve` process (SQLite); "
        "times in ms"
    )
    rows = [("measure", "n", "p50", "p95", "max", "target", "reference p50 / p95", "ratios")]
    lat, health = spread["latencies"], spread["health"]
    p95 = percentile(lat, 0.95)
    rows.append(
        row("browser A -> server -> browser B", lat, f"p95 < 150 {verdict(p95 < 150)}")
        + reference("fetch /health", lat, health)
    )
    between = drifted["between"]
    rows.append(
        row(
            f"|B - A| playing {args.drift_seconds:.0f} s",
            between,
            f"max < 250 {verdict(max(between) < 250)}",
        )
        + reference("|A - server|", between, drifted["a_server"])
    )
    lots = many["latencies"]
    p95 = percentile(lots, 0.95)
    rows.append(
        row(f"{args.sessions} sessions x 2 clients", lots, f"p95 < 250 {verdict(p95 < 250)}")
        + reference("1 session", lots, single["latencies"])
    )
    widths = [max(len(line[i]) for line in rows) for i in range(len(rows[0]))]
    for line in rows:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    b_server = drifted["b_server"]
    print(
        f"propagation: {spread['sent']} controls sent by A, {spread['missing']} not received by B,"
        f" {spread['echoed']} sent back by B; of {args.actions} actions on A's player 100-150 ms "
        f"apart, {spread['unsent']} not sent by its page script"
    )
    print(
        f"drift: medians B - A {drifted['signed']:+.1f} ms, A - server {drifted['a_signed']:+.1f},"
        f" B - server {drifted['b_signed']:+.1f}; |B - server| p50 "
        f"{statistics.median(b_server):.1f} / p95 {percentile(b_server, 0.95):.1f}; "
        f"{drifted['jumps']} jumps of B"
    )
    print(
        f"load: {many['sent']} controls sent, {many['missing']} not received "
        f"(1 session: {single['sent']} sent, {single['missing']} not received)"
    )


def row(name: str, values: list[float], target: str) -> tuple[str, ...]:
    return (
        name,
        str(len(values)),
        f"{statistics.median(values):.1f}",
        f"{percentile(values, 0.95):.1f}",
        f"{max(values):.1f}",
        target,
    )


def reference(name: str, values: list[float], base: list[float]) -> tuple[str, ...]:
    """The reference's p50 / p95, and the ratios of the figures to them."""
    p50, p95 = statistics.median(base), percentile(base, 0.95)
    return (
        f"{name} {p50:.1f} / {p95:.1f}",
        f"{statistics.median(values) / p50:.2f} / {percentile(values, 0.95) / p95:.2f}",
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
