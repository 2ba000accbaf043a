"""Zip archives from users (REFI-QDA projects, study archives), opened safely.

Refused with a message naming the entry: a file that is not a zip or is cut short; an entry
whose name climbs out of the archive (`..`), is absolute or names a drive; a link; an
encrypted entry; more entries, or more bytes once unpacked, than the limits; an entry whose
compression ratio only a zip bomb reaches. Reading an entry never returns more bytes than it
declared, whatever its header says.
"""

import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, BinaryIO

from autoconf.errors import Invalid

MAX_ENTRIES = 20_000
# Beyond this ratio, an entry larger than RATIO_FLOOR is taken for a zip bomb (text and XML
# compress 5-20 times; media, stored, once).
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    unpacked_bytes: int
    entry_bytes: int


class SafeZip:
    """A checked archive: its entries' names are safe, its sizes within the limits."""

    def __init__(self, source: BinaryIO, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        try:
            self.archive = zipfile.ZipFile(source)
            infos = self.archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
            raise Invalid(
                f"« {name} » n'est pas une archive zip lisible (fichier tronqué ou d'un autre "
                "format ?)."
            ) from None
        if len(infos) > MAX_ENTRIES:
            raise Invalid(f"« {name} » contient plus de {MAX_ENTRIES} fichiers.")
        total = 0
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            _check_entry(name, info, limits)
            total += info.file_size
            if total > limits.unpacked_bytes:
                raise Invalid(
                    f"« {name} » dépasse la taille acceptée une fois décompressé "
                    f"({limits.unpacked_bytes // (1024 * 1024)} Mo)."
                )
            if not info.is_dir():
                self.entries[info.filename] = info

    def __enter__(self) -> "SafeZip":
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()

    def has(self, entry: str) -> bool:
        return entry in self.entries

    def chunks(self, entry: str) -> Iterator[bytes]:
        """The bytes of `entry`, checked against its declared size and its CRC."""
        info = self.entries.get(entry)
        if info is None:
            raise Invalid(f"« {self.name} » ne contient pas « {entry} ».")
        read = 0
        try:
            with self.archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    read += len(chunk)
                    if read > info.file_size:
                        raise Invalid(
                            f"« {self.name} » : l'entrée « {entry} » est plus grande qu'annoncé."
                        )
                    yield chunk
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
            raise Invalid(
                f"« {self.name} » : l'entrée « {entry} » est illisible ({error})."
            ) from None

    def read(self, entry: str, max_bytes: int | None = None) -> bytes:
        info = self.entries.get(entry)
        limit = max_bytes if max_bytes is not None else self.limits.entry_bytes
        if info is not None and info.file_size > limit:
            raise Invalid(
                f"« {self.name} » : l'entrée « {entry} » dépasse la taille acceptée "
                f"({limit // (1024 * 1024)} Mo)."
            )
        return b"".join(self.chunks(entry))

    def open(self, entry: str) -> IO[bytes]:
        """A stream of `entry` (zipfile stops at its declared size and checks its CRC)."""
        info = self.entries.get(entry)
        if info is None:
            raise Invalid(f"« {self.name} » ne contient pas « {entry} ».")
        return self.archive.open(info)

    def copy(self, entry: str, target: IO[bytes]) -> int:
        size = 0
        for chunk in self.chunks(entry):
            target.write(chunk)
            size += len(chunk)
        return size


def _check_entry(name: str, info: zipfile.ZipInfo, limits: Limits) -> None:
    entry = info.filename
    path = PurePosixPath(entry.replace("\\", "/"))
    if (
        entry.startswith(("/", "\\"))
        or ".." in path.parts
        or (len(entry) > 1 and entry[1] == ":")
        or "\x00" in entry
    ):
        raise Invalid(
            f"« {name} » contient une entrée au chemin dangereux (« {entry[:200]} ») : "
            "refusée, elle écrirait hors de l'archive."
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise Invalid(f"« {name} » contient un lien (« {entry[:200]} ») : refusé.")
    if info.flag_bits & 0x1:
        raise Invalid(f"« {name} » contient une entrée chiffrée (« {entry[:200]} ») : refusée.")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise Invalid(
            f"« {name} » : l'entrée « {entry[:200]} » se décompresse plus de {MAX_RATIO} fois "
            "(une « bombe zip ») : refusée."
        )
    if info.file_size > limits.entry_bytes:
        raise Invalid(
            f"« {name} » : l'entrée « {entry[:200]} » dépasse la taille acceptée "
            f"({limits.entry_bytes // (1024 * 1024)} Mo)."
        )
