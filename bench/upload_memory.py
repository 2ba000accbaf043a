"""Server memory during the upload of a 2 GiB recording, resumable (tus) and multipart.

A real `autoconf serve` (AUTOCONF_MEDIA_WORKERS=0, so nothing but the upload runs in it;
AUTOCONF_MAX_UPLOAD_BYTES=4 GiB) on a fresh data folder. The file is UPLOAD_MIB of random
bytes (incompressible and really on disk, as a recording is), uploaded from this process
with httpx2:

- tus: POST /api/v1/uploads/ then PATCHes of PATCH_MIB, each streamed from the file in 1 MiB
  pieces; the last PATCH answers X-Recording-Id once the server has moved and hashed it;
- multipart: POST /api/v1/studies/{id}/recordings with the open file (httpx streams it).

A thread samples the resident memory (VmRSS, the server process and its children, if any)
every 50 ms; the kernel's own peak (VmHWM, reset through /proc/PID/clear_refs before each
upload) catches what falls between two samples. Growth = peak − the median of the second
before the upload. Reference: the same server's memory while idle, and the throughput of
`cp` of the same file on the same disk (what any upload path ends up doing, at best).

Target (issue): the server's memory grows by less than 50 MB (10^6 bytes) during the upload.

`--storage s3`: the same with the media on an S3-compatible store (moto's server on loopback,
in its own process, not counted): the bytes go on to the store by multipart upload (issue 20:
constant memory there too).
"""

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import (  # noqa: E402
    new_bucket,
    researcher_token,
    s3_server,
    start_server,
    stop_server,
)

MB = 1_000_000
PIECE = 1024 * 1024
TARGET_MB = 50


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def family(pid: int) -> list[int]:
    """`pid` and its descendants (ffmpeg, worker processes: none expected here)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    queue += [int(child) for child in children.read().split()]
        except FileNotFoundError:
            continue
    return found


def rss_bytes(pid: int) -> int:
    total = 0
    for member in family(pid):
        try:
            total += _status_kib(member, "VmRSS") * 1024
        except FileNotFoundError:
            continue
    return total


def reset_peak(pid: int) -> bool:
    """Reset the kernel's peak RSS of `pid` (Linux ≥ 4.0; our own child, so allowed)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Resident memory of a process tree every `period` seconds, until stopped."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.perf_counter(), rss_bytes(self.pid)))
            self.halt.wait(self.period)

    def between(self, start: float, end: float) -> list[int]:
        return [rss for at, rss in self.samples if start <= at <= end]


@dataclass
class Upload:
    method: str
    seconds: float
    baseline: int
    peak: int
    kernel_peak: int | None  # VmHWM after a reset, None when it could not be reset
    after: int
    recording: int


def random_file(path: Path, size: int) -> None:
    block = 16 * 1024 * 1024
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(block, left)))
            left -= min(block, left)


def pieces(path: Path, offset: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as source:
        source.seek(offset)
        left = length
        while left:
            piece = source.read(min(PIECE, left))
            if not piece:
                raise OSError(f"{path} is shorter than announced")
            left -= len(piece)
            yield piece


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def tus_upload(
    http: httpx.Client, url: str, source: Path, study: int, code: str, patch_bytes: int
) -> int:
    size = source.stat().st_size
    tus = {"Tus-Resumable": "1.0.0"}
    metadata = {"study_id": str(study), "code": code, "filename": "seance.mp4"}
    created = http.post(
        f"{url}/api/v1/uploads/",
        headers={
            **tus,
            "Upload-Length": str(size),
            "Upload-Metadata": ",".join(
                f"{key} {b64(value)}"
                for key, value in {**metadata, "filetype": "video/mp4"}.items()
            ),
        },
    )
    if created.status_code != 201:
        raise SystemExit(f"tus creation: {created.status_code} {created.text[:300]}")
    location = urljoin(f"{url}/api/v1/uploads/", created.headers["location"])
    offset, recording = 0, None
    while offset < size:
        length = min(patch_bytes, size - offset)
        answer = http.patch(
            location,
            headers={
                **tus,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            },
            content=pieces(source, offset, length),
        )
        if answer.status_code != 204:
            raise SystemExit(f"tus PATCH at {offset}: {answer.status_code} {answer.text[:300]}")
        offset = int(answer.headers["upload-offset"])
        recording = answer.headers.get("x-recording-id", recording)
    if recording is None:
        raise SystemExit("the last PATCH did not answer X-Recording-Id")
    return int(recording)


def multipart_upload(http: httpx.Client, url: str, source: Path, study: int, code: str) -> int:
    with source.open("rb") as file:
        answer = http.post(
            f"{url}/api/v1/studies/{study}/recordings",
            data={"code": code},
            files={"file": ("seance.mp4", file, "video/mp4")},
        )
    if answer.status_code != 201:
        raise SystemExit(f"multipart upload: {answer.status_code} {answer.text[:300]}")
    return int(answer.json()["id"])


def measured(method: str, pid: int, sampler: Sampler, upload: Callable[[], int]) -> Upload:
    time.sleep(1.0)  # the baseline: one second of samples before the upload
    end_of_idle = time.perf_counter()
    baseline = int(statistics.median(sampler.between(end_of_idle - 1.0, end_of_idle)))
    hwm = reset_peak(pid)
    started = time.perf_counter()
    recording = upload()
    ended = time.perf_counter()
    kernel_peak = _status_kib(pid, "VmHWM") * 1024 if hwm else None
    time.sleep(1.0)
    during = sampler.between(started, ended + 0.1)
    after = int(statistics.median(sampler.between(ended + 0.5, ended + 1.0) or [0]))
    return Upload(method, ended - started, baseline, max(during), kernel_peak, after, recording)


def copy_throughput(source: Path, folder: Path) -> float:
    """MB/s of copying the file with fsync on the same disk (the floor of any upload)."""
    target = folder / "copy.bin"
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    subprocess.run(["sync", str(target)], check=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return source.stat().st_size / seconds / MB


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--upload-mib", type=int, default=2048, help="size of the uploaded file")
    parser.add_argument("--patch-mib", type=int, default=256, help="bytes per tus PATCH")
    parser.add_argument("--storage", choices=("local", "s3"), default="local")
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    if args.storage == "s3":
        with s3_server() as endpoint:
            store = {
                "AUTOCONF_STORAGE_URL": f"s3://{new_bucket(endpoint)}/bench",
                "AUTOCONF_S3_ENDPOINT_URL": endpoint,
            }
            return measure(args, store)
    return measure(args, {})


def measure(args: argparse.Namespace, store: dict[str, str]) -> int:
    size = args.upload_mib * 1024 * 1024
    folder = Path(tempfile.mkdtemp(prefix="autoconf-bench-upload-"))
    server = None
    sampler = None
    try:
        data = folder / "data"
        data.mkdir()
        source = folder / "seance.mp4"
        started = time.perf_counter()
        random_file(source, size)
        print(
            f"{size / MB:.0f} MB of random bytes written in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        headers = researcher_token(data, "bench", env=store)
        server = start_server(
            data,
            {"AUTOCONF_MEDIA_WORKERS": "0", "AUTOCONF_MAX_UPLOAD_BYTES": str(4 * 2**30), **store},
        )
        pid = server.process.pid
        sampler = Sampler(pid)
        sampler.start()
        copy_mb_s = copy_throughput(source, folder)
        results: list[Upload] = []
        with httpx.Client(headers=headers, timeout=httpx.Timeout(600, connect=10)) as http:
            study = http.post(f"{server.url}/api/v1/studies", json={"name": "U"}).json()["id"]
            http.get(f"{server.url}/api/v1/studies/{study}/recordings")  # warm the routes
            url = server.url
            results.append(
                measured(
                    "tus",
                    pid,
                    sampler,
                    lambda: tus_upload(http, url, source, study, "T1", args.patch_mib * 2**20),
                )
            )
            results.append(
                measured(
                    "multipart",
                    pid,
                    sampler,
                    lambda: multipart_upload(http, url, source, study, "M1"),
                )
            )
            for result in results:
                stored = http.get(f"{url}/api/v1/recordings/{result.recording}").json()
                if stored.get("original_size") not in (None, size):
                    raise SystemExit(f"{result.method}: {stored.get('original_size')} bytes stored")
                http.delete(f"{url}/api/v1/recordings/{result.recording}")
        where = "an S3 store (moto)" if store else "the local media folder"
        print(
            f"upload of {size / MB:.0f} MB to one `autoconf serve` (client on the same "
            f"{os.cpu_count()}-core machine), media in {where}; tus PATCHes of "
            f"{args.patch_mib} MiB; memory in MB"
        )
        print(
            f"  {'method':<10} {'seconds':>7} {'MB/s':>6} {'baseline':>8} {'peak':>6} "
            f"{'growth':>6} {'VmHWM':>6} {'after':>6}"
        )
        for r in results:
            hwm = f"{(r.kernel_peak - r.baseline) / MB:+6.1f}" if r.kernel_peak else f"{'-':>6}"
            print(
                f"  {r.method:<10} {r.seconds:7.1f} {size / r.seconds / MB:6.0f} "
                f"{r.baseline / MB:8.1f} {r.peak / MB:6.1f} {(r.peak - r.baseline) / MB:+6.1f} "
                f"{hwm} {r.after / MB:6.1f}"
            )
        print(
            f"  (VmHWM: the kernel's peak minus the baseline; reference: cp + sync of the same "
            f"file {copy_mb_s:.0f} MB/s)"
        )
        for r in results:
            growth = max(r.peak, r.kernel_peak or 0) - r.baseline
            ratio = size / r.seconds / MB / copy_mb_s
            verdict = "target met" if growth < TARGET_MB * MB else "target NOT met"
            print(
                f"target {r.method} growth < {TARGET_MB} MB: {growth / MB:.1f} MB ({verdict}); "
                f"throughput / cp = {ratio:.2f}"
            )
    finally:
        if sampler is not None:
            sampler.halt.set()
        if server is not None:
            try:
                stop_server(server)
            except AssertionError as error:
                print(f"warning: {error}", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
