"""Hostile Range headers on GET /api/v1/recordings/{id}/media (issue 16).

A real `autoconf serve` on a fresh data folder with the demo study (`autoconf demo`: its
recording is processed, so its proxy is served). The demo researcher signs in; then each
Range header below is sent ROUNDS times on one connection and the time to the whole answer
is measured:

- reference: `bytes=0-0` (one byte);
- 5,000 small ranges (a multipart of thousands of parts refused: the whole file instead);
- 5,000 overlapping ranges, inverted ranges, absurd numbers (20 digits), a start past the end
  (416), a header of 100 kB of commas.

Target: every hostile header answered in < 100 ms (median), with 200, 206 or 416.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support import cli, start_server, stop_server

CASES = {
    "reference: bytes=0-0": "bytes=0-0",
    "5,000 small ranges": "bytes=" + ",".join(f"{i * 10}-{i * 10 + 5}" for i in range(5000)),
    "5,000 overlapping ranges": "bytes=" + ",".join(f"0-{i + 100}" for i in range(5000)),
    "5,000 inverted ranges": "bytes=" + ",".join(f"{i + 100}-{i}" for i in range(5000)),
    "absurd numbers": "bytes=0-99999999999999999999,99999999999999999999-",
    "start past the end": "bytes=999999999-",
    "100 kB of commas": "bytes=0-1" + "," * 100_000,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        printed = cli(data, "demo")
        login = dict(
            line.strip().split(" : ", 1)
            for line in printed.splitlines()
            if line.strip().startswith(("Identifiant :", "Mot de passe :"))
        )
        server = start_server(data)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                signed = client.post(
                    "/api/v1/auth/login",
                    json={"username": login["Identifiant"], "password": login["Mot de passe"]},
                )
                signed.raise_for_status()
                media = "/api/v1/recordings/1/media"
                results = {}
                for name, header in CASES.items():
                    times, statuses = [], set()
                    for _ in range(args.rounds):
                        start = time.perf_counter()
                        answer = client.get(media, headers={"Range": header})
                        times.append((time.perf_counter() - start) * 1000)
                        statuses.add(answer.status_code)
                    results[name] = (statistics.median(times), max(times), statuses)
        finally:
            stop_server(server)
    reference = results["reference: bytes=0-0"][0]
    print(f"hostile Range headers, {args.rounds} rounds each, one connection")
    worst = 0.0
    for name, (median, slowest, statuses) in results.items():
        ratio = median / reference
        print(
            f"  {name:28} median {median:7.1f} ms   max {slowest:7.1f} ms   "
            f"x{ratio:5.1f} reference   status {sorted(statuses)}"
        )
        if not name.startswith("reference"):
            worst = max(worst, median)
            assert statuses <= {200, 206, 416}, (name, statuses)
    verdict = "target met" if worst < 100 else "target NOT met"
    print(f"target every hostile header < 100 ms (median): worst {worst:.1f} ms ({verdict})")


if __name__ == "__main__":
    main()
