"""Random 1 MiB range reads of a 1.5 GiB proxy: the app, nginx in front of it, nginx alone.

One data folder, one "ready" recording (the demo session, processed by `autoconf worker
--until-idle`) whose proxy.mp4 is then replaced by 1.5 GiB of random bytes, read once so
that it sits in the page cache (a seek in a recording people watch is served from memory;
the disk is not what this measures). Three servers read that same file:

- app: `autoconf serve` alone (uvicorn), GET /api/v1/recordings/{id}/media;
- accel: nginx configured with docs/nginx-autoconf.conf in front of a second
  `autoconf serve` started with AUTOCONF_MEDIA_ACCEL_REDIRECT and AUTOCONF_MEDIA_PASS_SECRET,
  played as a browser plays it: logged in, the app's first answer brings a media pass
  (a cookie), nginx checks it and sends the bytes; once it has expired (5 s), a request goes
  to the app again, which gives a new one;
- nginx (the reference): the same nginx, a location with the directives of the snippet's
  internal location, serving the file without asking the app.

Throughput: wrk (2 threads; a Lua script sends a random `Range: bytes=a-(a+1 MiB-1)` with
the bearer token, or for accel the browser's cookies, which a PassKeeper thread renews as a
browser's requests would) at 8 and 32 connections, ROUNDS runs of SECONDS per server and
case, the servers interleaved; a ratio is a server's MB/s over all its runs divided by
nginx's. Then the app's request rate with no bytes to send (the media route answering
X-Accel-Redirect, and /api/v1/health): every request without a valid pass is one to the
app. Time to first byte of a seek: an asyncio client, 32
keep-alive connections each sending a range request, stamping the first byte of the
answer, reading the whole MiB; closed loop (seek again at once: the servers saturated) then
paced (a seek every SEEK_PACE_MS per reader on average, Poisson), TTFB_SECONDS and
PACED_SECONDS per server; each reader keeps its own cookies (a browser of its own, the login
session shared). Everything runs on the same machine, clients included.

Targets (issue): app ≥ 0.5 × nginx, accel ≥ 0.95 × nginx; p99 TTFB < 50 ms at 32 readers.
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _targets import record  # noqa: E402 (bench/_targets.py: the target table)

from tests.support import (  # noqa: E402
    Server,
    cli,
    free_port,
    researcher_token,
    start_server,
    stop_server,
    study_with_recording,
)

T = TypeVar("T")
SPAN = 1024 * 1024  # bytes per range read
SNIPPET = ROOT / "docs" / "nginx-autoconf.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CACHE_DIR = "/run/nginx-autoconf"  # the snippet's cache of media answers
# The snippet's internal location of the files (X-Accel-Redirect's target): `internal` and `alias`.
FILES_LOCATION = r"location\s+(\S+)\s*\{([^{}]*\binternal\s*;[^{}]*\balias\b[^{}]*)\}"
REFERENCE_PREFIX = "/_bench_static/"
PASS_SECRET = "bench-media-pass-secret-0123456789abcdef"  # the app's and nginx's

WRK_SCRIPT = """
local size = {size}
local span = {span}
local path = "{path}"
local auth = "{auth}"
local cookie_file = "{cookie_file}"
local cookie = nil
local counter = 0
local sent = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + id * 7919 + math.floor(os.clock() * 1000000))
end

-- A browser's cookies (accel): the login session and the media pass, which the bench's
-- PassKeeper renews as a browser would and writes to cookie_file; read again every 32
-- requests.
function request()
  local a = math.floor(math.random() * (size - span + 1))
  local range = string.format("bytes=%d-%d", a, a + span - 1)
  if cookie_file ~= "" then
    if sent % 32 == 0 then
      local file = io.open(cookie_file, "r")
      if file then cookie = file:read("*a"); file:close() end
    end
    sent = sent + 1
    return wrk.format("GET", path, {{["Range"] = range, ["Cookie"] = cookie}})
  end
  return wrk.format("GET", path, {{["Range"] = range, ["Authorization"] = auth}})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH bytes=%d duration_us=%d requests=%d errors=%d p50_us=%d p99_us=%d\\n",
    summary.bytes, summary.duration, summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Credential:
    """What a client signs in with: an API token, or a browser's cookies (the login
    session, then the media pass each answer through nginx's check brings, kept as a
    browser keeps it)."""

    authorization: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        if self.cookies:
            return "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return f"Authorization: {self.authorization}"

    def take(self, lines: list[str]) -> None:
        """Keep the cookies an answer's head sets (a browser's part of the pass)."""
        for line in lines:
            if self.cookies and line[:11].lower() == "set-cookie:":
                name, _, value = line[11:].split(";", 1)[0].strip().partition("=")
                self.cookies[name] = value

    def copy(self) -> "Credential":
        return Credential(self.authorization, dict(self.cookies))


@dataclass
class Target:
    name: str
    host: str
    port: int
    path: str
    credential: Credential = field(default_factory=Credential)


@dataclass
class Load:
    mb_s: float  # MB = 10^6 bytes
    requests_s: float
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass
class Seeks:
    ttfb_ms: list[float] = field(default_factory=list)
    bad: int = 0
    bytes: int = 0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ensure_wrk() -> str:
    """wrk, installed with apt when missing (as scripts/install installs ffmpeg)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", flush=True)
    root = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run([*root, "apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def fill_random(path: Path, size: int) -> None:
    """`size` random bytes (incompressible, like video), then read back once: page cache."""
    block = 16 * 1024 * 1024
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(block, left)))
            left -= min(block, left)
    with path.open("rb") as source:
        while source.read(block):
            pass


def nginx_config(folder: Path, data: Path, app_port: int, port: int, ref_port: int) -> str:
    """The documented snippet (paths and ports filled in) plus the reference server: a
    public location with the same directives as the snippet's internal one."""
    snippet = SNIPPET.read_text(encoding="utf-8")
    snippet = "\n".join(line for line in snippet.splitlines() if not line.lstrip().startswith("#"))
    snippet = snippet.replace("DATA_DIR", str(data)).replace(
        "127.0.0.1:8000", f"127.0.0.1:{app_port}"
    )
    snippet = snippet.replace(CACHE_DIR, str(folder / "media-grants"))
    snippet = snippet.replace("MEDIA_PASS_SECRET", PASS_SECRET)
    snippet = re.sub(r"listen\s+80\s*;", f"listen 127.0.0.1:{port};", snippet)
    internal = re.search(FILES_LOCATION, snippet)
    if internal is None:
        raise SystemExit(f"no `internal` location in {SNIPPET}")
    directives = re.sub(r"\binternal\s*;", "", internal.group(2))
    return nginx_main(
        folder,
        f"""
{snippet}
    server {{
        listen 127.0.0.1:{ref_port};
        location {REFERENCE_PREFIX} {{
{directives}
        }}
    }}
""",
    )


def nginx_main(folder: Path, http: str) -> str:
    """A whole nginx configuration for a benchmark: two workers, its files in `folder`
    (temporary folders made), `http` inside the http block."""
    temp = {name: folder / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    return f"""
daemon off;
master_process on;
worker_processes 2;
user root;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
{http}
}}
"""


def accel_prefix() -> str:
    found = re.search(FILES_LOCATION, SNIPPET.read_text())
    if found is None:
        raise SystemExit(f"no `internal` location in {SNIPPET}")
    return found.group(1)


def start_nginx(folder: Path) -> subprocess.Popen[bytes]:
    log = (folder / "nginx.out").open("ab")
    process = subprocess.Popen(
        [
            NGINX,
            "-p",
            f"{folder}/",
            "-c",
            str(folder / "nginx.conf"),
            "-e",
            str(folder / "error.log"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process


def wait_listening(port: int, process: subprocess.Popen[bytes], what: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"nothing answers on port {port}:\n{what.read_text()}") from None
            time.sleep(0.1)


def check(target: Target, expected: bytes, offset: int) -> None:
    """One range read through `target` must answer 206 with exactly the file's bytes (its
    credential keeps the cookies the answer sets)."""
    answer = ranged_get(target, offset, offset + len(expected) - 1)
    if answer.status_code != 206 or answer.content != expected:
        raise SystemExit(
            f"{target.name}: {answer.status_code}, {len(answer.content)} bytes "
            f"(expected 206 and the file's {len(expected)} bytes): {answer.text[:300]}"
        )


def ranged_get(target: Target, start: int, end: int) -> httpx.Response:
    url = f"http://{target.host}:{target.port}{target.path}"
    name, _, value = target.credential.header().partition(": ")
    answer = httpx.get(url, headers={name: value, "Range": f"bytes={start}-{end}"}, timeout=30)
    target.credential.take([f"set-cookie: {v}" for v in answer.headers.get_list("set-cookie")])
    return answer


class PassKeeper(threading.Thread):
    """Keeps a browser's media pass for wrk, which cannot read its answers' cookies: asks
    for a byte through nginx every 0.1 s with the current cookies, as a browser's next Range
    request would (nginx answers it alone while the pass holds; then the app gives a new
    one), and writes the Cookie header to `path`, which wrk's script reads."""

    def __init__(self, target: Target, path: Path) -> None:
        super().__init__(daemon=True)
        self.target, self.path, self.renewed = target, path, 0
        self.stopping = threading.Event()
        self.write()

    def write(self) -> None:
        aside = self.path.with_suffix(".new")
        aside.write_text(self.target.credential.header().removeprefix("Cookie: "))
        aside.replace(self.path)

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            before = dict(self.target.credential.cookies)
            try:
                ranged_get(self.target, 0, 0)
            except httpx.TransportError:
                continue
            if self.target.credential.cookies != before:
                self.renewed += 1
                self.write()


def wrk_run(wrk: str, script: Path, target: Target, connections: int, seconds: float) -> Load:
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://{target.host}:{target.port}{target.path}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    found = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk said:\n{output}")
    values = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", found.group(1))}
    duration = values["duration_us"] / 1e6
    return Load(
        mb_s=values["bytes"] / duration / 1e6,
        requests_s=values["requests"] / duration,
        errors=values["errors"],
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
    )


class RangeReader(asyncio.BufferedProtocol):
    """One keep-alive connection that reads one answer at a time into a fixed buffer and
    stamps the arrival of its first byte."""

    def __init__(self, credential: Credential) -> None:
        self.credential = credential  # keeps the cookies the answers set
        self.buffer = memoryview(bytearray(SPAN + 65536))
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[tuple[int, float]] | None = None
        self.first = 0.0
        self.head = bytearray()
        self.left = -1  # body bytes still to come; -1 while reading the head
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def ask(self, request: bytes) -> "asyncio.Future[tuple[int, float]]":
        self.done = asyncio.get_running_loop().create_future()
        self.first, self.head, self.left, self.status = 0.0, bytearray(), -1, 0
        assert self.transport is not None
        self.transport.write(request)
        return self.done

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        if not self.first:
            self.first = time.perf_counter()
        if self.left < 0:
            self.head += self.buffer[:nbytes]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.head[:end]).decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            self.credential.take(lines)
            lengths = [
                line.split(":", 1)[1]
                for line in lines
                if line.lower().startswith("content-length:")
            ]
            length = int(lengths[0]) if lengths else 0
            self.left = length - (len(self.head) - end - 4)
        else:
            self.left -= nbytes
        if self.left <= 0 and self.done and not self.done.done():
            self.done.set_result((self.status, self.first))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done and not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed by the server"))


def range_request(target: Target, credential: Credential, start: int) -> bytes:
    """A GET of the MiB at `start` of the target's file, on a keep-alive connection."""
    return (
        f"GET {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"{credential.header()}\r\nRange: bytes={start}-{start + SPAN - 1}\r\n\r\n"
    ).encode()


async def seeker(target: Target, size: int, deadline: float, pace: float, seeks: Seeks) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random()
    credential = target.credential.copy()  # a browser of its own (the login session shared)
    transport, reader = await loop.create_connection(
        lambda: RangeReader(credential), target.host, target.port
    )
    if pace:  # readers start apart, as viewers do, not in lockstep
        await asyncio.sleep(rng.uniform(0, pace))
    try:
        while time.perf_counter() < deadline:
            request = range_request(target, credential, rng.randrange(0, size - SPAN + 1))
            sent = time.perf_counter()
            status, first = await reader.ask(request)
            if status == 206:
                seeks.ttfb_ms.append((first - sent) * 1000)
                seeks.bytes += SPAN
            else:
                seeks.bad += 1
            if pace:  # Poisson arrivals around the mean pace
                elapsed = time.perf_counter() - sent
                await asyncio.sleep(max(0.0, rng.expovariate(1 / pace) - elapsed))
    finally:
        transport.close()


async def seek_phase(target: Target, size: int, readers: int, seconds: float, pace: float) -> Seeks:
    seeks = Seeks()
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(seeker(target, size, deadline, pace, seeks) for _ in range(readers)))
    return seeks


def run_seeks(target: Target, size: int, readers: int, seconds: float, pace: float) -> Seeks:
    return run_client(seek_phase(target, size, readers, seconds, pace))


def run_client(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a benchmark's clients, on uvloop where it is installed: the client's own overhead
    is part of every figure, keep it small."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def verdict(ok: bool) -> str:
    return "target met" if ok else "target NOT met"


@dataclass
class Setup:
    folder: Path
    headers: dict[str, str]
    size: int
    targets: list[Target]  # nginx (the reference), app, accel
    floor: list[Target]  # the app's request rate with no bytes to send
    servers: list[Server] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None
    keeper: PassKeeper | None = None  # accel's media pass, for wrk


def prepare(setup: Setup) -> None:
    """A ready recording whose proxy is `size` random bytes; the app, a second app with
    X-Accel-Redirect, nginx in front of it and nginx alone; each checked on one read."""
    data = setup.folder / "data"
    setup.headers = researcher_token(data, "bench")
    no_jobs = {"AUTOCONF_MEDIA_WORKERS": "0"}
    setup.servers.append(app := start_server(data, no_jobs))
    _, recording = study_with_recording(app.url, setup.headers)
    cli(data, "worker", "--until-idle")
    state = httpx.get(f"{app.url}/api/v1/recordings/{recording}", headers=setup.headers).json()
    if state["status"] != "ready":
        raise SystemExit(f"the demo recording is not ready: {state}")
    proxy = next((data / "media").rglob("proxy.mp4"))
    started = time.perf_counter()
    fill_random(proxy, setup.size)
    print(
        f"proxy replaced by {setup.size / 2**30:.2f} GiB of random bytes and read once "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    accel_env = {
        **no_jobs,
        "AUTOCONF_MEDIA_ACCEL_REDIRECT": accel_prefix(),
        "AUTOCONF_MEDIA_PASS_SECRET": PASS_SECRET,
    }
    setup.servers.append(accel_app := start_server(data, accel_env))
    app_port, accel_port = (int(s.url.rsplit(":", 1)[1]) for s in (app, accel_app))
    port, ref_port = free_port(), free_port()
    config = nginx_config(setup.folder, data, accel_port, port, ref_port)
    (setup.folder / "nginx.conf").write_text(config)
    setup.nginx = start_nginx(setup.folder)
    for listening in (port, ref_port):
        wait_listening(listening, setup.nginx, setup.folder / "error.log")

    media = f"/api/v1/recordings/{recording}/media"
    key = proxy.relative_to(data / "media").as_posix()
    token = Credential(setup.headers["Authorization"])
    # accel is played as a browser plays it: logged in, on the media passes the app gives.
    login = {"username": "bench", "password": "long-password"}
    logged = httpx.post(f"{accel_app.url}/api/v1/auth/login", json=login)
    browser = Credential(cookies={"autoconf_session": logged.cookies["autoconf_session"]})
    setup.targets = [
        Target("nginx", "127.0.0.1", ref_port, REFERENCE_PREFIX + key, token),
        Target("app", "127.0.0.1", app_port, media, token),
        Target("accel", "127.0.0.1", port, media, browser),
    ]
    setup.floor = [
        Target("media, X-Accel answer", "127.0.0.1", accel_port, media, token),
        Target("/api/v1/health", "127.0.0.1", app_port, "/api/v1/health", token),
    ]
    offset = setup.size // 3 + 12345
    with proxy.open("rb") as source:
        source.seek(offset)
        sample = source.read(SPAN)
    for target in setup.targets:
        check(target, sample, offset)
    if "autoconf_media" not in browser.cookies:
        raise SystemExit("accel: the app gave no media pass (AUTOCONF_MEDIA_PASS_SECRET)")
    setup.keeper = PassKeeper(setup.targets[2], setup.folder / "accel-cookies.txt")
    setup.keeper.start()


def wrk_script(setup: Setup, target: Target) -> Path:
    script = setup.folder / f"{target.name.replace(' ', '-').replace('/', '')}.lua"
    keeper = setup.keeper
    cookies = keeper.path if keeper is not None and keeper.target is target else ""
    script.write_text(
        WRK_SCRIPT.format(
            size=setup.size,
            span=SPAN,
            path=target.path,
            auth=target.credential.authorization,
            cookie_file=cookies,
        )
    )
    return script


def throughputs(
    setup: Setup, wrk: str, seconds: float, rounds: int
) -> dict[tuple[str, int], float]:
    """wrk at 8 and 32 connections on each server, `rounds` short runs each, the servers
    interleaved (nginx, accel, app, then the other way round); returns per (server,
    connections) the server's MB/s over all its runs divided by nginx's over its runs in
    the same rounds. On this machine one run moves by ±10 % from the next, the same server
    alike (host noise, seconds long): many short interleaved runs, not a few long ones, make
    the ratio steady (about ±2 % with 25 rounds of 2 s)."""
    by_name = {target.name: target for target in setup.targets}
    ordered = [by_name["nginx"], by_name["accel"], by_name["app"]]
    scripts = {target.name: wrk_script(setup, target) for target in ordered}
    for target in ordered:
        wrk_run(wrk, scripts[target.name], target, 8, 1)  # warm-up
    print(
        f"random {SPAN // 1024} KiB range reads of a {setup.size / 2**30:.2f} GiB file, "
        f"wrk -t2, {rounds} rounds of {seconds:.0f} s per server and case, interleaved, "
        f"{os.cpu_count()} cores (clients included)",
        flush=True,
    )
    loads: dict[tuple[str, int], list[Load]] = {}
    for round_index in range(rounds):
        for connections in (8, 32):
            for target in ordered if round_index % 2 == 0 else ordered[::-1]:
                load = wrk_run(wrk, scripts[target.name], target, connections, seconds)
                loads.setdefault((target.name, connections), []).append(load)
    print(
        f"  {'server':<7} {'readers':>7} {'MB/s':>8} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'errors':>6}   runs: lowest, median, highest MB/s"
    )
    result: dict[tuple[str, int], float] = {}
    for connections in (8, 32):
        reference = statistics.mean(run.mb_s for run in loads[("nginx", connections)])
        for target in ordered:
            runs = loads[(target.name, connections)]
            mb_s = statistics.mean(run.mb_s for run in runs)
            result[(target.name, connections)] = mb_s / reference
            values = sorted(run.mb_s for run in runs)
            print(
                f"  {target.name:<7} {connections:>7} {mb_s:8.0f} "
                f"{statistics.mean(r.requests_s for r in runs):7.0f} "
                f"{median([r.p50_ms for r in runs]):7.1f} "
                f"{median([r.p99_ms for r in runs]):7.1f} "
                f"{sum(r.errors for r in runs):6d}   "
                f"{values[0]:.0f}, {median(values):.0f}, {values[-1]:.0f}"
            )
    return result


def request_floor(setup: Setup, wrk: str, seconds: float) -> None:
    """With X-Accel-Redirect every seek is still one request to the app: its rate on the
    media route with no bytes to send caps accel; /api/v1/health is the stack's floor."""
    print("the app's request rate with no bytes to send (wrk -c32, no nginx):")
    for target in setup.floor:
        load = wrk_run(wrk, wrk_script(setup, target), target, 32, min(seconds, 3))
        print(
            f"  {target.name:<22} {load.requests_s:6.0f} req/s   p50 {load.p50_ms:5.1f} ms"
            f"   p99 {load.p99_ms:5.1f} ms"
        )


def first_bytes(
    setup: Setup, readers: int, closed_seconds: float, paced_seconds: float, pace_ms: float
) -> dict[str, float]:
    """TTFB of seeks, closed loop then paced; p99 per "phase server"."""
    p99: dict[str, float] = {}
    for phase, pace in (("closed", 0.0), ("paced", pace_ms / 1000)):
        seconds = paced_seconds if pace else closed_seconds
        what = (
            f"paced: each reader seeks every {pace_ms:.0f} ms on average"
            if pace
            else "closed loop: each reader reads its MiB, then seeks again at once"
        )
        print(
            f"time to first byte of a seek, {readers} readers, {seconds:.0f} s per server ({what})",
            flush=True,
        )
        print(
            f"  {'server':<7} {'seeks':>6} {'MB/s':>7} {'p50 ms':>7} {'p90 ms':>7} "
            f"{'p99 ms':>7} {'max ms':>7}"
        )
        for target in setup.targets:
            seeks = run_seeks(target, setup.size, readers, seconds, pace)
            values = seeks.ttfb_ms
            p99[f"{phase} {target.name}"] = percentile(values, 0.99)
            print(
                f"  {target.name:<7} {len(values):6d} {seeks.bytes / seconds / 1e6:7.0f} "
                f"{median(values):7.1f} {percentile(values, 0.9):7.1f} "
                f"{percentile(values, 0.99):7.1f} {max(values, default=float('nan')):7.1f}"
                + (f"   ({seeks.bad} answers not 206)" if seeks.bad else "")
            )
    return p99


def conclude(throughput: dict[tuple[str, int], float], p99: dict[str, float], readers: int) -> None:
    print("ratios (a server's MB/s over all its runs / nginx's over its runs, same rounds):")
    for connections in (8, 32):
        app = throughput[("app", connections)]
        accel = throughput[("accel", connections)]
        print(
            f"  {connections:>2} readers: app / nginx = {app:.2f} (≥ 0.50: {verdict(app >= 0.5)})"
            f"   accel / nginx = {accel:.2f} (≥ 0.95: {verdict(accel >= 0.95)})"
        )
    for phase in ("closed", "paced"):
        reference = p99[f"{phase} nginx"]
        print(
            f"  TTFB p99, {phase}, / nginx's: app {p99[f'{phase} app'] / reference:.1f}×, "
            f"accel {p99[f'{phase} accel'] / reference:.1f}×"
        )
    for phase in ("closed", "paced"):
        for name in ("app", "accel"):
            value = p99[f"{phase} {name}"]
            print(
                f"target TTFB p99 < 50 ms at {readers} readers ({phase}), {name}: "
                f"{value:.1f} ms ({verdict(value < 50)})"
            )
    for name, target in (("app", 0.5), ("accel", 0.95)):
        ratios = [throughput[(name, c)] for c in (8, 32)]
        figure = " and ".join(f"{r:.2f} ×" for r in ratios) + " nginx (8, 32 readers)"
        record(name, figure, all(r >= target for r in ratios))
    app_closed, accel_closed, app_paced, accel_paced = (
        p99[f"{phase} {name}"] for phase in ("closed", "paced") for name in ("app", "accel")
    )
    record(
        "ttfb",
        f"app {app_closed:.0f} / {app_paced:.0f} ms, "
        f"accel {accel_closed:.0f} / {accel_paced:.0f} ms (closed / paced)",
        max(app_closed, accel_closed, app_paced, accel_paced) < 50,
    )


def stop(setup: Setup) -> None:
    if setup.keeper is not None:
        setup.keeper.stopping.set()
        setup.keeper.join(5)
    if setup.nginx is not None:
        setup.nginx.terminate()
        try:
            setup.nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            setup.nginx.kill()
    for server in setup.servers:
        try:
            stop_server(server)
        except AssertionError as error:
            print(f"warning: {error}", file=sys.stderr)
    shutil.rmtree(setup.folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=25, help="runs per server and case")
    parser.add_argument("--proxy-mib", type=int, default=1536, help="size of the proxy file")
    parser.add_argument("--ttfb-seconds", type=float, default=5, help="closed loop, per server")
    parser.add_argument("--paced-seconds", type=float, default=10, help="paced, per server")
    parser.add_argument(
        "--seek-pace-ms", type=float, default=500, help="mean time between a paced reader's seeks"
    )
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    wrk = ensure_wrk()
    folder = Path(tempfile.mkdtemp(prefix="autoconf-bench-streaming-"))
    (folder / "data").mkdir()
    setup = Setup(folder, {}, args.proxy_mib * 1024 * 1024, [], [])
    readers = 32
    try:
        prepare(setup)
        throughput = throughputs(setup, wrk, args.seconds, args.rounds)
        request_floor(setup, wrk, args.seconds)
        p99 = first_bytes(setup, readers, args.ttfb_seconds, args.paced_seconds, args.seek_pace_ms)
        conclude(throughput, p99, readers)
    finally:
        stop(setup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
