"""What one request costs the app, layer by layer (issue 19: where the time goes).

`GET /api/v1/health` answers ~800 requests/s at 32 connections while an X-Accel media answer
goes out at ~7,000/s: this benchmark takes the difference apart. Each case is a real uvicorn
process (loop and HTTP parser as `autoconf serve` picks them) loaded by wrk (1 thread, 32
connections; wrk and the server share the 2 cores), the same short JSON answer each time:

- `bare ASGI`: an ASGI function that answers at once: uvicorn's own floor, the reference;
- `FastAPI async` / `FastAPI sync`: a FastAPI app with one route, `async def` / `def` (a sync
  route runs in anyio's thread pool: one hop there and back);
- `app, route first` / `app, route last`: the autoconf app (its middleware, its routers) with a
  test router holding the same route, put first in the route table, or last (where every
  router of the app is tried before it); `… no middleware` the same app without its four
  middlewares;
- `app, session` : the route first, with the request's database session (`SessionDep`: a
  slot, a `Session`, `SELECT 1`, the session closed in a worker thread) — what /health does;
- `/api/v1/health` as it is.

Each line prints requests/s, the time per request (1 / rate, one core busy), and the ratio to
the reference. `.venv/bin/python bench/request_cost.py [--seconds 5]`.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

APPS = textwrap.dedent(
    """
    from fastapi import APIRouter, FastAPI
    from sqlalchemy import text

    from autoconf.api.deps import SessionDep
    from autoconf.app import create_app
    from autoconf.settings import Settings


    async def bare(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


    minimal = FastAPI()


    @minimal.get("/ping")
    async def ping_async() -> dict[str, str]:
        return {"status": "ok"}


    @minimal.get("/ping-sync")
    def ping_sync() -> dict[str, str]:
        return {"status": "ok"}


    probe = APIRouter()


    @probe.get("/bench/ping")
    async def probe_ping() -> dict[str, str]:
        return {"status": "ok"}


    @probe.get("/bench/session")
    async def probe_session(session: SessionDep) -> dict[str, str]:
        session.exec(text("SELECT 1"))
        return {"status": "ok"}


    def _app(first: bool, middleware: bool = True):
        app = create_app(Settings())
        app.include_router(probe)
        if first:
            app.router.routes.insert(0, app.router.routes.pop())
        if not middleware:
            app.user_middleware.clear()
        return app


    app_first = _app(True)
    app_last = _app(False)
    app_bare = _app(True, middleware=False)
    """
)

# (label, ASGI object in bench_apps, path)
CASES = [
    ("bare ASGI (reference)", "bare", "/"),
    ("FastAPI async", "minimal", "/ping"),
    ("FastAPI sync", "minimal", "/ping-sync"),
    ("app, route first, no middleware", "app_bare", "/bench/ping"),
    ("app, route first", "app_first", "/bench/ping"),
    ("app, route last", "app_last", "/bench/ping"),
    ("app, route first, session", "app_first", "/bench/session"),
    ("app, /api/v1/health", "app_first", "/api/v1/health"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    root = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*root, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


def serve(folder: Path, target: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}",
        "AUTOCONF_DATA_DIR": str(folder / "data"),
        "AUTOCONF_LOG_LEVEL": "warning",
    }
    command = [str(PYTHON), "-m", "uvicorn", f"bench_apps:{target}", "--port", str(port)]
    command += ["--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{target} did not start") from None
            time.sleep(0.1)
    raise SystemExit(f"{target} did not listen on {port}")


def rate(wrk: str, url: str, seconds: float) -> float:
    subprocess.run([wrk, "-t1", "-c8", "-d1s", url], capture_output=True, check=True)  # warm
    output = subprocess.run(
        [wrk, "-t1", "-c32", f"-d{seconds:.0f}s", url], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not found or "Non-2xx" in output:
        raise SystemExit(f"wrk on {url}:\n{output}")
    return float(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of one wrk run")
    args, _ = parser.parse_known_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="autoconf-bench-") as tmp:
        folder = Path(tmp)
        (folder / "bench_apps.py").write_text(APPS)
        subprocess.run(
            [str(PYTHON), "-m", "autoconf.cli", "demo"],
            env={**os.environ, "AUTOCONF_DATA_DIR": str(folder / "data")},
            capture_output=True,
            check=True,
        )
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            results = []
            for label, target, path in CASES:
                if target not in servers:
                    port = free_port()
                    servers[target] = (serve(folder, target, port), port)
                results.append(
                    (label, rate(wrk, f"http://127.0.0.1:{servers[target][1]}{path}", args.seconds))
                )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)
    reference = results[0][1]
    print(f"request cost, wrk -t1 -c32, {args.seconds:.0f} s per case (2 cores shared with wrk)")
    print(f"{'case':36} {'req/s':>9} {'ms/req':>8} {'× bare':>8}")
    for label, value in results:
        print(f"{label:36} {value:9.0f} {1000 / value:8.3f} {value / reference:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
