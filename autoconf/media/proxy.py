"""The browser-ready copy of a recording: H.264 (yuv420p) + AAC in MP4 with faststart, or
AAC in M4A for sound only. Streams that browsers already play are copied, not re-encoded:
re-encoding 90 minutes costs 15–25 minutes of CPU, a remux a few seconds."""

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from autoconf.media.probe import AudioStream, MediaInfo, VideoStream

MAX_SHORT_SIDE = 1080
BROWSER_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
# H.264 profiles Chromium decodes in hardware and software alike (no 10-bit, no 4:2:2/4:4:4).
BROWSER_H264_PROFILES = frozenset(
    {"Baseline", "Constrained Baseline", "Main", "Extended", "High", ""}
)
BROWSER_AAC_PROFILES = frozenset({"LC", "HE-AAC", "HE-AACv2", ""})
EVEN_SIZE = ("trunc(iw/2)*2", "trunc(ih/2)*2")
KEYFRAME_EVERY_S = 2  # re-encoded video: a seek decodes at most 2 s; thumbnails every 2 s


@dataclass(frozen=True)
class ProxyPlan:
    kind: str  # "video" or "audio"
    filename: str
    copy_video: bool
    copy_audio: bool
    scale_to: tuple[int, int] | None  # width, height (-2 keeps the ratio, even)
    reasons: tuple[str, ...]  # why a stream is re-encoded, for the log and the page

    @property
    def remux_only(self) -> bool:
        """Every stream is copied: seconds of work, whatever the length."""
        return not self.reasons


def plan_proxy(info: MediaInfo) -> ProxyPlan:
    """Decide, per stream, copy or re-encode."""
    reasons: list[str] = []
    copy_video = True
    scale_to = None
    if info.video:
        copy_video, scale_to = _video_plan(info.video, reasons)
    copy_audio = info.audio is None or _audio_compatible(info.audio, reasons)
    kind = info.kind
    return ProxyPlan(
        kind=kind,
        filename="proxy.mp4" if kind == "video" else "proxy.m4a",
        copy_video=copy_video and info.video is not None,
        copy_audio=copy_audio and info.audio is not None,
        scale_to=scale_to,
        reasons=tuple(reasons),
    )


def _video_plan(video: VideoStream, reasons: list[str]) -> tuple[bool, tuple[int, int] | None]:
    compatible = True
    if video.codec != "h264":
        reasons.append(f"vidéo {video.codec} → H.264")
        compatible = False
    elif video.profile not in BROWSER_H264_PROFILES:
        reasons.append(f"profil H.264 {video.profile} → High")
        compatible = False
    if video.pix_fmt not in BROWSER_PIX_FMTS:
        reasons.append(f"pixels {video.pix_fmt} → yuv420p")
        compatible = False
    if video.rotation:
        reasons.append(f"rotation de {video.rotation}° appliquée")
        compatible = False
    width, height = video.display_size
    scale_to = None
    if min(width, height) > MAX_SHORT_SIDE:
        scale_to = (-2, MAX_SHORT_SIDE) if width >= height else (MAX_SHORT_SIDE, -2)
        reasons.append(f"{width}×{height} réduit à {MAX_SHORT_SIDE}p")
        compatible = False
    return compatible, scale_to


def _audio_compatible(audio: AudioStream, reasons: list[str]) -> bool:
    if audio.codec == "aac" and audio.profile in BROWSER_AAC_PROFILES and audio.channels <= 2:
        return True
    reasons.append(f"son {audio.codec} → AAC")
    return False


def proxy_args(info: MediaInfo, plan: ProxyPlan, source: Path, target: Path) -> list[str]:
    """ffmpeg arguments (after the binary) that write the proxy of `source` to `target`."""
    stream = ffmpeg.input(str(source))
    outputs = []
    options: dict[str, object] = {"format": "mp4", "movflags": "+faststart"}
    if plan.kind == "video":
        video = stream["V:0"]  # a video stream that is not cover art
        if plan.copy_video:
            options["c:v"] = "copy"
        else:
            # libx264 needs even sizes (phones and screen recorders make odd ones).
            video = video.filter("scale", *(plan.scale_to or EVEN_SIZE))
            options.update(
                {
                    "c:v": "libx264",
                    "preset": "veryfast",
                    "crf": 23,
                    "pix_fmt": "yuv420p",
                    "profile:v": "high",
                    "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_EVERY_S})",
                }
            )
        outputs.append(video)
    if info.audio:
        outputs.append(stream["a:0"])
        if plan.copy_audio:
            options["c:a"] = "copy"
        else:
            options.update({"c:a": "aac", "b:a": "128k", "ac": min(2, info.audio.channels or 2)})
    output = ffmpeg.output(*outputs, str(target), **options)
    args: list[str] = output.compile(cmd="ffmpeg", overwrite_output=True)
    return args[1:]
