"""Media delivery: the proxy (HTTP Range), poster, waveform and thumbnails of a recording,
only to users who may see it. Behind nginx (AUTOCONF_MEDIA_ACCEL_REDIRECT) the app checks
access and answers with X-Accel-Redirect; nginx then sends the bytes."""

from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, Response

from autoconf.api.deps import RecordingDep, SettingsDep
from autoconf.errors import Conflict, NotFound
from autoconf.models import Recording
from autoconf.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["media"])


class MediaFile(FileResponse):
    """FileResponse (Range, multi-range, If-Range, 416, HEAD) in 1 MiB chunks: twice the
    throughput of the 64 KiB default on large seeks (see ARCHITECTURE.md)."""

    chunk_size = 1024 * 1024


def _ready(recording: Recording) -> None:
    if recording.status != "ready" or not recording.proxy_key:
        state = {
            "queued": "en attente de traitement",
            "processing": "en cours de traitement",
            "failed": "son traitement a échoué",
            "uploaded": "pas encore traité",
        }.get(recording.status, recording.status)
        raise Conflict(f"Le média de « {recording.code} » n'est pas encore prêt : {state}.")


def _deliver(settings: Settings, key: str, media_type: str) -> Response:
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if settings.media_accel_redirect:
        headers["X-Accel-Redirect"] = settings.media_accel_redirect.rstrip("/") + "/" + quote(key)
        return Response(media_type=media_type, headers=headers)
    path = settings.media_dir / key
    if not path.is_file():
        raise NotFound("Le fichier demandé est introuvable sur le serveur.")
    return MediaFile(path, media_type=media_type, headers=headers)


def _derived(recording: Recording, name: str | None, missing: str) -> str:
    _ready(recording)
    if not name:
        raise NotFound(missing)
    return str(PurePosixPath(recording.proxy_key).parent / name)


@router.get("/recordings/{recording_id}/media")
@router.head("/recordings/{recording_id}/media", include_in_schema=False)
def recording_media(recording: RecordingDep, settings: SettingsDep) -> Response:
    """The browser-ready proxy (MP4, or M4A for sound only), with HTTP Range."""
    _ready(recording)
    kind = "video" if recording.media_info.get("video") else "audio"
    return _deliver(settings, recording.proxy_key, f"{kind}/mp4")


@router.get("/recordings/{recording_id}/poster")
@router.head("/recordings/{recording_id}/poster", include_in_schema=False)
def recording_poster(recording: RecordingDep, settings: SettingsDep) -> Response:
    """A frame of the video (JPEG); 404 for sound-only recordings."""
    files = recording.media_info.get("files", {})
    key = _derived(recording, files.get("poster"), "Pas d'image : enregistrement audio seul.")
    return _deliver(settings, key, "image/jpeg")


@router.get("/recordings/{recording_id}/waveform")
@router.head("/recordings/{recording_id}/waveform", include_in_schema=False)
def recording_waveform(recording: RecordingDep, settings: SettingsDep) -> Response:
    """Min/max peaks, 10 per second, in the audiowaveform binary format (v2, 8-bit)."""
    files = recording.media_info.get("files", {})
    key = _derived(recording, files.get("waveform"), "Pas de forme d'onde : vidéo sans son.")
    return _deliver(settings, key, "application/octet-stream")


@router.get("/recordings/{recording_id}/thumbnails.vtt")
@router.head("/recordings/{recording_id}/thumbnails.vtt", include_in_schema=False)
def recording_thumbnails(recording: RecordingDep, settings: SettingsDep) -> Response:
    """WebVTT thumbnails track: each cue names a sprite and a `#xywh=` region."""
    files = recording.media_info.get("files", {})
    key = _derived(recording, files.get("thumbnails"), "Pas de vignettes : enregistrement audio.")
    return _deliver(settings, key, "text/vtt; charset=utf-8")


@router.get("/recordings/{recording_id}/thumbnails/{sprite}")
@router.head("/recordings/{recording_id}/thumbnails/{sprite}", include_in_schema=False)
def recording_sprite(
    recording: RecordingDep,
    settings: SettingsDep,
    sprite: Annotated[str, Path(pattern=r"^sprite-\d{3}\.jpg$")],
) -> Response:
    """A sheet of thumbnails named by the WebVTT track (`thumbnails/sprite-NNN.jpg`)."""
    files = recording.media_info.get("files", {})
    key = _derived(recording, files.get("thumbnails") and sprite, "Pas de vignettes.")
    if not (settings.media_dir / key).is_file() and not settings.media_accel_redirect:
        raise NotFound("Cette planche de vignettes n'existe pas.")
    return _deliver(settings, key, "image/jpeg")
