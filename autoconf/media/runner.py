"""The one way ffmpeg runs: off the event loop, under a concurrency cap, with a timeout,
progress read from `-progress`, a stop check, and the tail of stderr in the error."""

import contextlib
import ctypes
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from autoconf.errors import DomainError

logger = logging.getLogger(__name__)

# How often the stop check runs while ffmpeg works (and so how fast a cancel bites).
TICK_S = 0.5
STDERR_TAIL = 2000

ProgressFn = Callable[[float], None]  # fraction done, 0..1
StopFn = Callable[[], bool]


class MediaError(DomainError):
    """A media file could not be processed; the message is for the user (French)."""


class Stopped(Exception):
    """The job was cancelled or taken away while ffmpeg ran."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: ffmpeg gets SIGKILL when the worker that started it dies (a killed server
    must not leave an orphan writing the files the restarted job writes)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass(frozen=True)
class FFmpeg:
    """Runs ffmpeg commands; `slots` caps how many run at once in this process."""

    binary: str
    timeout_s: float
    slots: threading.BoundedSemaphore

    @classmethod
    def create(cls, binary: str, timeout_s: float, concurrency: int) -> "FFmpeg":
        return cls(binary, timeout_s, threading.BoundedSemaphore(max(1, concurrency)))

    def run(
        self,
        args: Sequence[str],
        *,
        duration_s: float | None = None,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        loglevel: str = "error",
    ) -> str:
        """Run `ffmpeg <args>` to completion; returns its stderr (log). MediaError on failure
        or timeout, Stopped when `should_stop` says so (ffmpeg is killed either way)."""
        command = [self.binary, "-hide_banner", "-nostdin", "-y", "-loglevel", loglevel]
        command += ["-progress", "pipe:1", "-nostats", *args]
        with self.slots, self._started(command) as (process, log, expired):
            assert process.stdout is not None
            self._follow(process.stdout, duration_s, progress, should_stop)
            return self._finish(process, log, expired)

    @contextlib.contextmanager
    def stream(
        self, args: Sequence[str], *, should_stop: StopFn | None = None
    ) -> Iterator[tuple[IO[bytes], Callable[[], str]]]:
        """Run `ffmpeg <args>` writing its output to stdout; yields (stdout, finish), where
        finish() waits for the end and returns the log (MediaError on failure)."""
        command = [self.binary, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
        command += ["-nostats", *args]
        with self.slots, self._started(command) as (process, log, expired):
            assert process.stdout is not None
            yield process.stdout, lambda: self._finish(process, log, expired)

    @contextlib.contextmanager
    def _started(
        self, command: list[str]
    ) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes], threading.Event]]:
        """Start ffmpeg (stdout piped, stderr to a file) with a timer that kills it at the
        timeout, and make sure it is gone when the block ends."""
        with tempfile.TemporaryFile() as log:  # a file, not a pipe: stderr never blocks ffmpeg
            preexec = _die_with_parent if sys.platform.startswith("linux") else None
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    preexec_fn=preexec,  # only prctl, before exec
                )
            except FileNotFoundError as error:
                raise MediaError(f"« {self.binary} » est introuvable sur cette machine.") from error
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                process.kill()

            timer = threading.Timer(self.timeout_s, expire)
            timer.daemon = True
            timer.start()
            try:
                yield process, log, expired
            finally:
                timer.cancel()
                if process.poll() is None:
                    process.kill()
                    process.wait()
                if process.stdout:
                    process.stdout.close()

    def _follow(
        self,
        stdout: IO[bytes],
        duration_s: float | None,
        progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> None:
        """Read `-progress` key=value lines until ffmpeg ends, checking for a stop."""
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while True:
                if should_stop is not None and should_stop():
                    raise Stopped()
                if not selector.select(TICK_S):
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:  # EOF: ffmpeg is done
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    key, _, value = line.decode(errors="replace").strip().partition("=")
                    if key == "out_time_us" and progress and duration_s:
                        with contextlib.suppress(ValueError):
                            progress(min(1.0, max(0.0, int(value) / 1e6 / duration_s)))

    def _finish(
        self, process: subprocess.Popen[bytes], log: IO[bytes], expired: threading.Event
    ) -> str:
        code = process.wait()
        if expired.is_set():
            raise self._timeout()
        log.seek(0)
        text = log.read().decode(errors="replace")
        if code != 0:
            logger.warning("ffmpeg exited with %s: %s", code, text[-STDERR_TAIL:])
            last = [line for line in text.strip().splitlines() if line.strip()][-3:]
            detail = " / ".join(last) or f"code {code}"
            raise MediaError(f"La conversion du fichier a échoué (ffmpeg : {detail[:400]}).")
        return text

    def _timeout(self) -> MediaError:
        limit = (
            f"{self.timeout_s / 60:.0f} min" if self.timeout_s >= 120 else f"{self.timeout_s:g} s"
        )
        return MediaError(
            f"Le traitement a dépassé la durée maximale autorisée ({limit}) et a été "
            "arrêté. Relancez-le, ou augmentez AUTOCONF_MEDIA_TIMEOUT_SECONDS."
        )
