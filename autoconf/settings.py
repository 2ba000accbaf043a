"""The one typed configuration of the application, read from AUTOCONF_* variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of autoconf; each is documented in the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="AUTOCONF_", extra="ignore")

    data_dir: Path = Field(
        default=Path("autoconf-data"),
        description="Folder holding the SQLite database and the media files.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite (WAL) at DATA_DIR/autoconf.sqlite3.",
    )
    max_upload_bytes: int = Field(
        default=8 * 1024**3,
        gt=0,
        description="Largest accepted recording upload, in bytes (413 above it).",
    )
    session_days: int = Field(
        default=14, gt=0, description="How long a login session lasts, in days."
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie only over HTTPS (set it behind TLS).",
    )
    default_language: Literal["fr", "en"] = Field(
        default="fr", description="Language of the pages for users who chose none."
    )
    ffmpeg_binary: str = Field(default="ffmpeg", description="ffmpeg executable to run.")
    ffprobe_binary: str = Field(default="ffprobe", description="ffprobe executable to run.")
    media_workers: int = Field(
        default=1,
        ge=0,
        description="Media jobs (ffmpeg) this server runs at once; 0 leaves them to "
        "`autoconf worker` processes.",
    )
    media_timeout_seconds: float = Field(
        default=4 * 3600, gt=0, description="Longest one ffmpeg step may run before it is stopped."
    )
    job_stale_seconds: float = Field(
        default=120,
        gt=0,
        description="A running media job silent this long belonged to a dead worker and is "
        "queued again.",
    )
    storage_url: str = Field(
        default="",
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._/-]*)?)?$",
        description="Where media files are kept: empty for the local folder DATA_DIR/media, "
        "or an S3-compatible bucket and prefix, `s3://bucket/prefix` (keys from "
        "`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, region from `AWS_DEFAULT_REGION`). "
        "Uploads in progress and media jobs' work files stay under DATA_DIR.",
    )
    s3_endpoint_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s]+)?$",
        description="The address of an S3-compatible store that is not Amazon's (MinIO, "
        "Garage, Ceph…), e.g. `http://minio:9000`. Empty: Amazon S3.",
    )
    s3_presigned_seconds: int = Field(
        default=0,
        ge=0,
        le=12 * 3600,
        description="With object storage: 0 (the default) sends media through the app, access "
        "checked on every request; more sends browsers to a presigned address of the store, "
        "valid this long (access taken back then stops playback only when it expires).",
    )
    media_accel_redirect: str = Field(
        default="",
        description="Behind nginx: URL prefix of an `internal` location aliased to "
        "DATA_DIR/media/ (e.g. `/_media/`), or with object storage proxying to the store "
        "(docs/nginx-autoconf-s3.conf); media answers then carry X-Accel-Redirect and "
        "nginx sends the bytes. Empty: the app sends them.",
    )
    media_pass_secret: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_-]{32,})?$",
        description="Behind nginx: the secret nginx checks media passes with (the same value "
        "in its `secure_link_md5`, docs/nginx-autoconf.conf; at least 32 letters, digits, `-` "
        "or `_`). A browser allowed to play a recording then gets a pass and nginx serves its "
        "Range requests without asking the app. Empty: no passes.",
    )
    media_pass_seconds: int = Field(
        default=5,
        ge=4,  # nginx may hand out a pass kept with its check's answer up to 2 s later
        le=300,
        description="How long a media pass is worth: access taken back stops playback "
        "behind nginx within this time.",
    )
    redis_url: str = Field(
        default="",
        description="Redis for the signals between app processes (live events, access "
        "taken back), e.g. `redis://127.0.0.1:6379/0`. Empty: PostgreSQL's LISTEN/NOTIFY, "
        "or on SQLite a table the processes poll.",
    )
    transcribe_model: str = Field(
        default="small",
        max_length=1000,
        description="The speech-recognition model of automatic transcription (extra "
        "`autoconf[transcribe]`): a Whisper size (`tiny`, `base`, `small`, `medium`, "
        "`large-v3`), fetched into DATA_DIR/models on first use, or the folder of a "
        "faster-whisper model (an absolute path, or relative to DATA_DIR) for an offline "
        "machine.",
    )
    transcribe_language: str = Field(
        default="fr",
        pattern=r"^[a-z]{2,3}$",
        description="The language spoken in the recordings (an ISO 639-1 code).",
    )
    transcribe_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="CPU threads of one transcription; 0: as many as the machine has cores.",
    )
    transcribe_slots: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Transcriptions running at once, counted over every process and machine "
        "sharing the database (each uses AUTOCONF_TRANSCRIBE_THREADS cores); the next ones "
        "wait their turn.",
    )
    password_memory_kib: int = Field(
        default=65536,
        ge=12288,  # OWASP's lowest argon2id setting with 3 passes
        le=1048576,
        description="Memory of one password hash (argon2id), in KiB: 64 MiB by default "
        "(RFC 9106); less on a small server (each sign-in check takes this much while it "
        "runs, two at once).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Server log level."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per log line (time, level, logger, message; "
        "method, path, status of each request) for a log collector.",
    )
    metrics_token: str = Field(
        default="",
        pattern=r"^([A-Za-z0-9_-]{32,})?$",
        description="Prometheus metrics at `/metrics` for whoever sends "
        "`Authorization: Bearer` with this value (at least 32 letters, digits, `-` or `_`). "
        "Empty: no metrics.",
    )

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable of a setting: `media_pass_secret` is
        AUTOCONF_MEDIA_PASS_SECRET."""
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'autoconf.sqlite3'}"

    @model_validator(mode="after")
    def _one_way_to_send_media(self) -> "Settings":
        if self.s3_presigned_seconds and self.media_accel_redirect:
            raise ValueError(
                "AUTOCONF_S3_PRESIGNED_SECONDS envoie les navigateurs au stockage objet, "
                "AUTOCONF_MEDIA_ACCEL_REDIRECT fait passer les médias par nginx : choisissez "
                "l'un des deux."
            )
        if self.s3_presigned_seconds and not self.storage_url:
            raise ValueError(
                "AUTOCONF_S3_PRESIGNED_SECONDS ne sert qu'avec un stockage objet "
                "(AUTOCONF_STORAGE_URL=s3://…)."
            )
        return self

    @property
    def media_dir(self) -> Path:
        """The local media folder (the default storage)."""
        return self.data_dir / "media"

    @property
    def work_dir(self) -> Path:
        """Where uploads in progress and media jobs' files are kept before they go to an
        object store (`storage_url`); the local media folder itself otherwise, so that a
        finished file is moved in place by a rename."""
        return self.data_dir / "work" if self.storage_url else self.media_dir
