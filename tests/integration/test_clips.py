"""Clips for training, with real ffmpeg on the demo session (its burnt-in clock shows the
time of every frame): the clip starts on the segment's first frame, lasts as long as the
segment, is re-encoded at full quality, upright, without the original's metadata."""

import os
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

from autoconf.errors import Conflict, Invalid
from autoconf.media import clips
from autoconf.media.probe import probe
from autoconf.media.runner import FFmpeg, Stopped
from autoconf.media.store import LocalStore
from autoconf.models import Annotation, Recording
from tests.factories import DEMO_MEDIA
from tests.mediafiles import (
    VARIANTS,
    duration_s,
    ffprobe,
    make_media,
    rotated_copy,
    streams,
    top_level_boxes,
)

CLOCK = "crop=160:36:240:310"  # the burnt-in clock of the demo session (640×360)


def runner() -> FFmpeg:
    return FFmpeg.create("ffmpeg", 120, 2)


def ready_recording(media_dir: Path, source: Path, **changes: Any) -> Recording:
    """A processed recording (not stored: the plan needs its fields only) of `source`,
    copied under `media_dir` as its original."""
    key = f"recordings/r1/original{source.suffix}"
    (media_dir / key).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / key).write_bytes(source.read_bytes())
    info = probe(media_dir / key)
    fields: dict[str, Any] = {
        "id": 1,
        "study_id": 1,
        "code": "A8 - 1",
        "status": "ready",
        "storage_key": key,
        "duration_ms": info.duration_ms,
        "media_info": info.as_dict(),
    }
    return Recording(**(fields | changes))


def segment(start_ms: int, end_ms: int | None) -> Annotation:
    return Annotation(recording_id=1, start_ms=start_ms, end_ms=end_ms)


def clocks(path: Path, at_s: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """The clock area of the frames of `path` from `at_s` (one row per frame), in grey."""
    command = ["ffmpeg", "-v", "error", "-ss", f"{at_s:.3f}", "-i", str(path)]
    command += ["-t", f"{seconds:.3f}"] if seconds else ["-frames:v", "1"]
    out = subprocess.run(
        [*command, "-vf", CLOCK, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return np.frombuffer(out, dtype=np.uint8).astype(np.int16).reshape(-1, 160 * 36)


def first_pts(path: Path, kind: str) -> float:
    out = subprocess.run(
        [
            *("ffprobe", "-v", "error", "-select_streams", kind),
            *("-show_entries", "packet=pts_time", "-read_intervals", "%+#1"),
            *("-of", "csv=p=0", str(path)),
        ],
        capture_output=True,
        check=True,
        timeout=60,
        text=True,
    ).stdout
    return float(out.split()[0].strip(","))


def test_a_clip_starts_on_the_segments_first_frame(tmp_path: Path) -> None:
    # 12.4 s is between keyframes (every 10 s): a stream copy would start at 10 s.
    recording = ready_recording(tmp_path, DEMO_MEDIA)
    plan = clips.plan_clip(recording, segment(12_400, 17_600), LocalStore(tmp_path))
    target = clips.cut(runner(), plan, tmp_path / "clip.mp4")

    assert abs(duration_s(target) - 5.2) <= 0.1
    assert first_pts(target, "v") == 0.0
    # Its first frame shows the clock of 12.400 s: of the 25 frames a second around it, the
    # one at 12.400 s is by far the closest (the others show other digits).
    first = clocks(target)[0]
    window = clocks(DEMO_MEDIA, 11.8, 1.2)
    distances = np.abs(window - first).mean(axis=1)
    best = int(np.argmin(distances))
    assert round(11.8 + best * 0.04, 2) == 12.4
    assert distances[best] < 0.5 * np.sort(distances)[1]
    video, audio = streams(target, "video")[0], streams(target, "audio")[0]
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (640, 360)
    assert audio["codec_name"] == "aac"
    assert top_level_boxes(target).index("moov") < top_level_boxes(target).index("mdat")


def test_full_quality_encode_is_asked_for(tmp_path: Path) -> None:
    plan = clips.plan_clip(
        ready_recording(tmp_path, DEMO_MEDIA), segment(1000, 2000), LocalStore(tmp_path)
    )
    args = clips.clip_args(plan, tmp_path / "clip.mp4")
    text = " ".join(args)
    assert "-c:v libx264" in text and "-crf 18" in text
    assert "-c:a aac" in text and "-b:a 192k" in text
    assert "-c:v copy" not in text and "-c:a copy" not in text
    assert args.index("-ss") < args.index("-i")  # seek in the input: decoded, then exact


def test_a_phones_rotation_is_applied_and_metadata_dropped(tmp_path: Path) -> None:
    tagged = make_media(
        tmp_path / "tagged.mp4",
        "-i", str(VARIANTS / "portrait-phone.mp4"), "-c", "copy",
        "-metadata", "title=Mme Dupont, entretien", "-metadata", "location=+48.85+002.35/",
    )  # fmt: skip
    rotated = rotated_copy(tagged, tmp_path / "rotated.mp4", 90)
    assert streams(rotated, "video")[0]["width"] == 360  # stored landscape-sideways, 360×640
    recording = ready_recording(tmp_path, rotated)
    plan = clips.plan_clip(recording, segment(1000, 3000), LocalStore(tmp_path))
    target = clips.cut(runner(), plan, tmp_path / "clip.mp4")

    video = streams(target, "video")[0]
    assert (video["width"], video["height"]) == (640, 360)  # turned as the phone meant
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    tags = ffprobe(target)["format"].get("tags", {})
    assert "title" not in tags and "location" not in tags
    assert abs(duration_s(target) - 2.0) <= 0.1


def test_sound_only_recordings_give_a_sound_clip(tmp_path: Path) -> None:
    recording = ready_recording(tmp_path, VARIANTS / "audio.m4a")
    plan = clips.plan_clip(recording, segment(2500, 6000), LocalStore(tmp_path))
    assert plan.kind == "audio" and plan.media_type == "audio/mp4"
    assert plan.filename == "A8 - 1 — 0\u201902-0\u201906.m4a"
    target = clips.cut(runner(), plan, tmp_path / "clip.m4a")

    assert streams(target, "video") == []
    (audio,) = streams(target, "audio")
    assert audio["codec_name"] == "aac"
    assert abs(duration_s(target) - 3.5) <= 0.1
    assert abs(first_pts(target, "a")) <= 0.05  # AAC priming: at most one frame before 0


def test_a_stopped_or_failed_cut_leaves_no_file(tmp_path: Path) -> None:
    recording = ready_recording(tmp_path, DEMO_MEDIA)
    plan = clips.plan_clip(recording, segment(0, 60_000), LocalStore(tmp_path))
    target = clips.new_clip_path(tmp_path, plan)
    assert target.parent == tmp_path / clips.CLIPS_FOLDER and target.suffix == ".mp4"
    with pytest.raises(Stopped):
        clips.cut(runner(), plan, target, should_stop=lambda: True)
    assert not target.exists()

    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()  # a client hanging up while ffmpeg runs
    slow = clips.ClipPlan(plan.source, plan.folder, 0, 120_000, "video", 1, plan.filename)
    with pytest.raises(Stopped):
        clips.cut(runner(), slow, target, should_stop=stop.is_set)
    assert not target.exists()

    (tmp_path / recording.storage_key).write_bytes(b"not a video at all" * 1000)
    with pytest.raises(Conflict) as failed:
        clips.cut(runner(), plan, target)
    assert str(tmp_path) not in str(failed.value)  # no server path in the message
    assert not target.exists()


def test_stale_clips_are_swept(tmp_path: Path) -> None:
    plan = clips.plan_clip(
        ready_recording(tmp_path, DEMO_MEDIA), segment(0, 1000), LocalStore(tmp_path)
    )
    old = clips.new_clip_path(tmp_path, plan)
    fresh = clips.new_clip_path(tmp_path, plan)
    os.utime(old, (1, 1))
    clips.new_clip_path(tmp_path, plan)
    assert not old.exists() and fresh.exists()


def test_what_cannot_be_clipped(tmp_path: Path) -> None:
    recording = ready_recording(tmp_path, DEMO_MEDIA)

    def refused(error: type[Exception], annotation: Annotation, **changes: Any) -> str:
        changed = Recording(**(recording.model_dump() | changes))
        with pytest.raises(error) as raised:
            clips.plan_clip(changed, annotation, LocalStore(tmp_path))
        return str(raised.value)

    assert refused(Invalid, segment(10_000, None)).startswith("Un moment n'a pas de durée")
    assert "traité" in refused(Conflict, segment(0, 1000), status="processing", media_info={})
    long = refused(Invalid, segment(0, 10 * 60_000 + 1), duration_ms=3_600_000)
    assert "10\u201900" in long
    assert "après la fin" in refused(Invalid, segment(200_000, 201_000))
    assert "introuvable" in refused(Conflict, segment(0, 1000), storage_key="recordings/x/o.mp4")
    # Exactly ten minutes is allowed; a segment running past the end stops at the end.
    ten = clips.plan_clip(
        Recording(**(recording.model_dump() | {"duration_ms": 3_600_000})),
        segment(0, 10 * 60_000),
        LocalStore(tmp_path),
    )
    assert ten.duration_ms == 600_000
    past = clips.plan_clip(recording, segment(130_000, 150_000), LocalStore(tmp_path))
    assert past.end_ms == recording.duration_ms


def test_file_names_are_safe_and_readable() -> None:
    assert clips.clip_filename("A8 - 1", 602_000, 615_000, "video") == (
        "A8 - 1 — 10\u201902-10\u201915.mp4"
    )
    assert clips.clip_filename("A8/2: bis", 0, 4_510_000, "audio") == (
        "A8-2- bis — 0\u201900-1h15\u201910.m4a"
    )
    assert clips.clip_filename("..", 0, 1000, "video").startswith("extrait — ")
    header = clips.content_disposition("A8 - 1 — 10\u201902-10\u201915.mp4")
    assert header == (
        "attachment; filename=\"A8 - 1 - 10'02-10'15.mp4\"; "
        f"filename*=UTF-8''{quote('A8 - 1 — 10’02-10’15.mp4', safe='')}"
    )
    assert "%E2%80%99" in header and "%E2%80%94" in header
