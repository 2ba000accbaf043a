"""The scheme synthesis over 1,000 recordings × 200 segments (200,000 segments) on SQLite,
and over 2,000 × 250 (500,000) on PostgreSQL (a lab's server, issue 20).

A real `autoconf serve` on a fresh data folder (and a fresh PostgreSQL database). The study
is made through the API; the recordings and their segments go straight into its database
(bulk inserts: the API would take minutes to create 200,000 rows, and that is not what is
measured). Each segment
carries one scheme code (sometimes a second), a tenth of them lie outside the recording's
"Diagnostic" phase. Timed through HTTP, median of 5 runs each:

- the synthesis as JSON (target 0.5 s on SQLite, 1 s on PostgreSQL at 500,000), with and
  without the phase filter, with `count`;
- the synthesis as XLSX (target 3 s);
- reference: `GET /api/v1/health` (routing, sign-in, one query) in the same run.
"""

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _targets import record  # bench/_targets.py: the target table

from autoconf.models import Annotation, AnnotationCode, Recording
from tests.support import fresh_postgres, researcher_token, serve


def timed(http: httpx.Client, url: str, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = http.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
        size = len(response.content)
    return statistics.median(times), size


def fill(url: str, study: int, schemes: list[int], phase: int, count: int, per: int) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    rng = random.Random(5)
    with engine.begin() as connection:
        recordings = [
            {
                "study_id": study,
                "code": f"A{number:04d}",
                "status": "ready",
                "original_filename": "bench.mp4",
                "original_size": 0,
                "original_sha256": "",
                "media_type": "video/mp4",
                "storage_key": "",
                "duration_ms": 5_400_000,
                "media_info": {},
                "proxy_key": "",
                "created_at": now,
            }
            for number in range(count)
        ]
        connection.execute(insert(Recording), recordings)
        ids = [row[0] for row in connection.execute(text("SELECT id FROM recording ORDER BY id"))]
        next_id = (connection.execute(text("SELECT max(id) FROM annotation")).scalar() or 0) + 1
        annotations, links = [], []
        for recording in ids:
            rows = [(0, 3_600_000, [phase])]
            for _ in range(per):
                start = rng.randrange(0, 5_300_000)
                codes = [rng.choice(schemes)]
                if rng.random() < 0.1:
                    codes.append(rng.choice(schemes))
                rows.append((start, start + rng.randrange(2000, 60_000), codes))
            for start, end, codes in rows:
                annotations.append(
                    {
                        "id": next_id,
                        "recording_id": recording,
                        "start_ms": start,
                        "end_ms": end,
                        "note": "",
                        "fields": {},
                        "origin": "coding",
                        "layer": "schemes",
                        "shared": True,
                        "verbatims": [],
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                links += [{"annotation_id": next_id, "code_id": c} for c in set(codes)]
                next_id += 1
        for first in range(0, len(annotations), 50_000):
            connection.execute(insert(Annotation), annotations[first : first + 50_000])
        for first in range(0, len(links), 50_000):
            connection.execute(insert(AnnotationCode), links[first : first + 50_000])
        if engine.dialect.name == "postgresql":  # ids given here: the sequence follows them
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('annotation', 'id'), max(id)) "
                    "FROM annotation"
                )
            )
            connection.execute(text("ANALYZE"))
    engine.dispose()


def measure(database: str, recordings: int, segments: int, runs: int) -> None:
    with contextlib.ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env: dict[str, str] = {}
        url = f"sqlite:///{data / 'autoconf.sqlite3'}"
        if database == "postgresql":
            url = stack.enter_context(fresh_postgres("autoconf_bench"))
            env["AUTOCONF_DATABASE_URL"] = url
        headers = researcher_token(data, env=env)
        base_url = stack.enter_context(serve(data, env))
        http = stack.enter_context(httpx.Client(base_url=base_url, headers=headers, timeout=120))
        study = http.post("/api/v1/studies", json={"name": "Bench"}).json()["id"]
        books = {b["kind"]: b for b in http.get(f"/api/v1/studies/{study}/codebooks").json()}
        schemes = [c["id"] for c in books["schemes"]["codes"]]
        phase = books["phases"]["codes"][0]["id"]
        started = time.perf_counter()
        fill(url, study, schemes, phase, recordings, segments)
        filled = time.perf_counter() - started
        base = f"/api/v1/studies/{study}/synthesis"
        health, _ = timed(http, "/api/v1/health", runs)
        results = {
            "JSON, mark": timed(http, base, runs),
            "JSON, count": timed(http, f"{base}?value=count", runs),
            "JSON, mark in the Diagnostic phase": timed(http, f"{base}?phase={phase}", runs),
            "XLSX, mark": timed(http, f"{base}?format=xlsx", runs),
            "XLSX, duration": timed(http, f"{base}?format=xlsx&value=duration", runs),
        }
    total = recordings * (segments + 1)
    json_target = 1.0 if database == "postgresql" else 0.5
    print(
        f"{database}: {recordings} recordings, {total} segments (+10 % with two schemes), "
        f"inserted in {filled:.1f} s"
    )
    print(f"  reference GET /api/v1/health: {health * 1000:.1f} ms")
    worst_json = 0.0
    for name, (seconds, size) in results.items():
        target = 3.0 if name.startswith("XLSX") else json_target
        if name.startswith("JSON"):
            worst_json = max(worst_json, seconds)
        verdict = "target met" if seconds <= target else "target NOT met"
        print(
            f"  {name}: {seconds:.3f} s, {size / 1024:.0f} KiB ({verdict}: {target} s), "
            f"ratio to health {seconds / health:.0f}"
        )
    if database == "postgresql":
        record(
            "team_synthesis",
            f"{total:,} segments: slowest JSON {worst_json:.2f} s",
            worst_json <= json_target,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--team-recordings", type=int, default=2000)
    parser.add_argument("--team-segments", type=int, default=250)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    if args.database in ("sqlite", "both"):
        measure("sqlite", args.recordings, args.segments, args.runs)
    if args.database in ("postgresql", "both"):
        measure("postgresql", args.team_recordings, args.team_segments, args.runs)


if __name__ == "__main__":
    main()
