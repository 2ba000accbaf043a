"""32 concurrent clients creating and reading annotations through the API, on SQLite.

A real `autoconf serve` (one uvicorn process, the embedded SQLite default) on a fresh data
folder; the clients run in this process (asyncio, uvloop, one keep-alive connection each, a
minimal HTTP/1.1 client: `Connection`), on the same 2-core machine.
Each client alternates at random between creating a segment with a scheme code
(POST /recordings/{id}/annotations) and reading one back (GET /annotations/{id}).

Phases of SECONDS each, 32 clients each:
- paced: every client sends one request every PACE_MS on average (Poisson arrivals; default
  250 ms: 128 requests/s in all; an annotator marking, tagging and autosaving sends a few
  per second at most);
- saturated: no pause at all; latency is then queueing (Little's law: 32 / throughput).
Each phase is followed by its reference: the same clients, at the same pace, on
GET /api/v1/health (routing, a session, one SELECT) — the floor of this stack on this
machine, measured in the same run.

Then the same on PostgreSQL (AUTOCONF_TEST_POSTGRES_URL, else the local server; a fresh
database, dropped afterwards), reported without a target; `--no-postgres` skips it.

Target (issue 2, issue 19): p99 of a create under 25 ms, paced, on SQLite.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _targets import record  # bench/_targets.py: the target table
from streaming import run_client

from tests.support import cli_env, fresh_postgres, serve, study_with_recording


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Connection:
    """One keep-alive HTTP/1.1 connection, as light as can be: the clients share the server's
    2 cores, and a heavy client is part of every latency measured (httpx took 0.17 core
    paced and up to 0.58 saturated; this one 0.05). Enough HTTP for uvicorn's answers
    (Content-Length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: str):
        self.reader, self.writer, self.head = reader, writer, head

    @classmethod
    async def open(cls, url: str, token: str) -> "Connection":
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n")

    async def ask(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        extra = (
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            if body is not None
            else ""
        )
        request = f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode()
        self.writer.write(request + (body or b""))
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length = 0
        for line in head.split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def client(
    url: str,
    token: str,
    recording: int,
    scheme: int,
    deadline: float,
    pace: float,
    health_only: bool,
    samples: dict[str, list[float]],
    ids: list[int],
) -> None:
    rng = random.Random()
    http = await Connection.open(url, token)
    if pace:  # clients start apart, as people do, not in lockstep
        await asyncio.sleep(rng.uniform(0, pace))
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            if health_only:
                label, (status, _) = "health", await http.ask("GET", "/api/v1/health")
            elif not ids or rng.random() < 0.5:
                start = rng.randrange(0, 120_000)
                label = "create"
                body = {"start_ms": start, "end_ms": start + 3000, "code_ids": [scheme]}
                status, answer = await http.ask(
                    "POST",
                    f"/api/v1/recordings/{recording}/annotations",
                    json.dumps({**body, "note": "bench"}).encode(),
                )
                if status == 201:
                    ids.append(json.loads(answer)["id"])
            else:
                path = f"/api/v1/annotations/{rng.choice(ids)}"
                label, (status, _) = "read", await http.ask("GET", path)
            elapsed = time.perf_counter() - started
            samples.setdefault(label if status < 300 else "errors", []).append(elapsed * 1000)
            if pace:  # Poisson arrivals around the mean pace
                await asyncio.sleep(max(0.0, rng.expovariate(1 / pace) - elapsed))
    finally:
        http.close()


async def phase(
    url: str,
    token: str,
    recording: int,
    scheme: int,
    clients: int,
    seconds: float,
    pace: float,
    health_only: bool,
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    ids: list[int] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            client(url, token, recording, scheme, deadline, pace, health_only, samples, ids)
            for _ in range(clients)
        )
    )
    return samples


def show(name: str, samples: dict[str, list[float]], seconds: float) -> dict[str, float]:
    figures: dict[str, float] = {}
    for label in ("create", "read", "health"):
        values = samples.get(label)
        if not values:
            continue
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        figures[label + "_p50"], figures[label + "_p99"] = p50, p99
        figures[label + "_rate"] = len(values) / seconds
        print(
            f"  {name:<10} {label:<6} {len(values) / seconds:6.0f} req/s   "
            f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
        )
    if samples.get("errors"):
        print(f"  {name:<10} errors {len(samples['errors'])}")
    return figures


def setup(data: Path, database: str | None) -> str:
    """A migrated database with one researcher (`bench`); their API token."""
    env = {**cli_env(data), **({"AUTOCONF_DATABASE_URL": database} if database else {})}

    def run(*args: str, stdin: str = "") -> str:
        command = [sys.executable, "-m", "autoconf.cli", *args]
        done = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
        done.check_returncode()
        return done.stdout

    run("migrate")
    run("user", "add", "bench", "--role", "researcher", stdin="long-password\n")
    return run("token", "create", "bench").strip()


def measure(args: argparse.Namespace, name: str, database: str | None) -> dict[str, dict]:
    """The four phases on one database (None: the embedded SQLite)."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        token = setup(data, database)
        headers = {"Authorization": f"Bearer {token}"}
        env = {"AUTOCONF_DATABASE_URL": database} if database else None
        with serve(data, env) as url:
            study_id, recording = study_with_recording(url, headers)
            deadline = time.monotonic() + 60  # let its media job finish: ffmpeg is not measured
            while time.monotonic() < deadline:
                view = httpx.get(f"{url}/api/v1/recordings/{recording}", headers=headers).json()
                if view["status"] in ("ready", "failed"):
                    break
                time.sleep(0.2)
            books = httpx.get(f"{url}/api/v1/studies/{study_id}/codebooks", headers=headers).json()
            scheme = next(b for b in books if b["kind"] == "schemes")["codes"][0]["id"]
            print(
                f"annotations API: {args.clients} clients, {args.seconds:.0f} s per phase, "
                f"{name}, one uvicorn process, {os.cpu_count()} cores (clients included)"
            )
            results = {}
            paced = args.pace_ms / 1000
            for phase_name, pace, health in (
                ("paced", paced, False),
                ("paced ref", paced, True),
                ("saturated", 0.0, False),
                ("sat. ref", 0.0, True),
            ):
                cpu = time.process_time()
                try:
                    samples = run_client(
                        phase(
                            url, token, recording, scheme, args.clients, args.seconds, pace, health
                        )
                    )
                except (OSError, asyncio.IncompleteReadError):
                    print((data / "server.log").read_text()[-3000:])
                    raise
                results[phase_name] = show(phase_name, samples, args.seconds)
                used = (time.process_time() - cpu) / args.seconds
                print(f"  {phase_name:<10} client CPU {used:.2f} core (all the clients)")
    for phase_name, ref_name in (("paced", "paced ref"), ("saturated", "sat. ref")):
        api, ref = results[phase_name], results[ref_name]
        print(
            f"  {phase_name:<10} create p50 / health p50 = "
            f"{api['create_p50'] / ref['health_p50']:.2f}"
            f"   create p99 / health p99 = {api['create_p99'] / ref['health_p99']:.2f}"
        )
    sat = results["saturated"]
    print(f"  saturated create throughput: {sat['create_rate']:.0f} req/s")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--pace-ms", type=float, default=250)
    parser.add_argument(
        "--no-postgres", action="store_true", help="SQLite only (no PostgreSQL report)"
    )
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    sqlite = measure(args, "SQLite", None)
    if not args.no_postgres:
        with fresh_postgres("autoconf_bench") as database:
            measure(args, "PostgreSQL (reported, no target)", database)
    target = sqlite["paced"]["create_p99"]
    verdict = "met" if target < 25 else "NOT met"
    record("create", f"{target:.1f} ms", target < 25)
    print(
        f"target p99 create < 25 ms at {args.clients} clients × "
        f"{1000 / args.pace_ms:.0f} req/s (SQLite): {target:.1f} ms ({verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
