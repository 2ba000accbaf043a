"""Clips for training: a segment cut from the recording's original and re-encoded at full
quality (H.264 CRF 18 + AAC 192k, or AAC alone for sound), so that it starts on the
segment's first frame: a stream copy would start on the keyframe before it, seconds early.
A clip is at most ten minutes long, so the encode costs seconds to a couple of minutes."""

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import ffmpeg

from autoconf.errors import Conflict, Invalid
from autoconf.media.proxy import EVEN_SIZE
from autoconf.media.runner import FFmpeg, MediaError, StopFn, Stopped
from autoconf.media.store import Store
from autoconf.models import Annotation, Recording
from autoconf.schemes.timecode import format_ms

logger = logging.getLogger(__name__)

MAX_CLIP_MS = 10 * 60 * 1000
VIDEO_CRF = 18  # visually lossless: a clip is shown in training, maybe cut again
# The request waits for the encode: veryfast keeps a ten-minute 720p clip near 2 minutes
# here (the preset changes the size of the file far more than its quality at a given CRF).
VIDEO_PRESET = "veryfast"
AUDIO_BITRATE = "192k"
CLIPS_FOLDER = "clips"  # under the data folder, beside (not inside) the media served by nginx
CLIP_SOURCE_SECONDS = 3600  # ffmpeg's address of an original in an object store
STALE_CLIP_S = 24 * 3600  # a clip left by a crash is removed by the next one after a day
# Characters file systems (Windows, macOS, Linux) refuse or treat specially in a name.
_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')
_ASCII = str.maketrans({"\u2019": "'", "\u2014": "-", "\u2013": "-"})


@dataclass(frozen=True)
class ClipPlan:
    """What to cut (from where, which streams) and what to call it."""

    source: str  # the original's path, or its presigned address in an object store
    folder: str  # the `<uuid>` of its folder, which names the clip's file
    start_ms: int
    end_ms: int
    kind: str  # "video" or "audio"
    audio_channels: int  # 0: no sound
    filename: str

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    @property
    def media_type(self) -> str:
        return "video/mp4" if self.kind == "video" else "audio/mp4"


def plan_clip(recording: Recording, annotation: Annotation, store: Store) -> ClipPlan:
    """The clip of `annotation` (a segment of `recording`); Invalid (a moment, too long, past
    the end) or Conflict (not processed, original missing), each with a message for the
    researcher. The consent (training scope) is checked before, by `consent.records`."""
    if annotation.end_ms is None or annotation.end_ms <= annotation.start_ms:
        raise Invalid(
            "Un moment n'a pas de durée : seul un segment (un début et une fin) peut être "
            "exporté comme extrait."
        )
    info = recording.media_info or {}
    if recording.status != "ready" or not info:
        raise Conflict(
            f"« {recording.code} » n'est pas encore traité : un extrait pourra être exporté "
            "une fois le traitement terminé."
        )
    start, end = annotation.start_ms, annotation.end_ms
    if recording.duration_ms:
        if start >= recording.duration_ms:
            raise Invalid(
                f"Le segment commence à {format_ms(start)}, après la fin de l'enregistrement "
                f"({format_ms(recording.duration_ms)})."
            )
        end = min(end, recording.duration_ms)
    if end - start > MAX_CLIP_MS:
        raise Invalid(
            f"Le segment dure {format_ms(end - start)} : un extrait ne peut pas dépasser "
            f"{format_ms(MAX_CLIP_MS)}. Exportez-en une partie plus courte."
        )
    if not recording.storage_key or store.size(recording.storage_key) is None:
        raise Conflict(
            f"Le fichier original de « {recording.code} » est introuvable sur le serveur : "
            "aucun extrait ne peut en être découpé."
        )
    kind = "video" if info.get("video") else "audio"
    audio = info.get("audio") or {}
    channels = min(2, int(audio.get("channels") or 2)) if audio else 0
    key = PurePosixPath(recording.storage_key)
    return ClipPlan(
        store.source(str(key), CLIP_SOURCE_SECONDS),
        key.parent.name,
        start,
        end,
        kind,
        channels,
        clip_filename(recording.code, start, end, kind),
    )


def clip_filename(code: str, start_ms: int, end_ms: int, kind: str) -> str:
    """`A8 - 1 — 10’02-10’15.mp4`: the code and the times as researchers write them, without
    the characters file systems refuse (the typographic apostrophe stays)."""
    safe_code = re.sub(r"\s+", " ", _UNSAFE.sub("-", code)).strip(" .") or "extrait"
    extension = ".mp4" if kind == "video" else ".m4a"
    return f"{safe_code} — {format_ms(start_ms)}-{format_ms(end_ms)}{extension}"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = filename.translate(_ASCII).encode("ascii", "replace").decode().replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def clip_args(plan: ClipPlan, target: Path) -> list[str]:
    """ffmpeg arguments (after the binary): seek in the input (accurate when re-encoding:
    the frames before the start are decoded and dropped), re-encode, keep nothing of the
    original's metadata (titles, places, devices may name people)."""
    stream = ffmpeg.input(plan.source, ss=f"{plan.start_ms / 1000:.3f}")
    outputs = []
    options: dict[str, object] = {
        "format": "mp4",
        "movflags": "+faststart",
        "t": f"{plan.duration_ms / 1000:.3f}",
        "map_metadata": -1,
        "map_chapters": -1,
    }
    if plan.kind == "video":
        # ffmpeg's autorotate turns the picture upright before this filter (a phone's
        # portrait video stays portrait); libx264 needs even sizes.
        outputs.append(stream["V:0"].filter("scale", *EVEN_SIZE))
        options.update(
            {"c:v": "libx264", "preset": VIDEO_PRESET, "crf": VIDEO_CRF, "pix_fmt": "yuv420p"}
        )
    if plan.audio_channels:
        outputs.append(stream["a:0"])
        options.update({"c:a": "aac", "b:a": AUDIO_BITRATE, "ac": plan.audio_channels})
    output = ffmpeg.output(*outputs, str(target), **options)
    args: list[str] = output.compile(cmd="ffmpeg", overwrite_output=True)
    return args[1:]


def new_clip_path(data_dir: Path, plan: ClipPlan) -> Path:
    """A fresh file under `DATA_DIR/clips/` for the clip (clips older than a day, left by a
    crash, are removed on the way)."""
    folder = data_dir / CLIPS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_CLIP_S
    for old in folder.glob("clip-*"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue
    # Named after the recording's folder: erasing the recording removes its clips too.
    prefix = f"clip-{plan.folder}-"
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=Path(plan.filename).suffix, dir=folder)
    os.close(handle)
    return Path(name)


def cut(runner: FFmpeg, plan: ClipPlan, target: Path, should_stop: StopFn | None = None) -> Path:
    """Write the clip to `target`; Conflict when ffmpeg fails (the detail goes to the log,
    it names server paths), Stopped when `should_stop` says so. `target` is removed on
    any failure."""
    try:
        if should_stop is not None and should_stop():
            raise Stopped()
        runner.run(
            clip_args(plan, target),
            duration_s=plan.duration_ms / 1000,
            should_stop=should_stop,
        )
    except MediaError as error:
        target.unlink(missing_ok=True)
        logger.warning("clip of recordings/%s failed: %s", plan.folder, error)
        raise Conflict(
            "L'extrait n'a pas pu être découpé dans le fichier original (le détail est dans "
            "le journal du serveur). Réessayez ; si l'erreur revient, traitez l'enregistrement "
            "de nouveau."
        ) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target
