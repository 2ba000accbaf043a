"""Interface language: French message ids, other languages through gettext catalogues."""

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = ("fr", "en")
LOCALE_DIR = Path(__file__).parent / "locale"

_current: ContextVar[str] = ContextVar("language", default="fr")


@cache
def _catalogue(language: str) -> _gettext.NullTranslations:
    return _gettext.translation("autoconf", LOCALE_DIR, languages=[language], fallback=True)


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


def set_language(language: str) -> None:
    _current.set(language if language in LANGUAGES else "fr")


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return _catalogue(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` in a context, for one French word with two meanings ("Annuler": cancel, undo)."""
    return _catalogue(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return _catalogue(_current.get()).npgettext(context, singular, plural, n)


# French elides "de" before a vowel or a mute h ("d'Inès", "d'Hélène"); a name's first letter
# is all we know of it, so every h counts as mute.
_ELIDING = frozenset("aeiouyhàâäéèêëîïôöùûüÿæœ")


def de(name: str) -> str:
    """`name` after the preposition "of": in French "de Claire", "d'Inès Martin" (elided
    before a vowel or an h), in English "of Claire"."""
    if current_language() == "en":
        return f"of {name}"
    return f"d'{name}" if name[:1].lower() in _ELIDING else f"de {name}"
