"""The one way ffmpeg runs: progress, stop, timeout, a readable error, never an orphan."""

import time

import pytest

from autoconf.media.runner import FFmpeg, MediaError, Stopped

pytestmark = pytest.mark.once  # ffmpeg alone

TONE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=10"]


def runner(timeout_s: float = 60) -> FFmpeg:
    return FFmpeg.create("ffmpeg", timeout_s, 1)


def test_progress_is_reported_as_a_fraction() -> None:
    seen: list[float] = []
    runner().run([*TONE, "-f", "null", "-"], duration_s=10, progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.01)
    assert seen == sorted(seen)


def test_a_failure_says_what_ffmpeg_said() -> None:
    with pytest.raises(MediaError) as error:
        runner().run(["-i", "/nonexistent/séance.mp4", "-f", "null", "-"])
    assert "La conversion du fichier a échoué" in str(error.value)
    assert "No such file" in str(error.value)


def test_the_timeout_kills_ffmpeg() -> None:
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"durée maximale autorisée \(0.5 s\)"):
        runner(0.5).run(["-re", *TONE, "-f", "null", "-"])  # -re: 10 s of real time
    assert time.monotonic() - started < 3


def test_the_timeout_also_bounds_a_stream() -> None:
    started = time.monotonic()
    tone = ["-re", *TONE, "-f", "s16le", "pipe:"]
    with (
        pytest.raises(MediaError, match="durée maximale"),
        runner(0.5).stream(tone) as (out, finish),
    ):
        while out.read(4096):
            pass
        finish()
    assert time.monotonic() - started < 3


def test_a_stop_request_kills_ffmpeg_within_a_tick() -> None:
    started = time.monotonic()
    with pytest.raises(Stopped):
        runner().run(
            ["-re", *TONE, "-f", "null", "-"],
            should_stop=lambda: time.monotonic() - started > 0.3,
        )
    assert time.monotonic() - started < 2


def test_a_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(MediaError, match="introuvable"):
        FFmpeg.create("ffmpeg-absent", 10, 1).run(["-version"])
