"""The issue's target table, filled by the benchmarks of one `bench/run`.

A benchmark calls `record(row, figure, met)` for each row it measures; when `bench/run` set
AUTOCONF_BENCH_RESULTS (a JSON-lines file), the row is appended there, and `bench/run` prints
the table once every benchmark has run (`python bench/_targets.py FILE`). Run alone, a
benchmark prints its own figures only.
"""

import json
import os
import sys
from pathlib import Path

# The rows, in the issues' order (19, then 20): what is measured, and the target.
ROWS = {
    "app": ("random 1 MiB Range reads, app alone, 8 and 32 readers", "≥ 0.5 × nginx"),
    "accel": ("the same behind nginx (the shipped snippet)", "≥ 0.95 × nginx"),
    "ttfb": ("seek time to first byte, p99, 32 readers (app, accel)", "< 50 ms both"),
    "create": ("annotation create, 32 clients paced, SQLite, p99", "< 25 ms"),
    "viewers": ("2 Mbit/s viewers on one app process, seek p99 ≤ 100 ms", "≥ 1,000"),
    "team_synthesis": ("scheme synthesis JSON, 2,000 recordings, PostgreSQL", "< 1 s"),
    "team_load": (
        "100 users for 2 min, PostgreSQL, 2 app processes + 1 worker: API p95, errors",
        "< 100 ms, 0 errors",
    ),
}


def record(row: str, figure: str, met: bool) -> None:
    """Add a measured row (a key of ROWS) to this run's table, if `bench/run` keeps one."""
    assert row in ROWS, row
    path = os.environ.get("AUTOCONF_BENCH_RESULTS")
    if path:
        with Path(path).open("a", encoding="utf-8") as results:
            results.write(json.dumps({"row": row, "figure": figure, "met": met}) + "\n")


def table(path: Path) -> str:
    found: dict[str, list[dict[str, object]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            found.setdefault(entry["row"], []).append(entry)
    lines = ["targets (issues 19 and 20), this run:"]
    for key, (what, target) in ROWS.items():
        entries = found.get(key)
        if not entries:
            lines.append(f"  {what}: {target} — not measured in this run")
            continue
        figure = "; ".join(str(e["figure"]) for e in entries)
        met = all(e["met"] for e in entries)
        lines.append(f"  {what}: {figure} ({target}: target {'met' if met else 'NOT met'})")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(Path(sys.argv[1])))
