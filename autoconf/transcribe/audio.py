"""A recording's sound as the recogniser and the turn finder read it: 16 kHz float samples
mixed to one channel, and for a two-channel recording (a microphone per person) each
channel's loudness every 20 ms. Read in pieces: a 90-minute session costs its 350 MB of
samples, never the raw stream twice."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from autoconf.media.runner import FFmpeg, Stopped

RATE = 16_000  # what Whisper models read
FRAME = 320  # 20 ms: the step of the channels' loudness
READ = 1280 * 1024  # bytes per read: whole frames of one or two channels


@dataclass(frozen=True)
class Sound:
    samples: np.ndarray  # float32, mono, RATE per second
    loudness: np.ndarray | None  # (frames, 2) RMS per channel of a two-channel recording

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE


def decode(
    runner: FFmpeg,
    source: str | Path,
    channels: int,
    duration_s: float,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Sound:
    """The sound of `source` (a path, or an address ffmpeg reads); `channels` is what the
    probe found (two are kept apart for their loudness, more are mixed like one)."""
    kept = 2 if channels == 2 else 1
    args = ffmpeg.input(str(source)).audio.output(
        "pipe:", format="s16le", acodec="pcm_s16le", ac=kept, ar=RATE
    )
    samples = np.empty(int(duration_s * RATE) + RATE, dtype=np.float32)
    loudness: list[np.ndarray] = []
    filled = 0
    pending = b""
    with runner.stream(args.compile(cmd="ffmpeg")[1:], should_stop=should_stop) as (out, finish):
        while chunk := out.read(READ):
            if should_stop and should_stop():
                raise Stopped()
            pending += chunk
            whole = len(pending) - len(pending) % (2 * kept * FRAME)
            block = np.frombuffer(pending[:whole], dtype="<i2").reshape(-1, kept)
            pending = pending[whole:]
            block = block.astype(np.float32) / 32768.0
            if filled + len(block) > len(samples):
                samples = np.resize(samples, (filled + len(block)) * 5 // 4)
            samples[filled : filled + len(block)] = block.mean(axis=1)
            filled += len(block)
            if kept == 2:
                frames = block.reshape(-1, FRAME, 2)
                loudness.append(np.sqrt((frames**2).mean(axis=1)))
            if progress:
                progress(min(1.0, filled / max(1, len(samples) - RATE)))
        finish()
    return Sound(samples[:filled], np.concatenate(loudness) if loudness else None)
