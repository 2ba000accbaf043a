"""Files derived from the proxy: poster frame, thumbnail sprites with their WebVTT track,
waveform peaks. All are cheap: keyframes only for pictures, 8 kHz mono for the sound."""

import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from autoconf.media.runner import FFmpeg, ProgressFn, StopFn, Stopped
from autoconf.schemes.timecode import format_vtt

POSTER = "poster.jpg"
THUMBNAILS_VTT = "thumbnails.vtt"
SPRITE_PATTERN = "sprite-%03d.jpg"
WAVEFORM = "waveform.dat"
# Cues point at sprites relative to the track's URL: `…/thumbnails.vtt` → `…/thumbnails/…`.
SPRITE_URL_PREFIX = "thumbnails/"

THUMB_WIDTH = 160
SPRITE_COLUMNS = 10
SPRITE_ROWS = 10
MAX_THUMBNAILS = 400
MIN_THUMB_INTERVAL_S = 2.0

WAVEFORM_RATE = 8000
SAMPLES_PER_PEAK = 800  # 10 min/max pairs a second: 108 KB for 90 minutes


def poster(
    runner: FFmpeg, proxy: Path, folder: Path, duration_s: float, should_stop: StopFn | None = None
) -> str:
    """A frame a tenth into the recording (the first seconds are often a black screen)."""
    at = min(duration_s * 0.1, 60.0)
    output = ffmpeg.input(str(proxy), ss=f"{at:.3f}").output(
        str(folder / POSTER), vframes=1, vf="scale=640:-2", **{"q:v": 3}
    )
    runner.run(output.compile(cmd="ffmpeg")[1:], should_stop=should_stop)
    return POSTER


@dataclass(frozen=True)
class Thumbnails:
    times: list[float]  # time of each thumbnail, in order
    width: int
    height: int


def thumbnail_interval(duration_s: float) -> float:
    return max(MIN_THUMB_INTERVAL_S, math.ceil(duration_s / MAX_THUMBNAILS))


def thumbnails(
    runner: FFmpeg,
    proxy: Path,
    folder: Path,
    duration_s: float,
    display_size: tuple[int, int],
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Thumbnails:
    """Sprites of keyframes (`-skip_frame nokey`: 20× faster than decoding every frame),
    one at least every `interval` seconds, and the WebVTT track that points into them."""
    interval = thumbnail_interval(duration_s)
    width, height = display_size
    thumb_height = max(2, round(THUMB_WIDTH * height / max(1, width) / 2) * 2)
    for old in folder.glob("sprite-*.jpg"):
        old.unlink()
    # One keyframe at least `interval` after the previous one (ffmpeg-python escapes the comma).
    select = f"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval - 0.05:g})"
    output = (
        ffmpeg.input(str(proxy), skip_frame="nokey")
        .video.filter("select", select)
        .filter("scale", THUMB_WIDTH, thumb_height)
        .filter("showinfo")
        .filter("tile", f"{SPRITE_COLUMNS}x{SPRITE_ROWS}")
        .output(str(folder / SPRITE_PATTERN), fps_mode="vfr", **{"q:v": 5})
    )
    log = runner.run(
        output.compile(cmd="ffmpeg")[1:],
        duration_s=duration_s,
        progress=progress,
        should_stop=should_stop,
        loglevel="info",  # showinfo's lines give each thumbnail's time
    )
    times = [float(t) for t in re.findall(r"\bpts_time:\s*([0-9.]+)", log)]
    result = Thumbnails(times, THUMB_WIDTH, thumb_height)
    (folder / THUMBNAILS_VTT).write_text(thumbnails_vtt(result, duration_s), encoding="utf-8")
    return result


def thumbnails_vtt(thumbs: Thumbnails, duration_s: float) -> str:
    """WebVTT cues `start --> end` whose text is `sprite-NNN.jpg#xywh=x,y,w,h`; a cue lasts
    until the next thumbnail (the first starts at 0, the last ends with the recording)."""
    per_sheet = SPRITE_COLUMNS * SPRITE_ROWS
    lines = ["WEBVTT", ""]
    for index, time in enumerate(thumbs.times):
        start = 0.0 if index == 0 else time
        end = thumbs.times[index + 1] if index + 1 < len(thumbs.times) else duration_s
        if end <= start:
            continue
        sheet, cell = divmod(index, per_sheet)
        row, column = divmod(cell, SPRITE_COLUMNS)
        region = f"{column * thumbs.width},{row * thumbs.height},{thumbs.width},{thumbs.height}"
        lines += [
            f"{format_vtt(round(start * 1000))} --> {format_vtt(round(end * 1000))}",
            f"{SPRITE_URL_PREFIX}sprite-{sheet + 1:03d}.jpg#xywh={region}",
            "",
        ]
    return "\n".join(lines)


def waveform(
    runner: FFmpeg,
    source: Path,
    folder: Path,
    duration_s: float,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> str:
    """Min/max peaks of the sound, 8 kHz mono, in the audiowaveform binary format (v2,
    8-bit), which waveform viewers such as peaks.js read as is."""
    args = ffmpeg.input(str(source)).audio.output(
        "pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=WAVEFORM_RATE
    )
    peaks: list[np.ndarray] = []
    block = SAMPLES_PER_PEAK * 2 * 256  # bytes of 256 peaks
    expected = max(1.0, duration_s * WAVEFORM_RATE * 2)
    read = 0
    with runner.stream(args.compile(cmd="ffmpeg")[1:], should_stop=should_stop) as (out, finish):
        pending = b""
        while chunk := out.read(block):
            if should_stop and should_stop():
                raise Stopped()
            pending += chunk
            whole = len(pending) - len(pending) % (SAMPLES_PER_PEAK * 2)
            peaks.append(_peaks(pending[:whole]))
            pending = pending[whole:]
            read += len(chunk)
            if progress:
                progress(min(1.0, read / expected))
        if pending:
            peaks.append(_peaks(pending, partial=True))
        finish()
    pairs = np.concatenate(peaks) if peaks else np.zeros((0, 2), dtype=np.int8)
    (folder / WAVEFORM).write_bytes(waveform_bytes(pairs))
    return WAVEFORM


def _peaks(pcm: bytes, partial: bool = False) -> np.ndarray:
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
    if partial:
        padding = (-len(samples)) % SAMPLES_PER_PEAK
        samples = np.concatenate([samples, np.repeat(samples[-1:], padding)])
    if not len(samples):
        return np.zeros((0, 2), dtype=np.int8)
    buckets = samples.reshape(-1, SAMPLES_PER_PEAK)
    pairs = np.stack([buckets.min(axis=1), buckets.max(axis=1)], axis=1)
    return (pairs >> 8).astype(np.int8)


def waveform_bytes(pairs: np.ndarray) -> bytes:
    """audiowaveform v2 header (version, flags=8-bit, rate, samples per pixel, length,
    channels) then the int8 min/max pairs."""
    header = struct.pack("<iIiiIi", 2, 1, WAVEFORM_RATE, SAMPLES_PER_PEAK, len(pairs), 1)
    return header + pairs.astype(np.int8).tobytes()


def read_waveform(data: bytes) -> tuple[int, int, np.ndarray]:
    """(sample rate, samples per pair, pairs) of a waveform file; for tests and exports."""
    version, flags, rate, per_pair, length, channels = struct.unpack_from("<iIiiIi", data)
    if version != 2 or not flags & 1 or channels != 1:
        raise ValueError("not an 8-bit mono audiowaveform v2 file")
    pairs = np.frombuffer(data, dtype=np.int8, offset=24, count=length * 2).reshape(length, 2)
    return rate, per_pair, pairs
