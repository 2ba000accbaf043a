"""The ASGI servers and ways of sending a file, side by side: which can serve random 1 MiB
ranges at half of nginx's rate (issue 19, item 2)?

One small Starlette app (`servers_app.py`, nothing of autoconf: the server and the way of
sending are what is measured) answers `Range: bytes=a-(a+1 MiB-1)` on a 1 GiB file of
random bytes (in the page cache) three ways:

- `read`: Starlette's `FileResponse`, 1 MiB chunks (each read into a new `bytes`, then
  copied by the socket: two copies of every byte);
- `mapped`: the part sent from the file mapped in memory, the mapping kept (autoconf's way,
  `autoconf/media/reading.py`: one copy, the socket's);
- `zerocopy`: the ASGI zero-copy send extension (`os.sendfile` by the server) where the
  server offers it, else `read`.

Servers: uvicorn (httptools, uvloop: what `autoconf serve` runs), granian (Rust; ASGI), and
anycorn (a Hypercorn fork offering the zero-copy send extension), each with one process,
against nginx (the reference: two workers, sendfile, as `streaming.py` runs it). granian
and anycorn are not autoconf's dependencies: they are installed in `bench/.cache/servers-venv`
the first time. wrk -t2 at 8 and 32 connections, SECONDS per run, ROUNDS rounds in
alternating order; medians. Everything runs on the same machine, clients included.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from streaming import (  # noqa: E402 (bench/streaming.py)
    NGINX,
    ensure_wrk,
    fill_random,
    nginx_main,
    wait_listening,
)

from tests.support import free_port  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "servers-venv"
PACKAGES = ["granian", "anycorn", "uvicorn[standard]", "starlette"]
SPAN = 1024 * 1024

APP = """
import mmap
import os

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.responses import FileResponse
from starlette.routing import Route

PATH = os.environ["BENCH_FILE"]
STAT = os.stat(PATH)
MAPPED = mmap.mmap(os.open(PATH, os.O_RDONLY), 0, prot=mmap.PROT_READ)
VIEW = memoryview(MAPPED)


class Part(FileResponse):
    chunk_size = 1024 * 1024
    way = "read"

    async def __call__(self, scope, receive, send):
        self.scope = scope
        await super().__call__(scope, receive, send)

    async def _handle_single_range(self, send, start, end, file_size, send_header_only):
        zerocopy = "http.response.zerocopysend" in self.scope.get("extensions", {})
        if self.way == "read" or (self.way == "zerocopy" and not zerocopy):
            return await super()._handle_single_range(send, start, end, file_size, send_header_only)
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if self.way == "zerocopy":
            with open(self.path, "rb") as file:
                await send({"type": "http.response.zerocopysend", "file": file,
                            "offset": start, "count": end - start, "more_body": False})
            return
        first = start - start % mmap.PAGESIZE
        await anyio.to_thread.run_sync(MAPPED.madvise, 22, first, end - first)  # POPULATE_READ
        await send({"type": "http.response.body", "body": VIEW[start:end], "more_body": False})


def route(way):
    async def answer(request):
        response = Part(PATH, media_type="video/mp4", stat_result=STAT)
        response.way = way
        return response
    return Route("/" + way, answer)


app = Starlette(routes=[route("read"), route("mapped"), route("zerocopy")])
"""

WRK = """
local size = {size}
local span = {span}
function request()
  local a = math.floor(math.random() * (size - span + 1))
  return wrk.format("GET", wrk.path, {{["Range"] = string.format("bytes=%d-%d", a, a + span - 1)}})
end
function done(summary, latency, requests)
  io.write(string.format("BENCH bytes=%d duration_us=%d errors=%d\\n", summary.bytes,
    summary.duration, summary.errors.read + summary.errors.status + summary.errors.timeout))
end
"""

NGINX_SERVER = """
    server {{
        listen 127.0.0.1:{port};
        location = /file {{
            alias {file};
            default_type video/mp4;
            sendfile on;
            tcp_nopush off;
            aio threads;
            output_buffers 2 1m;
            open_file_cache max=1000 inactive=30s;
        }}
    }}
"""


def servers_venv() -> Path:
    python = CACHE / "bin" / "python"
    if not python.exists():
        print(f"installing {', '.join(PACKAGES)} into {CACHE.relative_to(ROOT)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(CACHE)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True, timeout=600
        )
    return CACHE / "bin"


def wrk_mb_s(wrk: str, script: Path, url: str, connections: int, seconds: float) -> float:
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures for {url}: {out}")
    fields = dict(pair.split("=") for pair in line.split()[1:])
    if int(fields["errors"]):
        print(f"  ({fields['errors']} errors on {url})")
    return int(fields["bytes"]) / (int(fields["duration_us"]) / 1e6) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per case (median)")
    parser.add_argument("--file-mib", type=int, default=1024, help="size of the file read")
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    wrk = ensure_wrk()
    bin_dir = servers_venv()
    folder = Path(tempfile.mkdtemp(prefix="autoconf-bench-servers-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        file = folder / "media.bin"
        size = args.file_mib * SPAN
        fill_random(file, size)
        (folder / "servers_app.py").write_text(APP)
        script = folder / "ranges.lua"
        script.write_text(WRK.format(size=size, span=SPAN))
        env = {**os.environ, "BENCH_FILE": str(file), "PYTHONPATH": str(folder)}
        ports = {name: free_port() for name in ("nginx", "uvicorn", "granian", "anycorn")}
        (folder / "nginx.conf").write_text(
            nginx_main(folder, NGINX_SERVER.format(port=ports["nginx"], file=file))
        )
        commands = {
            "nginx": [NGINX, "-p", f"{folder}/", "-c", str(folder / "nginx.conf")],
            "uvicorn": [str(bin_dir / "uvicorn"), "servers_app:app", "--port",
                        str(ports["uvicorn"]), "--log-level", "warning", "--no-access-log"],
            "granian": [str(bin_dir / "granian"), "--interface", "asgi", "--workers", "1",
                        "--port", str(ports["granian"]), "--log-level", "warning",
                        "servers_app:app"],
            "anycorn": [str(bin_dir / "anycorn"), "-b", f"127.0.0.1:{ports['anycorn']}",
                        "servers_app:app"],
        }  # fmt: skip
        for name, command in commands.items():
            log = folder / f"{name}.log"
            processes.append(
                process := subprocess.Popen(
                    command,
                    cwd=folder,
                    env=env,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # granian's worker process goes with it
                )
            )
            wait_listening(ports[name], process, log)
        cases = [("nginx", "sendfile", f"http://127.0.0.1:{ports['nginx']}/file")]
        for server in ("uvicorn", "granian", "anycorn"):
            for way in ("read", "mapped", "zerocopy"):
                cases.append((server, way, f"http://127.0.0.1:{ports[server]}/{way}"))
        for _, _, url in cases:
            wrk_mb_s(wrk, script, url, 8, 1)  # warm-up
        print(
            f"random 1 MiB ranges of a {args.file_mib} MiB file (page cache), wrk -t2, "
            f"{args.seconds:.0f} s × {args.rounds} rounds, one server process "
            f"(nginx: 2 workers), {os.cpu_count()} cores (clients included)",
            flush=True,
        )
        figures: dict[tuple[str, str, int], list[float]] = {}
        for round_index in range(args.rounds):
            order = cases if round_index % 2 == 0 else cases[::-1]
            for connections in (8, 32):
                for server, way, url in order:
                    figure = wrk_mb_s(wrk, script, url, connections, args.seconds)
                    figures.setdefault((server, way, connections), []).append(figure)
        print(f"  {'server':<8} {'sending':<9} {'8 readers':>16} {'32 readers':>16}")
        reference = {c: statistics.median(figures[("nginx", "sendfile", c)]) for c in (8, 32)}
        for server, way, _ in cases:
            cells = []
            for connections in (8, 32):
                value = statistics.median(figures[(server, way, connections)])
                cells.append(f"{value:6.0f} MB/s {value / reference[connections]:.2f}×")
            print(f"  {server:<8} {way:<9} {cells[0]:>16} {cells[1]:>16}")
        print("  (× nginx, same run; zerocopy = read where the server does not offer it)")
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
