"""The scheme synthesis over 1,000 recordings × 200 segments (200,000 segments) on SQLite.

A real `autoconf serve` on a fresh data folder. The study is made through the API; the
recordings and their segments go straight into its SQLite file (bulk inserts: the API
would take minutes to create 200,000 rows, and that is not what is measured). Each segment
carries one scheme code (sometimes a second), a tenth of them lie outside the recording's
"Diagnostic" phase. Timed through HTTP, median of 5 runs each:

- the synthesis as JSON (target 0.5 s), with and without the phase filter, with `count`;
- the synthesis as XLSX (target 3 s);
- reference: `GET /api/v1/health` (routing, sign-in, one query) in the same run.
"""

import argparse
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
from autoconf.models import Annotation, AnnotationCode, Recording
from tests.support import researcher_token, serve


def timed(http: httpx.Client, url: str, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = http.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
        size = len(response.content)
    return statistics.median(times), size


def fill(database: Path, study: int, schemes: list[int], phase: int, count: int, per: int) -> None:
    engine = create_engine(f"sqlite:///{database}")
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
        connection.execute(insert(Annotation), annotations)
        connection.execute(insert(AnnotationCode), links)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        headers = researcher_token(data)
        with serve(data) as url, httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            study = http.post("/api/v1/studies", json={"name": "Bench"}).json()["id"]
            books = {b["kind"]: b for b in http.get(f"/api/v1/studies/{study}/codebooks").json()}
            schemes = [c["id"] for c in books["schemes"]["codes"]]
            phase = books["phases"]["codes"][0]["id"]
            started = time.perf_counter()
            fill(data / "autoconf.sqlite3", study, schemes, phase, args.recordings, args.segments)
            filled = time.perf_counter() - started
            base = f"/api/v1/studies/{study}/synthesis"
            health, _ = timed(http, "/api/v1/health", args.runs)
            results = {
                "JSON, mark": timed(http, base, args.runs),
                "JSON, count": timed(http, f"{base}?value=count", args.runs),
                "JSON, mark in the Diagnostic phase": timed(
                    http, f"{base}?phase={phase}", args.runs
                ),
                "XLSX, mark": timed(http, f"{base}?format=xlsx", args.runs),
                "XLSX, duration": timed(http, f"{base}?format=xlsx&value=duration", args.runs),
            }
    total = args.recordings * (args.segments + 1)
    print(
        f"{args.recordings} recordings, {total} segments (+10 % with two schemes), "
        f"inserted in {filled:.1f} s"
    )
    print(f"reference GET /api/v1/health: {health * 1000:.1f} ms")
    for name, (seconds, size) in results.items():
        target = 3.0 if name.startswith("XLSX") else 0.5
        verdict = "target met" if seconds <= target else "target NOT met"
        print(
            f"{name}: {seconds:.3f} s, {size / 1024:.0f} KiB ({verdict}: {target} s), "
            f"ratio to health {seconds / health:.0f}"
        )


if __name__ == "__main__":
    main()
