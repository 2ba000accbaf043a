"""The speech-recognition model: faster-whisper (CTranslate2, int8 on the CPU), an optional
extra (`pip install 'autoconf[transcribe]'`). AUTOCONF_TRANSCRIBE_MODEL names a size
(`small`, fetched by the library into DATA_DIR/models on a machine with internet) or the
folder of a converted model (an offline lab copies it there). Whatever is missing is said to
the researcher on the page, in the page's language, never as a crash."""

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoconf.errors import Unavailable
from autoconf.i18n import N_
from autoconf.i18n import gettext as _
from autoconf.settings import Settings

SIZES = ("tiny", "base", "small", "medium", "large-v3", "large-v3-turbo", "turbo")
MODEL_FILES = ("model.bin", "config.json")
HOW_TO_INSTALL = N_(
    "La transcription automatique n'est pas installée sur ce serveur. Pour l'activer : "
    "pip install 'autoconf[transcribe]' dans l'environnement d'autoconf, puis redémarrez "
    "autoconf (le modèle se règle avec AUTOCONF_TRANSCRIBE_MODEL ; voir le README, "
    "« Transcription automatique »)."
)


class TranscriptionUnavailable(Unavailable):
    """Transcription cannot run here; the message says why and what to do (French)."""


@dataclass(frozen=True)
class ModelChoice:
    name: str  # as the setting says it
    folder: Path | None  # a model folder, or None for a size the library fetches

    @property
    def label(self) -> str:
        return self.folder.name if self.folder else self.name


def installed() -> bool:
    """Whether the optional extra is there (without importing it: seconds)."""
    return importlib.util.find_spec("faster_whisper") is not None


def choice(settings: Settings) -> ModelChoice:
    """The model the setting names; TranscriptionUnavailable when it names nothing usable."""
    name = settings.transcribe_model.strip()
    if name in SIZES:
        return ModelChoice(name, None)
    folder = Path(name).expanduser()
    if not folder.is_absolute():
        folder = settings.data_dir / folder
    missing = [file for file in MODEL_FILES if not (folder / file).is_file()]
    if missing:
        raise TranscriptionUnavailable(
            _(
                "Le modèle de transcription « %(name)s » est introuvable : "
                "AUTOCONF_TRANSCRIBE_MODEL doit nommer une taille de modèle Whisper "
                "(%(sizes)s…) ou le dossier d'un modèle faster-whisper (avec %(files)s) ; "
                "il manque %(missing)s."
            )
            % {
                "name": name,
                "sizes": ", ".join(SIZES[:4]),
                "files": ", ".join(MODEL_FILES),
                "missing": ", ".join(missing),
            }
        )
    return ModelChoice(name, folder)


def unavailable(settings: Settings) -> str | None:
    """Why transcription cannot run here (in the language set), or None when it can (as far
    as can be told without loading the model)."""
    if not installed():
        return _(HOW_TO_INSTALL)
    try:
        choice(settings)
    except TranscriptionUnavailable as error:
        return str(error)
    return None


_loaded: dict[tuple[str, int], Any] = {}
_loading = threading.Lock()


def load(settings: Settings) -> Any:
    """The model, loaded once per process (a few seconds, 300-900 MB): a WhisperModel."""
    if not installed():
        raise TranscriptionUnavailable(HOW_TO_INSTALL)
    picked = choice(settings)
    threads = settings.transcribe_threads or os.cpu_count() or 1
    key = (str(picked.folder or picked.name), threads)
    with _loading:
        if key not in _loaded:
            from faster_whisper import WhisperModel

            try:
                _loaded[key] = WhisperModel(
                    str(picked.folder or picked.name),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=threads,
                    download_root=str(settings.data_dir / "models"),
                )
            except Exception as error:  # no network, a broken folder, too little memory
                raise TranscriptionUnavailable(_why_not_loaded(picked, error)) from error
        return _loaded[key]


def _why_not_loaded(picked: ModelChoice, error: Exception) -> str:
    if picked.folder is None:
        return (
            f"Le modèle « {picked.name} » n'a pas pu être téléchargé ({type(error).__name__}) : "
            "ce serveur n'a peut-être pas accès à Internet. Sur une machine hors ligne, "
            "copiez le dossier d'un modèle faster-whisper sur le serveur et indiquez son "
            "chemin dans AUTOCONF_TRANSCRIBE_MODEL."
        )
    return (
        f"Le modèle du dossier « {picked.folder} » n'a pas pu être chargé "
        f"({type(error).__name__} : {str(error)[:200]}). Vérifiez que c'est un modèle "
        "faster-whisper (CTranslate2) complet et que le serveur a assez de mémoire."
    )
