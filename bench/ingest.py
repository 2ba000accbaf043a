"""Processing of a 10-minute 720p H.264/AAC recording: the app against bare ffmpeg.

The file (testsrc2 1280×720 at 25 fps, H.264 ultrafast with a keyframe every 2 s, a sine
as AAC; about 500 MB) is made once with ffmpeg and kept in bench/.cache/. It goes through
the API like any upload (multipart, AUTOCONF_MEDIA_WORKERS=0, so the server only stores
it); then, ROUNDS times:

- app: the recording is queued again (POST /recordings/{id}/retry) and this process runs
  `run_until_idle` (what `autoconf worker --until-idle` runs): probe, proxy, probe of the
  proxy, poster, thumbnails, waveform, with the job's database writes. The upload is not
  timed; the stage times come from the pipeline's own progress reports.
- bare (the reference): the same commands run one after the other with subprocess, built
  with the project's `probe`/`plan_proxy`/`proxy_args` or copied from
  autoconf/media/derived.py (without `-progress`), the waveform's decode written to
  /dev/null instead of being read into peaks.

App and bare alternate (app first in odd rounds), each after a `sync`; medians. The page
cache holds the original for both.

Targets (issue): app ≤ 1.10 × bare; a compatible file takes the remux path (the proxy step
in seconds, `media.proxy.remux_only`).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from autoconf.db import make_engine  # noqa: E402
from autoconf.media import derived, jobs  # noqa: E402
from autoconf.media.pipeline import Processed, Report  # noqa: E402
from autoconf.media.probe import probe  # noqa: E402
from autoconf.media.proxy import plan_proxy, proxy_args  # noqa: E402
from autoconf.media.runner import FFmpeg, StopFn  # noqa: E402
from autoconf.settings import Settings  # noqa: E402
from tests.support import researcher_token, serve  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
STAGES = ("probe", "proxy", "poster", "thumbnails", "waveform")
QUIET = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"]


def sample_file(seconds: int) -> Path:
    """The test recording, made once (about 50 s of CPU on 2 cores for 10 minutes)."""
    path = CACHE / f"testsrc2-720p25-h264-aac-{seconds}s.mp4"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    partial = path.with_suffix(".part.mp4")
    print(f"making {path.relative_to(ROOT)} (once)…", flush=True)
    started = time.perf_counter()
    video = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25"]
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p"]
    aac = ["-c:a", "aac", "-b:a", "128k"]
    streams = ["-t", str(seconds), "-map", "0:v", "-map", "1:a"]
    output = ["-movflags", "+faststart", str(partial)]
    subprocess.run(["ffmpeg", *QUIET, *video, *audio, *streams, *h264, *aac, *output], check=True)
    partial.replace(path)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def bare_commands(original: Path, folder: Path) -> list[tuple[str, list[str]]]:
    """(stage, command) of what the pipeline runs, in its order."""
    info = probe(original)
    plan = plan_proxy(info)
    proxy = folder / plan.filename
    duration_s = info.duration_ms / 1000
    ffprobe = ["ffprobe", "-show_format", "-show_streams", "-of", "json"]  # as ffmpeg.probe
    commands = [
        ("probe", [*ffprobe, str(original)]),
        ("proxy", ["ffmpeg", *QUIET, *proxy_args(info, plan, original, proxy)]),
        ("proxy", [*ffprobe, str(proxy)]),
    ]
    if info.video:
        width, height = info.video.display_size
        thumb_height = max(2, round(derived.THUMB_WIDTH * height / max(1, width) / 2) * 2)
        interval = derived.thumbnail_interval(duration_s)
        select = f"isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval - 0.05:g})"
        graph = (
            f"[0:v]select={select}[s0];[s0]scale={derived.THUMB_WIDTH}:{thumb_height}[s1];"
            f"[s1]showinfo[s2];[s2]tile={derived.SPRITE_COLUMNS}x{derived.SPRITE_ROWS}[s3]"
        )
        at = min(duration_s * 0.1, 60.0)
        poster = ["-q:v", "3", "-vf", "scale=640:-2", "-vframes", "1", str(folder / "poster.jpg")]
        sprites = ["-fps_mode", "vfr", "-q:v", "5", str(folder / "sprite-%03d.jpg")]
        thumbnails = ["-skip_frame", "nokey", "-i", str(proxy), "-filter_complex", graph]
        commands += [
            ("poster", ["ffmpeg", *QUIET, "-ss", f"{at:.3f}", "-i", str(proxy), *poster]),
            (
                "thumbnails",
                # loglevel info: the app reads each thumbnail's time from showinfo's lines
                ["ffmpeg", *QUIET[:-1], "info", *thumbnails, "-map", "[s3]", *sprites],
            ),
        ]
    if info.audio:
        pcm = ["-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le"]
        rate = ["-ar", str(derived.WAVEFORM_RATE)]
        commands.append(
            ("waveform", ["ffmpeg", *QUIET, "-i", str(proxy), "-map", "0:a", *pcm, *rate, "pipe:"])
        )
    return commands


def run_bare(commands: list[tuple[str, list[str]]], folder: Path) -> dict[str, float]:
    """Run the commands in order (the waveform's PCM to /dev/null); seconds per stage."""
    times = dict.fromkeys(STAGES, 0.0)
    started = time.perf_counter()
    for old in folder.iterdir():  # as the pipeline clears what an earlier attempt left
        old.unlink()
    for stage, command in commands:
        begun = time.perf_counter()
        with tempfile.TemporaryFile() as log:  # stderr to a file, as the app's runner does
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=log, check=True)
        times[stage] += time.perf_counter() - begun
    times["total"] = time.perf_counter() - started
    return times


class StageClock:
    """Wraps the pipeline's `process` as `jobs` calls it, to stamp the start of each stage
    from its progress reports (the app itself is unchanged)."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.end = 0.0

    def install(self) -> None:
        process = jobs.process  # type: ignore[attr-defined]  # imported by name there

        def timed(
            runner: FFmpeg,
            ffprobe: str,
            original: Path,
            work: Path,
            report: Report,
            should_stop: StopFn,
            name: str = "",
        ) -> Processed:
            def stamped(stage: str, fraction: float) -> None:
                self.marks.setdefault(stage, time.perf_counter())
                report(stage, fraction)

            try:
                return process(runner, ffprobe, original, work, stamped, should_stop, name)
            finally:
                self.end = time.perf_counter()

        jobs.process = timed  # type: ignore[attr-defined]

    def stages(self) -> dict[str, float]:
        stamps = sorted((t, s) for s, t in self.marks.items() if s in STAGES)
        ends = [t for t, _ in stamps[1:]] + [self.end]
        return {stage: end - start for (start, stage), end in zip(stamps, ends, strict=True)}


def run_app(
    url: str, headers: dict[str, str], recording: int, settings: Settings, clock: StageClock
) -> tuple[dict[str, float], dict[str, Any]]:
    answer = httpx.post(f"{url}/api/v1/recordings/{recording}/retry", headers=headers)
    answer.raise_for_status()
    engine = make_engine(settings.effective_database_url)
    clock.marks, clock.end = {}, 0.0
    started = time.perf_counter()
    count = jobs.run_until_idle(engine, settings)
    total = time.perf_counter() - started
    engine.dispose()
    if count != 1:
        raise SystemExit(f"run_until_idle ran {count} jobs, not 1")
    state: dict[str, Any] = httpx.get(
        f"{url}/api/v1/recordings/{recording}", headers=headers
    ).json()
    if state["status"] != "ready":
        raise SystemExit(f"the recording is {state['status']}: {state.get('error')}")
    return {**clock.stages(), "total": total}, state


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=600, help="seconds of the test file")
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    source = sample_file(args.duration)
    folder = Path(tempfile.mkdtemp(prefix="autoconf-bench-ingest-"))
    try:
        data = folder / "data"
        data.mkdir()
        headers = researcher_token(data, "bench")
        settings = Settings(data_dir=data, database_url="", media_workers=0)
        clock = StageClock()
        clock.install()
        with serve(data, {"AUTOCONF_MEDIA_WORKERS": "0"}) as url:
            study = httpx.post(
                f"{url}/api/v1/studies", json={"name": "ingest"}, headers=headers
            ).json()["id"]
            started = time.perf_counter()
            with source.open("rb") as file:
                answer = httpx.post(
                    f"{url}/api/v1/studies/{study}/recordings",
                    headers=headers,
                    data={"code": "E1"},
                    files={"file": (source.name, file, "video/mp4")},
                    timeout=600,
                )
            answer.raise_for_status()
            recording = answer.json()["id"]
            size = source.stat().st_size
            print(
                f"ingest of {source.name}: {size / 1e6:.0f} MB, {args.duration} s; uploaded in "
                f"{time.perf_counter() - started:.1f} s (not timed below); {args.rounds} rounds",
                flush=True,
            )
            original = next((data / "media").rglob("original.mp4"))
            bare_folder = folder / "bare"
            bare_folder.mkdir()
            commands = bare_commands(original, bare_folder)
            app_runs: list[dict[str, float]] = []
            bare_runs: list[dict[str, float]] = []
            state: dict[str, Any] = {}
            for round_index in range(args.rounds):
                for side in ("app", "bare") if round_index % 2 == 0 else ("bare", "app"):
                    os.sync()  # the previous run's 500 MB of dirty pages must not slow this one
                    if side == "app":
                        times, state = run_app(url, headers, recording, settings, clock)
                        app_runs.append(times)
                    else:
                        bare_runs.append(run_bare(commands, bare_folder))
                    last = app_runs[-1] if side == "app" else bare_runs[-1]
                    print(f"  round {round_index + 1} {side:<4} {times_line(last)}", flush=True)
        print("  " + " ".join(f"{name:>10}" for name in ("seconds", *STAGES, "total")))
        medians: dict[str, dict[str, float]] = {}
        for name, runs in (("app", app_runs), ("bare", bare_runs)):
            medians[name] = {
                key: statistics.median(run.get(key, 0.0) for run in runs)
                for key in (*STAGES, "total")
            }
            print(
                f"  {name:>10} "
                + " ".join(f"{medians[name][key]:10.2f}" for key in (*STAGES, "total"))
            )
        ratio = medians["app"]["total"] / medians["bare"]["total"]
        print(
            "  app / bare "
            + " ".join(
                f"{medians['app'][key] / medians['bare'][key]:10.2f}"
                if medians["bare"][key]
                else f"{'-':>10}"
                for key in (*STAGES, "total")
            )
        )
        proxy = state.get("media", {}).get("proxy", {})
        remux = proxy.get("remux_only") is True
        proxy_s = medians["app"]["proxy"]
        print(
            f"  media.proxy: remux_only={proxy.get('remux_only')} copy_video="
            f"{proxy.get('copy_video')} copy_audio={proxy.get('copy_audio')} "
            f"reasons={proxy.get('reasons')}"
        )
        print(
            f"target app ≤ 1.10 × bare: {ratio:.2f} "
            f"({'target met' if ratio <= 1.10 else 'target NOT met'})"
        )
        fast = remux and proxy_s < 30
        print(
            f"target remux path: remux_only={remux}, proxy step {proxy_s:.1f} s for "
            f"{args.duration / 60:.0f} min ({'target met' if fast else 'target NOT met'})"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def times_line(times: dict[str, float]) -> str:
    return "  ".join(f"{key} {times.get(key, 0.0):.2f}" for key in (*STAGES, "total"))


if __name__ == "__main__":
    sys.exit(main())
