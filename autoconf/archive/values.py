"""The values of a study archive: written as JSON, and checked when they come back, each
against what its column holds (type, length, allowed values), so that a refusal names the
line and the column, never a database error."""

import math
import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Integer, String
from sqlalchemy.types import TypeDecorator

from autoconf.archive.tables import TableSpec
from autoconf.live.stops import SPEAKERS, STATUSES
from autoconf.live.wording import ROLES as STOP_ROLES
from autoconf.models import (
    ANNOTATION_ORIGINS,
    CODEBOOK_KINDS,
    CONSENT_PARTIES,
    CONSENT_SCOPES,
    COVALIDATION_STATES,
    GENDERS,
    LAYERS,
    RECORDING_STATUSES,
    ROLES,
    STUDY_ROLES,
    UTCDateTime,
)
from autoconf.schemes.fields import STRUCTURED_FIELDS

# A file of a recording's folder, as named in the archive (`media/<id>/<name>`) and in its
# `media_info`: one plain name, never a path.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# PostgreSQL's INTEGER (ids, milliseconds); a file's size may pass 2 GiB.
MAX_INT = 2**63 - 1
MAX_INT32 = 2**31 - 1
CATEGORIES = ("session", "autoconfrontation")
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("user", "role"): ROLES,
    ("user", "gender"): GENDERS,
    ("membership", "role"): STUDY_ROLES,
    ("codebook", "kind"): CODEBOOK_KINDS,
    ("recording", "status"): RECORDING_STATUSES,
    ("recording", "category"): CATEGORIES,
    ("annotation", "origin"): ANNOTATION_ORIGINS,
    ("annotation", "layer"): LAYERS,
    ("consent", "party"): CONSENT_PARTIES,
    ("live_stop", "role"): STOP_ROLES,
    ("live_comment", "speaker"): SPEAKERS,
    ("live_agenda_item", "status"): STATUSES,
    ("co_validation", "state"): COVALIDATION_STATES,
}


def exported(value: Any) -> Any:
    """A value as JSON writes it (times in ISO 8601, UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def imported(spec: TableSpec, name: str, value: Any) -> Any:
    """`value` of column `name` as the database takes it; ValueError (French, for the message
    naming the line) when it is not what the column holds."""
    column = spec.column(name)
    if value is None:
        if column.nullable or spec.optional.get(name, ...) is None:
            return None
        raise ValueError(f"« {name} » ne peut pas être vide")
    if isinstance(column.type, UTCDateTime):
        return _checked_choice(spec, name, _datetime(name, value))
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError(f"« {name} » doit être true ou false")
    elif isinstance(kind, Integer):
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > _integer_max(name):
            raise ValueError(f"« {name} » doit être un nombre entier")
    elif isinstance(kind, Float):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise ValueError(f"« {name} » doit être un nombre")
        value = float(value)
    elif isinstance(kind, Date):
        value = _date(name, value)
    elif isinstance(kind, JSON):
        _check_json(spec.name, name, value)
    elif isinstance(kind, String):
        _check_text(name, value, kind.length)
    else:  # pragma: no cover - a column type the format does not know yet
        raise AssertionError(f"{spec.name}.{name}: {kind!r}")
    return _checked_choice(spec, name, value)


def _checked_choice(spec: TableSpec, name: str, value: Any) -> Any:
    choices = CHOICES.get((spec.name, name))
    if choices is not None and value not in choices:
        raise ValueError(f"« {name} » vaut « {str(value)[:40]} », qui n'est pas une valeur connue")
    return value


def _integer_max(name: str) -> int:
    # Sizes of files may pass 2 GiB; everything else is an INTEGER in PostgreSQL.
    return MAX_INT if name == "original_size" else MAX_INT32


def _check_text(name: str, value: Any, length: int | None) -> None:
    if not isinstance(value, str):
        raise ValueError(f"« {name} » doit être un texte")
    if "\x00" in value:
        raise ValueError(f"« {name} » contient un caractère nul")
    if length is not None and len(value) > length:
        raise ValueError(f"« {name} » dépasse {length} caractères")


def _datetime(name: str, value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"« {name} » doit être une date et une heure (ISO 8601)")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _date(name: str, value: Any) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _no_date(name)
    except ValueError:
        return _no_date(name)


def _no_date(name: str) -> date:
    raise ValueError(f"« {name} » doit être une date (AAAA-MM-JJ)")


def _check_json(table: str, name: str, value: Any) -> None:
    if (table, name) == ("annotation", "fields"):
        ok = isinstance(value, dict) and all(
            key in STRUCTURED_FIELDS and isinstance(text, str) and "\x00" not in text
            for key, text in value.items()
        )
        if not ok:
            raise ValueError(f"« {name} » doit associer des champs connus à des textes")
    elif (table, name) == ("annotation", "verbatims"):
        if not isinstance(value, list) or not all(_verbatim(item) for item in value):
            raise ValueError(f"« {name} » doit être une liste de citations (text, speaker, ms)")
    elif (table, name) == ("consent", "scopes"):
        if not isinstance(value, list) or not all(item in CONSENT_SCOPES for item in value):
            raise ValueError(f"« {name} » doit être une liste d'usages (research, training)")
    elif (table, name) == ("co_validation", "codes"):
        if not isinstance(value, list) or not all(_text(item) for item in value):
            raise ValueError(f"« {name} » doit être une liste de chemins de codes")
    elif (table, name) == ("co_validation", "proposed_code_ids"):
        if not isinstance(value, list) or not all(_id(item) for item in value):
            raise ValueError(f"« {name} » doit être une liste de numéros de codes")
    elif (table, name) == ("consensus_decision", "sources"):
        if not isinstance(value, list) or not all(_source(item) for item in value):
            raise ValueError(f"« {name} » doit être une liste de segments (coder, start_ms, ...)")
    elif (table, name) == ("recording", "media_info"):
        if not isinstance(value, dict):
            raise ValueError(f"« {name} » doit être un objet")
        files = value.get("files", {})
        if not isinstance(files, dict) or not all(
            item is None or (isinstance(item, str) and FILE_NAME.match(item))
            for item in files.values()
        ):
            raise ValueError(f"« {name} » nomme des fichiers qui ne sont pas de simples noms")
    else:  # pragma: no cover - a JSON column the format does not know yet
        raise AssertionError(f"{table}.{name}")


def _verbatim(item: Any) -> bool:
    if not isinstance(item, dict) or not set(item) <= {"text", "speaker", "ms"}:
        return False
    text, speaker, ms = item.get("text"), item.get("speaker"), item.get("ms")
    return (
        isinstance(text, str)
        and "\x00" not in text
        and (speaker is None or (isinstance(speaker, str) and "\x00" not in speaker))
        and (ms is None or (isinstance(ms, int) and not isinstance(ms, bool) and ms >= 0))
    )


def _text(item: Any) -> bool:
    return isinstance(item, str) and "\x00" not in item


def _id(item: Any) -> bool:
    return isinstance(item, int) and not isinstance(item, bool) and 0 < item <= MAX_INT32


def _source(item: Any) -> bool:
    """A consensus decision's source as it was: coder, times, code paths."""
    if not isinstance(item, dict) or not set(item) <= {"coder", "start_ms", "end_ms", "codes"}:
        return False
    coder, codes = item.get("coder", ""), item.get("codes", [])
    times = [item.get("start_ms"), item.get("end_ms")]
    return (
        _text(coder)
        and isinstance(codes, list)
        and all(_text(code) for code in codes)
        and all(
            t is None or (isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= MAX_INT32)
            for t in times
        )
    )
