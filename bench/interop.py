"""Exchanges with other tools on a densely coded recording: 3,000 scheme segments (a tenth
with two codes, a fifth with a note and a structured field) and 1,500 transcript cues.

A real `autoconf serve` on a fresh data folder; the recordings (the demo session, not
processed: no duration limit) are made through the API, the annotations go straight into
its SQLite file. Timed through HTTP, median of `--runs`:

- the ELAN file of the recording (`GET …/export.eaf`, target 1 s);
- its preview (`POST …/import/eaf`, the file alone, target 1 s) and its import into a fresh
  recording of the same study (with the suggested mapping, target 3 s);
- the study as a REFI-QDA project, media referenced (`GET …/export.qdpx`, target 2 s), the
  dense recording being the only one with annotations;
- references in the same run: pympi-ling reading the same ELAN file (a library made for it),
  and `GET /api/v1/health`.
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pympi
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autoconf.models import Annotation, AnnotationCode
from tests.support import cli_env, researcher_token, serve

DEMO = Path(__file__).resolve().parents[1] / "autoconf" / "demo" / "seance-demo.mp4"


def median(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fill(database: Path, recording: int, author: int, schemes: list[int], segments: int) -> None:
    rng = random.Random(17)
    now = datetime.now(UTC)
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        next_id = (connection.execute(text("SELECT max(id) FROM annotation")).scalar() or 0) + 1
        rows, links = [], []
        for number in range(segments + segments // 2):
            cue = number >= segments
            start = rng.randrange(0, 5_300_000)
            noted = not cue and rng.random() < 0.2
            rows.append(
                {
                    "id": next_id,
                    "recording_id": recording,
                    "start_ms": start,
                    "end_ms": start + rng.randrange(1_000, 30_000),
                    "note": f"réplique {number}"
                    if cue
                    else ("reformule & <vérifie>" if noted else ""),
                    "speaker": ("Conseillère" if number % 2 else "Bénéficiaire") if cue else None,
                    "fields": {"but": "faire préciser"} if noted else {},
                    "origin": "transcript" if cue else "coding",
                    "layer": "transcript" if cue else "schemes",
                    "shared": True,
                    "verbatims": [],
                    "author_id": author,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if not cue:
                codes = {rng.choice(schemes)}
                if rng.random() < 0.1:
                    codes.add(rng.choice(schemes))
                links += [{"annotation_id": next_id, "code_id": c} for c in codes]
            next_id += 1
        connection.execute(insert(Annotation), rows)
        connection.execute(insert(AnnotationCode), links)
    engine.dispose()


def upload(http: httpx.Client, study: int, code: str) -> int:
    answer = http.post(
        f"/api/v1/studies/{study}/recordings",
        data={"code": code},
        files={"file": ("seance.mp4", DEMO.read_bytes(), "video/mp4")},
    )
    assert answer.status_code == 201, answer.text
    recording: int = answer.json()["id"]
    for party in ("counsellor", "beneficiary"):  # the transcript is exported with consents
        given = http.post(
            f"/api/v1/recordings/{recording}/consents",
            json={"party": party, "scopes": ["research"], "given_on": "2025-01-15"},
        )
        assert given.status_code == 201, given.text
    return recording


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coded", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        headers = researcher_token(data)
        # No media worker: the recordings stay unprocessed, with no duration to hold the
        # 90 minutes of annotations.
        env = {**cli_env(data), "AUTOCONF_MEDIA_WORKERS": "0"}
        with (
            serve(data, env) as url,
            httpx.Client(base_url=url, headers=headers, timeout=300) as http,
        ):
            study = http.post("/api/v1/studies", json={"name": "Bench"}).json()["id"]
            books = {b["kind"]: b for b in http.get(f"/api/v1/studies/{study}/codebooks").json()}
            schemes = [c["id"] for c in books["schemes"]["codes"]]
            me = http.get("/api/v1/me").json()["id"]
            source = upload(http, study, "A1")
            fill(data / "autoconf.sqlite3", source, me, schemes, args.coded)
            fresh = [upload(http, study, f"B{n}") for n in range(args.runs)]

            eaf = b""

            def export() -> None:
                nonlocal eaf
                answer = http.get(f"/api/v1/recordings/{source}/export.eaf")
                assert answer.status_code == 200, answer.text[:300]
                eaf = answer.content

            def preview() -> dict[str, Any]:
                answer = http.post(
                    f"/api/v1/recordings/{fresh[0]}/import/eaf",
                    files={"file": ("a.eaf", eaf, "application/xml")},
                )
                assert answer.status_code == 200, answer.text[:300]
                shown: dict[str, Any] = answer.json()
                return shown

            health = median(lambda: http.get("/api/v1/health"), args.runs)
            exported = median(export, args.runs)
            previewed = median(preview, args.runs)
            shown = preview()
            mapping = json.dumps(
                {
                    "tiers": {t["id"]: t["suggested"] for t in shown["tiers"]},
                    "vocabularies": {v["id"]: v["suggested"] for v in shown["vocabularies"]},
                }
            )
            targets = iter(fresh)
            created = 0

            def import_eaf() -> None:
                nonlocal created
                answer = http.post(
                    f"/api/v1/recordings/{next(targets)}/import/eaf",
                    files={"file": ("a.eaf", eaf, "application/xml")},
                    data={"mapping": mapping},
                )
                assert answer.status_code == 200, answer.text[:300]
                created = answer.json()["annotations"]

            # The project before the imports: the study holds the dense recording alone.
            qdpx = median(
                lambda: http.get(f"/api/v1/studies/{study}/export.qdpx").raise_for_status(),
                args.runs,
            )
            imported = median(import_eaf, args.runs)
            with tempfile.NamedTemporaryFile(suffix=".eaf") as file:
                file.write(eaf)
                file.flush()
                library = median(lambda: pympi.Eaf(file.name), args.runs)
    print(
        f"{args.coded} scheme segments and {args.coded // 2} cues; ELAN file "
        f"{len(eaf) / 1024:.0f} KiB; {created} annotations created by each import"
    )
    print(f"reference GET /api/v1/health: {health * 1000:.1f} ms")
    print(f"reference pympi-ling reading the ELAN file: {library * 1000:.0f} ms")
    for name, seconds, target in (
        ("ELAN export", exported, 1.0),
        ("ELAN preview (read, check, suggest)", previewed, 1.0),
        ("ELAN import (one transaction)", imported, 3.0),
        ("REFI-QDA export, media referenced", qdpx, 2.0),
    ):
        verdict = "target met" if seconds <= target else "target NOT met"
        print(
            f"{name}: {seconds:.3f} s ({verdict}: {target} s), "
            f"{seconds / library:.1f} × pympi reading, {seconds / health:.0f} × health"
        )


if __name__ == "__main__":
    main()
