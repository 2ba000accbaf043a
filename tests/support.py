"""A real `autoconf serve` process for tests that need real HTTP (concurrency, browsers)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(data_dir), "AUTOCONF_LOG_LEVEL": "warning"}
    env.pop("AUTOCONF_DATABASE_URL", None)
    return env


def cli(data_dir: Path, *args: str, stdin: str = "") -> str:
    return subprocess.run(
        [sys.executable, "-m", "autoconf.cli", *args],
        env=cli_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:  # not listening yet
        return False


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """Run the server on a free port until the block ends; yields its base URL."""
    port = free_port()
    log = data_dir / "server.log"  # a file, not a pipe: a full pipe would stall the server
    output = log.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "autoconf.cli", "serve", "--port", str(port)],
        env=cli_env(data_dir),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/api/v1/health"):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            raise AssertionError("the server did not stop within 10 s of SIGTERM") from None
        finally:
            output.close()


def researcher_token(data_dir: Path, username: str = "claire") -> dict[str, str]:
    """A migrated database with one researcher; their API token as request headers."""
    cli(data_dir, "migrate")
    cli(data_dir, "user", "add", username, "--role", "researcher", stdin="long-password\n")
    return {"Authorization": f"Bearer {cli(data_dir, 'token', 'create', username).strip()}"}


def study_with_recording(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Through the API: a new study and one recording (the demo session); their ids."""
    study = httpx.post(f"{url}/api/v1/studies", json={"name": "S"}, headers=headers).json()
    media = Path(__file__).parents[1] / "autoconf" / "demo" / "seance-demo.mp4"
    recording = httpx.post(
        f"{url}/api/v1/studies/{study['id']}/recordings",
        headers=headers,
        data={"code": "A1"},
        files={"file": ("a.mp4", media.read_bytes(), "video/mp4")},
    ).json()
    return study["id"], recording["id"]
