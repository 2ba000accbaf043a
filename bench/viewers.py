"""How many 2 Mbit/s viewers one app process serves: seek p99 ≤ 100 ms and no stall.

The same set-up as `streaming.py` (a 1.5 GiB proxy of random bytes, in the page cache; the
app alone, and nginx with the shipped snippet in front of a second app process). A viewer
keeps one connection and reads the next MiB of the file every 4 s (2 Mbit/s, a player's
buffer refills), starting at a random moment; one read in ten is a seek (a random place).
Steps of N viewers (250, 500, 1,000, 1,500, 2,000, 3,000, 4,000 by default, each
`--step-seconds` long after every viewer connected) until a step fails:

- seek p99: time to the first byte of a seek's answer, ≤ 100 ms;
- stall: a read not complete 4 s after it was asked (the player's buffer ran dry), none;
- errors: an answer other than 206, or a connection lost, none.

For each step: the viewers' throughput, the server's CPU (the app process; behind nginx,
the app and nginx's workers) and own resident memory (RssAnon: not the media files' pages
the app maps, shared with the page cache), and the client's own CPU (on the same 2
cores: when it nears one core, the client is what is measured). Reference: the largest
step of nginx alone (the snippet's directives on a public location), same run.

Target (issue 19): ≥ 1,000 viewers for the app alone, far more behind nginx.
"""

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from _targets import record
from streaming import SPAN, RangeReader, Setup, Target, prepare, range_request, run_client, stop

PERIOD_S = 4.0  # a MiB every 4 s: 2 Mbit/s
SEEK_SHARE = 0.1
SEEK_P99_MS = 100.0


@dataclass
class Step:
    viewers: int
    seeks_ms: list[float] = field(default_factory=list)
    reads_ms: list[float] = field(default_factory=list)  # whole reads, seeks included
    stalls: int = 0
    errors: int = 0
    bytes: int = 0

    def seek_p99(self) -> float:
        ordered = sorted(self.seeks_ms) or [0.0]
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def ok(self) -> bool:
        return self.seek_p99() <= SEEK_P99_MS and not self.stalls and not self.errors


async def viewer(
    target: Target,
    size: int,
    start_at: float,
    deadline: float,
    step: Step,
    connecting: asyncio.Semaphore,
) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random()
    credential = target.credential.copy()  # a browser of its own (the login session shared)
    try:
        async with connecting:
            transport, reader = await loop.create_connection(
                lambda: RangeReader(credential), target.host, target.port
            )
    except OSError:
        step.errors += 1
        return
    position = rng.randrange(0, size - SPAN + 1)
    due = start_at + rng.uniform(0, PERIOD_S)  # viewers start apart, as people do
    try:
        while True:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if due >= deadline:
                return
            seek = rng.random() < SEEK_SHARE
            if seek or position > size - SPAN:
                position = rng.randrange(0, size - SPAN + 1)
            request = range_request(target, credential, position)
            sent = time.perf_counter()
            try:
                status, first = await asyncio.wait_for(reader.ask(request), PERIOD_S * 4)
            except (TimeoutError, OSError):
                step.errors += 1
                return
            done = time.perf_counter()
            if status != 206:
                step.errors += 1
                return
            step.bytes += SPAN
            step.reads_ms.append((done - sent) * 1000)
            if seek:
                step.seeks_ms.append((first - sent) * 1000)
            if done - sent > PERIOD_S:
                step.stalls += 1
            position += SPAN
            due += PERIOD_S
    finally:
        transport.close()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each process still there (nginx's cache loader exits)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def resident_mb(pids: list[int]) -> float:
    """The processes' own memory (RssAnon): the app maps the media files it sends, and
    those pages of the page cache (RssFile) are shared and given back under pressure."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                total += int(line.split()[1])
    return total / 1024


CONNECTING_AT_ONCE = 100  # per client process: under nginx's and the app's listen backlog


async def viewers_part(
    target: Target, size: int, viewers: int, start_at: float, deadline: float
) -> tuple[Step, float]:
    """Some of the viewers, in this process: (their figures, this process's CPU seconds)."""
    step = Step(viewers)
    connecting = asyncio.Semaphore(CONNECTING_AT_ONCE)
    cpu = time.process_time()
    await asyncio.gather(
        *(viewer(target, size, start_at, deadline, step, connecting) for _ in range(viewers))
    )
    return step, time.process_time() - cpu


def client_process(
    target: Target, size: int, viewers: int, start_at: float, deadline: float
) -> tuple[Step, float]:
    return run_client(viewers_part(target, size, viewers, start_at, deadline))


def run_step(
    pool: ProcessPoolExecutor,
    processes: int,
    target: Target,
    size: int,
    viewers: int,
    seconds: float,
    server_pids: list[int],
) -> tuple[Step, float, float, float]:
    """One step, the viewers spread over `processes` client processes (one Python client
    tops out near one core): (its figures, the server's CPU in cores, its memory in MB, the
    clients' CPU in cores)."""
    # Every viewer connects first (CONNECTING_AT_ONCE at a time per process), then starts.
    start_at = time.perf_counter() + 2.0 + viewers / 1000
    deadline = start_at + seconds
    server_cpu = cpu_seconds(server_pids)
    began = time.perf_counter()
    shares = [viewers // processes + (i < viewers % processes) for i in range(processes)]
    parts = [pool.submit(client_process, target, size, n, start_at, deadline) for n in shares if n]
    step, client_cpu = Step(viewers), 0.0
    for part in parts:
        figures, cpu = part.result()
        step.seeks_ms += figures.seeks_ms
        step.reads_ms += figures.reads_ms
        step.stalls += figures.stalls
        step.errors += figures.errors
        step.bytes += figures.bytes
        client_cpu += cpu
    elapsed = time.perf_counter() - began
    server = cpu_between(server_cpu, cpu_seconds(server_pids)) / elapsed
    return step, server, resident_mb(server_pids), client_cpu / elapsed


def nginx_pids(master: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(master)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [master, *map(int, found)]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--proxy-mib", type=int, default=1536, help="size of the proxy file")
    parser.add_argument("--step-seconds", type=float, default=20, help="length of one step")
    parser.add_argument(
        "--viewers", default="250,500,1000,1500,2000,3000,4000", help="the steps, in order"
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="client processes the viewers share"
    )
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    steps = [int(n) for n in args.viewers.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * max(steps) + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the servers inherit it
    folder = Path(tempfile.mkdtemp(prefix="autoconf-bench-viewers-"))
    (folder / "data").mkdir()
    setup = Setup(folder, {}, args.proxy_mib * 1024 * 1024, [], [])
    best: dict[str, int] = {}
    pool = ProcessPoolExecutor(args.client_processes)
    try:
        prepare(setup)
        reference, app, accel = setup.targets
        assert setup.nginx is not None
        pids = {
            "nginx": nginx_pids(setup.nginx.pid),
            "app": [setup.servers[0].process.pid],
            "accel": [setup.servers[1].process.pid, *nginx_pids(setup.nginx.pid)],
        }
        print(
            f"2 Mbit/s viewers (a MiB every {PERIOD_S:.0f} s, a seek in "
            f"{round(1 / SEEK_SHARE)}), {args.step_seconds:.0f} s per step, "
            f"{os.cpu_count()} cores (clients included: {args.client_processes} processes)"
        )
        print(
            "  server  viewers   MB/s  seeks  seek p50  seek p99  read p99  stalls errors"
            "  server CPU  server MB  client CPU"
        )
        for target in (app, accel, reference):
            best[target.name] = 0
            for viewers in steps:
                step, server_cpu, memory, client_cpu = run_step(
                    pool,
                    args.client_processes,
                    target,
                    setup.size,
                    viewers,
                    args.step_seconds,
                    pids[target.name],
                )
                seeks = step.seeks_ms or [0.0]
                reads = sorted(step.reads_ms) or [0.0]
                print(
                    f"  {target.name:<6} {viewers:>8} {step.bytes / 1e6 / args.step_seconds:6.0f}"
                    f" {len(step.seeks_ms):6d} {statistics.median(seeks):7.1f} ms"
                    f" {step.seek_p99():7.1f} ms {reads[int(0.99 * (len(reads) - 1))]:7.1f} ms"
                    f" {step.stalls:7d} {step.errors:6d} {server_cpu:9.2f}  {memory:9.0f}"
                    f"  {client_cpu:10.2f}",
                    flush=True,
                )
                if not step.ok():
                    break
                best[target.name] = viewers
    finally:
        pool.shutdown(cancel_futures=True)
        stop(setup)
    ceiling = max(steps)
    for name in ("app", "accel", "nginx"):
        shown = f"{best[name]:,}" + (
            " (the largest step: more not tried)" if best[name] == ceiling else ""
        )
        print(f"  largest step passed, {name}: {shown} viewers")
    app_ok = best["app"] >= 1000
    print(
        f"target ≥ 1,000 viewers, app alone: {best['app']:,} "
        f"({'target met' if app_ok else 'target NOT met'})"
    )
    record(
        "viewers",
        f"app alone {best['app']:,}, behind nginx {best['accel']:,}, nginx alone {best['nginx']:,}",
        app_ok,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
