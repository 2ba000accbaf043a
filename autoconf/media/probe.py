"""What a media file holds, read with ffprobe (the command ffmpeg-python's probe() runs, but
with a timeout, which it lacks)."""

import json
import subprocess
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from autoconf.errors import Invalid
from autoconf.media.runner import MediaError
from autoconf.media.tools import require_tool

PROBE_TIMEOUT_S = 60


@dataclass(frozen=True)
class VideoStream:
    codec: str
    profile: str
    pix_fmt: str
    width: int
    height: int
    rotation: int  # the display matrix's angle as ffprobe reports it: 0, 90, 180 or 270
    fps: float | None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height once rotated as the recorder meant."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStream:
    codec: str
    profile: str
    channels: int
    sample_rate: int


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration_ms: int
    bit_rate: int | None
    video: VideoStream | None
    audio: AudioStream | None
    streams: tuple[str, ...] = ()  # every stream, "type codec" (e.g. "data tmcd"), in order
    warnings: str = ""  # what ffprobe complained about while reading (a damaged file)

    @property
    def exact_duration(self) -> bool:
        """MP4/MOV announce their duration from an index; other containers may estimate it
        (an MP3 without a VBR header) or omit it (a live WebM)."""
        return self.container.startswith("mov,mp4")

    @property
    def kind(self) -> str:
        return "video" if self.video else "audio"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(
    path: Path, ffprobe: str = "ffprobe", name: str = "", timeout_s: float = PROBE_TIMEOUT_S
) -> MediaInfo:
    """The facts of a media file; MediaError with a message for the user (who knows the
    file as `name`) when it is missing, empty, not media, or has neither sound nor picture.
    A duration of 0 means the file does not announce one (a live WebM, for instance)."""
    binary = require_tool(ffprobe)
    name = name or path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(
            f"Le fichier original de « {name} » est introuvable sur le serveur (supprimé ou "
            "déplacé) : déposez-le de nouveau."
        ) from None
    if size == 0:
        raise MediaError("Le fichier est vide (0 octet) : le dépôt ou la copie a échoué.")
    # ffmpeg-python's probe() has no timeout of its own: the same command, run with one.
    command = [binary, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(
            f"L'analyse de « {name} » n'a pas abouti en {timeout_s:g} s : le fichier est "
            "peut-être sur un disque trop lent ou abîmé."
        ) from None
    if done.returncode != 0:
        raise MediaError(_unreadable(path, name, done.stderr))
    info = parse(json.loads(done.stdout or b"{}"), done.stderr.decode(errors="replace"))
    if info.video is None and info.audio is None:
        raise MediaError(f"« {name} » ne contient ni son ni image lisibles.")
    return info


def probe_duration_ms(path: Path, ffprobe: str = "ffprobe") -> int:
    """The duration of a media file in milliseconds; Invalid when it cannot be read."""
    try:
        return probe(path, ffprobe).duration_ms
    except MediaError as error:
        raise Invalid(str(error)) from error


def parse(data: dict[str, Any], warnings: str = "") -> MediaInfo:
    """MediaInfo from ffprobe's JSON (`-show_format -show_streams`) and what it printed on
    stderr at level `error` (damage it read past)."""
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not s.get("disposition", {}).get("attached_pic")  # an MP3's cover art
            and s.get("width")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    durations = [_float(fmt.get("duration"))]
    durations += [_float(s.get("duration")) for s in (video, audio) if s]
    duration = next((d for d in durations if d and d > 0), 0.0)
    return MediaInfo(
        container=str(fmt.get("format_name", "")),
        duration_ms=round(duration * 1000),
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        video=_video(video) if video else None,
        audio=_audio(audio) if audio else None,
        streams=tuple(
            f"{s.get('codec_type', '?')} {s.get('codec_name', '?')}".strip() for s in streams
        ),
        warnings=warnings.strip()[-500:],
    )


def _video(stream: dict[str, Any]) -> VideoStream:
    return VideoStream(
        codec=str(stream.get("codec_name", "")),
        profile=str(stream.get("profile", "")),
        pix_fmt=str(stream.get("pix_fmt", "")),
        width=int(stream.get("width", 0)),
        height=int(stream.get("height", 0)),
        rotation=_rotation(stream),
        fps=_rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
    )


def _audio(stream: dict[str, Any]) -> AudioStream:
    return AudioStream(
        codec=str(stream.get("codec_name", "")),
        profile=str(stream.get("profile", "")),
        channels=int(stream.get("channels", 0) or 0),
        sample_rate=int(stream.get("sample_rate", 0) or 0),
    )


def _rotation(stream: dict[str, Any]) -> int:
    """The display matrix angle from side data (it may be negative), or an older `rotate`
    tag; only "quarter turn or not" matters here, ffmpeg applies the matrix itself."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return round(float(side["rotation"])) % 360
    tag = stream.get("tags", {}).get("rotate")
    return round(float(tag)) % 360 if tag else 0


def _rate(value: Any) -> float | None:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _unreadable(path: Path, name: str, stderr: bytes) -> str:
    with path.open("rb") as file:
        head = file.read(12)
    if head[4:8] == b"ftyp" and b"moov atom not found" in stderr:
        return (
            f"« {name} » est incomplet : le début d'une vidéo MP4/MOV est là, mais son index "
            "(« moov ») manque. L'enregistrement ou la copie a sans doute été interrompu ; "
            "déposez le fichier complet."
        )
    return (
        f"« {name} » n'est pas un fichier audio ou vidéo lisible (format inconnu ou fichier "
        "abîmé). Vérifiez que c'est bien l'enregistrement de la séance."
    )
