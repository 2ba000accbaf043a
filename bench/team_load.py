"""A lab's server under its team (issue 20): PostgreSQL, `autoconf serve --workers 2` and one
`autoconf worker`, 100 simulated users for 2 minutes (locust, bench/_team_locustfile.py):
50 browsing, 20 annotating at a coder's pace, 20 playing a video at 2 Mbit/s, 5 live
sessions (a researcher driving, the counsellor following on another socket).

Set-up, through the API of the running server: a study with 5 researchers and 5
counsellors, 10 recordings of the demo session (processed by the worker) with 200 coded
segments each, 5 live sessions started. Then locust, headless: a reference run of the same
mix at 10 users for 30 s (the 5 live pairs and 5 others), then 100 users for 120 s.

Reported: p50/p95/p99 of the API requests (every HTTP request but the media ranges), the
media ranges' and the live controls' (sender to follower) apart; errors of every kind
(target: API p95 < 100 ms, no error); ratio of each to the reference run's.

Options: `--users 100 --seconds 120 --reference-users 10 --reference-seconds 30`.
About 5 minutes.
"""

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _targets import record  # bench/_targets.py: the target table

from autoconf.db import make_engine
from tests import factories
from tests.support import cli, cli_env, fresh_postgres, start_server, stop_server, wait_for

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = 10
SEGMENTS = 200
LOCUSTFILE = ROOT / "bench" / "_team_locustfile.py"


def prepare(url: str, engine: Any, folder: Path) -> dict[str, Any]:
    """The study, its people, recordings and live sessions; the setup file's content."""
    researchers = [factories.account(engine, f"r{n}", "researcher") for n in range(5)]
    tokens = [factories.token(engine, who) for who in researchers]
    api = httpx.Client(base_url=url, headers=tokens[0], timeout=60)
    study = api.post("/api/v1/studies", json={"name": "Labo"}).json()["id"]
    for who in researchers[1:]:
        added = api.post(
            f"/api/v1/studies/{study}/members",
            json={"username": who.username, "role": "researcher"},
        )
        assert added.status_code == 201, added.text
    counsellors = [
        factories.counsellor_member(engine, api, study, f"c{n}", f"A{n}")  # type: ignore[arg-type]
        for n in range(5)
    ]
    recordings = []
    for n in range(RECORDINGS):
        extra = {"counsellor_id": counsellors[n][1]} if n < 5 else {}
        made = factories.upload(api, study, f"A{n % 5} - {n}", **extra)  # type: ignore[arg-type]
        assert made.status_code == 201, made.text
        factories.consent_all(api, made.json()["id"])  # type: ignore[arg-type]
        recordings.append(made.json()["id"])
    wait_for(
        lambda: all(
            api.get(f"/api/v1/recordings/{r}").json()["status"] == "ready" for r in recordings
        ),
        300,
        "the worker processing the recordings",
    )
    books = {b["kind"]: b for b in api.get(f"/api/v1/studies/{study}/codebooks").json()}
    schemes = [c["id"] for c in books["schemes"]["codes"]]
    for recording in recordings:
        for n in range(SEGMENTS):
            start = (n * 600) % 130_000
            body = {
                "start_ms": start,
                "end_ms": start + 2_000,
                "code_ids": [schemes[n % len(schemes)]],
            }
            made = api.post(f"/api/v1/recordings/{recording}/annotations", json=body)
            assert made.status_code == 201, made.text
    live = []
    for n in range(5):
        started = api.post(f"/api/v1/recordings/{recordings[n]}/live")
        assert started.status_code == 201, started.text
        live.append(
            {
                "id": started.json()["id"],
                "researcher": tokens[n],
                "counsellor": factories.token(engine, counsellors[n][0]),
            }
        )
    size = int(api.head(f"/api/v1/recordings/{recordings[0]}/media").headers["content-length"])
    duration = api.get(f"/api/v1/recordings/{recordings[0]}").json()["duration_ms"]
    return {
        "researchers": tokens,
        "study": study,
        "recordings": recordings,
        "scheme": schemes[0],
        "live": live,
        "media_bytes": size,
        "duration_ms": duration,
    }


def swarm(url: str, folder: Path, users: int, seconds: int, name: str) -> list[list[Any]]:
    """locust, headless, for `seconds`: every request's (kind, name, ms, failed)."""
    times = folder / f"{name}.json"
    env = {
        **cli_env(folder),
        "AUTOCONF_TEAM_SETUP": str(folder / "setup.json"),
        "AUTOCONF_TEAM_TIMES": str(times),
    }
    command = [
        str(ROOT / ".venv" / "bin" / "locust"),
        "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "-u", str(users), "-r", str(max(1, users // 10)), "-t", f"{seconds}s",
        "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if not times.exists():
        raise RuntimeError(f"locust failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(times.read_text())


def summary(times: list[list[Any]]) -> dict[str, tuple[int, float, float, float, int]]:
    """By kind (api, media, live): count, p50, p95, p99 (ms), failures."""
    kinds: dict[str, list[list[Any]]] = {"api": [], "media": [], "live": []}
    for entry in times:
        kind = "live" if entry[0] == "WS" else "media" if "/media" in entry[1] else "api"
        kinds[kind].append(entry)
    found = {}
    for kind, entries in kinds.items():
        ms = sorted(e[2] for e in entries) or [0.0]
        cuts = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0]] * 99
        found[kind] = (len(entries), cuts[49], cuts[94], cuts[98], sum(1 for e in entries if e[3]))
    return found


def slowest(times: list[list[Any]], count: int) -> list[tuple[str, float, int]]:
    """The API requests' names with the highest p95: (name, p95 ms, requests)."""
    by_name: dict[str, list[float]] = {}
    for kind, name, ms, _ in times:
        if kind != "WS" and "/media" not in name:
            by_name.setdefault(name, []).append(ms)
    found = [
        (name, statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else ms[0], len(ms))
        for name, ms in by_name.items()
    ]
    return sorted(found, key=lambda entry: -entry[1])[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--reference-users", type=int, default=10)
    parser.add_argument("--reference-seconds", type=int, default=30)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        database = stack.enter_context(fresh_postgres("autoconf_team"))
        env = {
            "AUTOCONF_DATABASE_URL": database,
            "AUTOCONF_MEDIA_WORKERS": "0",
            "AUTOCONF_LOG_LEVEL": "warning",
        }
        cli(folder, "migrate", env=env)
        server = start_server(folder, env, args=("--workers", "2"))
        stack.callback(stop_server, server)
        worker = subprocess.Popen(
            [sys.executable, "-m", "autoconf.cli", "worker"],
            env={**cli_env(folder), **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(worker.terminate)
        engine = make_engine(database)
        stack.callback(engine.dispose)
        started = time.perf_counter()
        setup = prepare(server.url, engine, folder)
        (folder / "setup.json").write_text(json.dumps(setup))
        print(
            f"set-up: {RECORDINGS} recordings, {RECORDINGS * SEGMENTS} segments, 5 live "
            f"sessions in {time.perf_counter() - started:.0f} s"
        )
        reference = summary(
            swarm(server.url, folder, args.reference_users, args.reference_seconds, "reference")
        )
        load_times = swarm(server.url, folder, args.users, args.seconds, "load")
        loaded = summary(load_times)
    print(
        f"PostgreSQL, 2 app processes, 1 worker; {args.users} users for {args.seconds} s "
        f"(reference: {args.reference_users} users for {args.reference_seconds} s)"
    )
    for kind, label in (("api", "API"), ("media", "media 1 MiB ranges"), ("live", "live controls")):
        count, p50, p95, p99, failed = loaded[kind]
        ref = reference[kind]
        print(
            f"  {label}: {count} requests, p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
            f"{failed} errors; p95 ratio to the reference run {p95 / max(ref[2], 0.1):.1f} "
            f"(reference p95 {ref[2]:.1f} ms, {ref[4]} errors)"
        )
    print("  slowest API requests (p95 by name):")
    for name, p95, count in slowest(load_times, 6):
        print(f"    {name}: p95 {p95:.0f} ms ({count} requests)")
    errors = sum(entry[4] for entry in loaded.values())
    api_p95 = loaded["api"][2]
    met = api_p95 < 100 and errors == 0
    print(f"  target (API p95 < 100 ms, no error): {'met' if met else 'NOT met'}")
    record("team_load", f"API p95 {api_p95:.0f} ms, {errors} errors", met)
    return 0


if __name__ == "__main__":
    sys.exit(main())
