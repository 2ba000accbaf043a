"""Where ffmpeg and ffprobe are, and a clear message when they are not."""

import shutil
import subprocess
from dataclasses import dataclass

from autoconf.errors import ToolMissing

INSTALL_HINT = (
    "Installez-le : Debian/Ubuntu « apt-get install ffmpeg », macOS « brew install ffmpeg », "
    "Windows « winget install ffmpeg »."
)


@dataclass(frozen=True)
class ToolStatus:
    name: str
    path: str | None
    version: str | None


def tool_status(binary: str) -> ToolStatus:
    path = shutil.which(binary)
    if path is None:
        return ToolStatus(binary, None, None)
    try:
        out = subprocess.run(
            [path, "-version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ToolStatus(binary, path, None)
    first = out.splitlines()[0] if out else ""
    return ToolStatus(binary, path, first.split(" Copyright")[0] or None)


def require_tool(binary: str) -> str:
    """The full path of `binary`, or ToolMissing with how to install it."""
    path = shutil.which(binary)
    if path is None:
        raise ToolMissing(f"« {binary} » est introuvable sur cette machine. {INSTALL_HINT}")
    return path
