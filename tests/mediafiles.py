"""Media files for tests: the variants copied from the sample set, files made with ffmpeg,
and ffprobe readings to check what the pipeline wrote."""

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

VARIANTS = Path(__file__).parent / "data" / "variants"
BROKEN = ("empty.mp4", "not-media.mp4", "truncated.mp4")


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def streams(path: Path, kind: str) -> list[dict[str, Any]]:
    return [s for s in ffprobe(path)["streams"] if s["codec_type"] == kind]


def duration_s(path: Path) -> float:
    return float(ffprobe(path)["format"]["duration"])


def packet_hash(path: Path, selector: str) -> str:
    """A hash of the packets of one stream, unchanged by a remux, changed by a re-encode."""
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{selector}", "-c", "copy"]
    out = subprocess.run(
        [*command, "-f", "streamhash", "-hash", "sha256", "-"],
        capture_output=True,
        check=True,
        timeout=60,
        text=True,
    ).stdout
    return out.strip().split(",", 2)[-1]


def top_level_boxes(path: Path) -> list[str]:
    """The MP4 boxes in file order (faststart puts `moov` before `mdat`)."""
    names = []
    with path.open("rb") as file:
        while header := file.read(8):
            size, name = struct.unpack(">I4s", header)
            names.append(name.decode("latin-1"))
            if size == 1:
                size = struct.unpack(">Q", file.read(8))[0] - 8
            file.seek(size - 8, 1)
    return names


def make_media(path: Path, *args: str) -> Path:
    """Run ffmpeg with lavfi sources to make a test file (`args` come after the binary)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True, timeout=300)
    return path


def make_testsrc(path: Path, seconds: float, size: str = "640x360", *extra: str) -> Path:
    """A video with a moving test picture and a tone (what the remux/encode paths need)."""
    return make_media(
        path,
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        *extra,
    )  # fmt: skip


def rotated_copy(source: Path, target: Path, degrees: int = 90) -> Path:
    """The same packets with a display matrix, as phones write portrait videos."""
    return make_media(
        target, "-i", str(source), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}"
    )


def ffmpeg_processes(folder: Path) -> list[int]:
    """Pids of the ffmpeg processes working on files under `folder` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if argv and argv[0].endswith(b"ffmpeg") and any(str(folder).encode() in a for a in argv):
            found.append(int(entry.name))
    return found


def slow_to_encode(folder: Path, seconds: int = 30) -> Path:
    """A 720p MPEG-4 part 2 file: its proxy needs a real H.264 encode (several seconds)."""
    return make_testsrc(
        folder / "slow.avi", seconds, "1280x720", "-c:v", "mpeg4", "-q:v", "5", "-c:a", "mp3"
    )
