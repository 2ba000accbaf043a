"""Where media files are kept: the local folder DATA_DIR/media (the default) or an
S3-compatible object store (`AUTOCONF_STORAGE_URL=s3://bucket/prefix`).

Both are addressed by the same keys, relative POSIX paths such as
`recordings/<uuid>/original.mp4`; the database holds keys, never paths or URLs. The local
store keeps the fast paths a folder allows (a finished upload moved in place by a rename,
files handed to nginx, ffmpeg reading the file itself); the object store streams everything
in parts of PART bytes, so that memory stays constant whatever the file's size, and ffmpeg
reads it through a presigned address (HTTP, with Range: a clip's cut seeks without
downloading the recording). Temporary work files (uploads in progress, a media job's
attempt) stay on local disk, under `Settings.work_dir`.
"""

import functools
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, ParamSpec, TypeVar, cast

from autoconf.errors import TooLarge, Unavailable
from autoconf.media.storage import (
    CHUNK,
    StoredFile,
    adopt_file,
    checked_upload,
    human_size,
    store_original,
    sync_folder,
)
from autoconf.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

RECORDINGS = "recordings"  # the folder of the recordings' folders, one per original
PART = 8 * 1024 * 1024  # S3's multipart parts (at least 5 MiB but the last)
CHECK_KEY = ".autoconf-ready"  # written and removed by the readiness check


class MissingObject(Exception):
    """The key names nothing in the store."""


def checked_key(key: str) -> str:
    """`key` if it is a plain relative path that stays inside the store (no `..`, and
    written as it would be normalised: the same file is one key in a folder and in a
    bucket); ValueError otherwise (keys come from the database, but one is never trusted
    to climb out)."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or str(path) != key or ".." in path.parts:
        raise ValueError(f"invalid media key {key!r}")
    return key


@dataclass(frozen=True)
class ObjectPart:
    """A read of (part of) a stored file: its bytes as an iterator of chunks, where they
    start, how many, and the file's whole size."""

    chunks: Iterator[bytes]
    start: int
    length: int
    size: int
    etag: str
    close: Callable[[], None]


class Store(ABC):
    """What media code asks of a store; `LocalStore` and `S3Store` answer."""

    kind = "local"

    def local_path(self, key: str) -> Path | None:
        """The file itself, where the store is a local folder."""
        return None

    @abstractmethod
    def save_stream(self, source: BinaryIO, key: str, max_bytes: int) -> StoredFile:
        """Store what `source` reads, hashed on the way; TooLarge past `max_bytes`, and
        nothing is left behind on any error."""

    @abstractmethod
    def save_upload(self, upload: Path, key: str, expected_sha256: str | None) -> StoredFile:
        """Take a finished upload (a local file, gone afterwards); Invalid when it does not
        match the checksum the client announced."""

    @abstractmethod
    def put_file(self, path: Path, key: str) -> None:
        """Store a copy of the local file `path` under `key` (replacing what was there)."""

    @abstractmethod
    def fetch(self, key: str, target: Path) -> None:
        """Copy the stored file to the local path `target`; MissingObject when absent."""

    @abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The stored file for reading from its start; MissingObject when absent."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The stored file's size, None when absent."""

    @abstractmethod
    def listing(self, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every file whose key starts with `prefix/`."""

    @abstractmethod
    def remove(self, key: str) -> None:
        """Remove the stored file (nothing when it is not there)."""

    @abstractmethod
    def idle_folders(self, prefix: str, older_than_s: float) -> list[str]:
        """The names of the folders under `prefix/` nothing was written to for
        `older_than_s`; a local folder answers none (`studies.disposal.sweep` ends its erasures)."""

    @abstractmethod
    def remove_prefix(self, prefix: str) -> None:
        """Remove every file under `prefix/` (nothing when there is none)."""

    @abstractmethod
    def source(self, key: str, seconds: int = 6 * 3600) -> str:
        """What ffmpeg reads: the file's path, or an address valid for `seconds`."""

    @abstractmethod
    def check(self) -> None:
        """Raise (OSError, or the client's error) unless a file can be written and removed."""


class LocalStore(Store):
    """The folder DATA_DIR/media."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / checked_key(key)

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def save_stream(self, source: BinaryIO, key: str, max_bytes: int) -> StoredFile:
        return store_original(source, self.root, checked_key(key), max_bytes)

    def save_upload(self, upload: Path, key: str, expected_sha256: str | None) -> StoredFile:
        return adopt_file(upload, self.root, checked_key(key), expected_sha256)

    def put_file(self, path: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            shutil.copyfile(path, partial)
            with partial.open("rb") as file:
                os.fsync(file.fileno())
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        sync_folder(target.parent)

    def fetch(self, key: str, target: Path) -> None:
        try:
            shutil.copyfile(self._path(key), target)
        except FileNotFoundError:
            raise MissingObject(key) from None

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            file = self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise MissingObject(key) from None
        with file:
            yield file

    def size(self, key: str) -> int | None:
        try:
            path = self._path(key)
            return path.stat().st_size if path.is_file() else None
        except OSError:
            return None

    def listing(self, prefix: str) -> list[tuple[str, int]]:
        folder = self._path(prefix)
        found = []
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            try:
                if path.is_file():
                    found.append((path.relative_to(self.root).as_posix(), path.stat().st_size))
            except OSError:  # removed meanwhile (a job's work folder)
                continue
        return found

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def remove_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def idle_folders(self, prefix: str, older_than_s: float) -> list[str]:
        return []  # a local folder's leftovers are `studies.disposal.sweep`'s

    def source(self, key: str, seconds: int = 6 * 3600) -> str:
        return str(self._path(key))

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # made at the first upload otherwise
        tempfile.NamedTemporaryFile(dir=self.root, prefix=".ready-").close()


class _Counted:
    """A reader that hashes and counts what passes through it, refusing past `limit`."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self.source, self.limit = source, limit
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size if size and size > 0 else CHUNK)
        self.size += len(chunk)
        if self.size > self.limit:
            raise TooLarge(
                f"Le fichier dépasse la taille maximale acceptée ({human_size(self.limit)})."
            )
        self.digest.update(chunk)
        return chunk


def _answered(method: Callable[P, R]) -> Callable[P, R]:
    """The store's own failures (unreachable, refused keys, a server error) as Unavailable,
    with a message for the user; a missing object and the errors of the application (a file
    too large, a checksum) pass as they are."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError) as error:
            log.warning("object store: %s", error)
            raise unavailable(error) from None

    return wrapper


class S3Store(Store):
    """A bucket (and a prefix in it) of Amazon S3 or of an S3-compatible server (MinIO,
    Garage, Ceph, moto): boto3, whose transfers stream in parts of PART bytes."""

    kind = "s3"

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig, create_transfer_manager
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(
                signature_version="s3v4",
                # Other servers than Amazon's answer at http://host/bucket/key.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                retries={"max_attempts": 4, "mode": "standard"},
                max_pool_connections=32,
            ),
        )
        # A stream (a form upload) is read a part at a time into memory: at most two parts
        # waiting and two being sent (s3transfer buffers ten by default: 80 MiB).
        self.transfer = TransferConfig(
            multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=2
        )
        self.transfer.max_in_memory_upload_chunks = 2  # s3transfer's, not in boto3's signature
        # One transfer manager for the process: its threads (and the memory their parts were
        # read into) are reused, where a manager per transfer left more behind each time.
        self.transfers = create_transfer_manager(self.client, self.transfer)

    def _name(self, key: str) -> str:
        key = checked_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    @_answered
    def save_stream(self, source: BinaryIO, key: str, max_bytes: int) -> StoredFile:
        counted = _Counted(source, max_bytes)
        name = self._name(key)
        try:
            self.transfers.upload(cast(BinaryIO, counted), self.bucket, name).result()
        except BaseException:
            self._forget(name)
            raise
        return StoredFile(key=key, size=counted.size, sha256=counted.digest.hexdigest())

    @_answered
    def save_upload(self, upload: Path, key: str, expected_sha256: str | None) -> StoredFile:
        size, sha256 = checked_upload(upload, expected_sha256)
        self.put_file(upload, key)
        upload.unlink(missing_ok=True)
        return StoredFile(key=key, size=size, sha256=sha256)

    @_answered
    def put_file(self, path: Path, key: str) -> None:
        name = self._name(key)
        try:
            self.transfers.upload(str(path), self.bucket, name).result()
        except BaseException:
            self._forget(name)
            raise

    def _forget(self, name: str) -> None:
        """After a failed write: nothing half-written is left (s3transfer aborts its
        multipart upload; a small object may have landed)."""
        with suppress(Exception):  # the store is the one failing: nothing more to do
            self.client.delete_object(Bucket=self.bucket, Key=name)

    @_answered
    def fetch(self, key: str, target: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.transfers.download(self.bucket, self._name(key), str(target)).result()
        except ClientError as error:
            if _status(error) == 404:
                raise MissingObject(key) from None
            raise

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except ClientError as error:
            if _status(error) == 404:
                raise MissingObject(key) from None
            raise unavailable(error) from None
        except BotoCoreError as error:
            raise unavailable(error) from None
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    @_answered
    def read(
        self, key: str, start: int | None = None, end: int | None = None, last: int | None = None
    ) -> ObjectPart:
        """Bytes `start`..`end` (inclusive, as in HTTP; None: from the start, to the end),
        or the `last` bytes, of the stored file. MissingObject when absent; ValueError
        carrying the size when the range starts past its end."""
        from botocore.exceptions import ClientError

        asked: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if last is not None:
            asked["Range"] = f"bytes=-{last}"
        elif start is not None:
            asked["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = self.client.get_object(**asked)
        except ClientError as error:
            if _status(error) == 404:
                raise MissingObject(key) from None
            if _status(error) == 416:
                raise ValueError(self.size(key) or 0) from None
            raise
        length = int(answer["ContentLength"])
        first, size = 0, length
        if content_range := answer.get("ContentRange"):  # bytes 0-99/1234
            span, _, total = content_range.removeprefix("bytes ").partition("/")
            first, size = int(span.partition("-")[0]), int(total)
        body = answer["Body"]
        return ObjectPart(
            body.iter_chunks(CHUNK), first, length, size, answer.get("ETag", ""), body.close
        )

    @_answered
    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(
                self.client.head_object(Bucket=self.bucket, Key=self._name(key))["ContentLength"]
            )
        except ClientError as error:
            if _status(error) == 404:
                return None
            raise

    @_answered
    def listing(self, prefix: str) -> list[tuple[str, int]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._name(prefix) + "/"
        )
        return [
            (self._key(item["Key"]), int(item["Size"]))
            for page in pages
            for item in page.get("Contents", [])
        ]

    @_answered
    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    @_answered
    def idle_folders(self, prefix: str, older_than_s: float) -> list[str]:
        newest: dict[str, float] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._name(prefix) + "/"
        )
        start = len(self._name(prefix)) + 1
        for page in pages:
            for item in page.get("Contents", []):
                folder = item["Key"][start:].partition("/")[0]
                stamp = item["LastModified"].timestamp()
                newest[folder] = max(stamp, newest.get(folder, stamp))
        cutoff = time.time() - older_than_s
        return sorted(name for name, stamp in newest.items() if name and stamp < cutoff)

    @_answered
    def remove_prefix(self, prefix: str) -> None:
        names = [self._name(key) for key, _size in self.listing(prefix)]
        for start in range(0, len(names), 1000):  # S3 deletes at most 1,000 at once
            batch: list[ObjectIdentifierTypeDef] = [
                {"Key": name} for name in names[start : start + 1000]
            ]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def source(self, key: str, seconds: int = 6 * 3600) -> str:
        return self.url(key, seconds)

    def url(self, key: str, seconds: int, filename: str | None = None) -> str:
        """A presigned GET address of the file, valid `seconds`."""
        params = {"Bucket": self.bucket, "Key": self._name(key)}
        return str(
            self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
        )

    def check(self) -> None:
        name = self._name(f"{CHECK_KEY}-{os.getpid()}")
        self.client.put_object(Bucket=self.bucket, Key=name, Body=b"")
        self.client.delete_object(Bucket=self.bucket, Key=name)


def _status(error: Exception) -> int:
    response = getattr(error, "response", {}) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = str(response.get("Error", {}).get("Code", ""))
    if code in ("NoSuchKey", "404", "NotFound"):
        return 404
    if code == "InvalidRange":
        return 416
    return int(status)


_stores: dict[tuple[str, str, str], Store] = {}
_lock = threading.Lock()


def store_for(settings: Settings) -> Store:
    """The store the settings name (made once per process, then shared: boto3's client is
    safe across threads)."""
    wanted = (settings.storage_url, settings.s3_endpoint_url, str(settings.media_dir))
    if (found := _stores.get(wanted)) is not None:  # without the lock: asked per media request
        return found
    with _lock:
        if (found := _stores.get(wanted)) is None:
            if settings.storage_url:
                bucket, _, prefix = settings.storage_url.removeprefix("s3://").partition("/")
                found = S3Store(bucket, prefix, settings.s3_endpoint_url)
            else:
                found = LocalStore(settings.media_dir)
            _stores[wanted] = found
    return found


def unavailable(error: Exception) -> Unavailable:
    """What the user reads when the object store does not answer."""
    return Unavailable(
        "Le stockage des médias ne répond pas pour le moment ; réessayez dans un instant. "
        f"({type(error).__name__})"
    )
