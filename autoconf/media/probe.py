"""Reading a media file's facts with ffprobe (through ffmpeg-python), with a timeout."""

from pathlib import Path

import ffmpeg

from autoconf.errors import Invalid
from autoconf.media.tools import require_tool

PROBE_TIMEOUT_S = 60


def probe_duration_ms(path: Path, ffprobe: str = "ffprobe") -> int:
    """The duration of a media file in milliseconds; Invalid when ffprobe cannot read it."""
    binary = require_tool(ffprobe)
    try:
        info = ffmpeg.probe(str(path), cmd=binary, timeout=PROBE_TIMEOUT_S)
        return round(float(info["format"]["duration"]) * 1000)
    except (ffmpeg.Error, KeyError, ValueError) as error:
        raise Invalid(f"Le fichier « {path.name} » n'est pas un média lisible.") from error
