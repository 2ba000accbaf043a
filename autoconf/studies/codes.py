"""Pseudonymous codes: a study may set the pattern its codes of recordings, counsellors and
interviews follow (e.g. `A\\d+( - \\d+)?`, example `A8 - 1`), so that no one types a name
where a code belongs. Outputs (exports, reports, tables) show codes, never names."""

import re

from sqlmodel import Session, select

from autoconf.errors import Invalid
from autoconf.models import Counsellor, Interview, Recording, Study

MAX_PATTERN = 200


def compile_pattern(pattern: str, example: str = "") -> re.Pattern[str] | None:
    """The study's pattern, checked: a valid regular expression that the example matches.
    None for no pattern. Invalid (in French) otherwise."""
    if not pattern:
        return None
    if len(pattern) > MAX_PATTERN:
        raise Invalid(f"Le motif des codes ne peut pas dépasser {MAX_PATTERN} caractères.")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        where = f" (vers le caractère {error.pos + 1})" if error.pos is not None else ""
        message = (
            f"Le motif des codes n'est pas une expression régulière valide{where} : "
            "vérifiez les parenthèses, crochets et accolades."
        )
        raise Invalid(message) from None
    if not example:
        raise Invalid("Donnez un exemple de code qui suit le motif (par exemple « A8 - 1 »).")
    if compiled.fullmatch(example) is None:
        raise Invalid(f"L'exemple « {example} » ne suit pas le motif « {pattern} ».")
    return compiled


def check_code(session: Session, study_id: int, code: str) -> None:
    """Invalid, showing the pattern and its example, when `code` breaks the study's pattern."""
    study = session.get(Study, study_id)
    if study is None or not study.code_pattern:
        return
    if re.fullmatch(study.code_pattern, code) is None:
        raise Invalid(
            f"Le code « {code} » ne suit pas le motif des codes de cette étude : "
            f"« {study.code_pattern} » (exemple : « {study.code_example} »). Les codes sont "
            "des pseudonymes : jamais un nom."
        )


def codes_breaking(session: Session, study_id: int, pattern: re.Pattern[str]) -> list[str]:
    """The codes of the study's recordings, counsellors and interviews that `pattern` refuses."""
    found: list[str] = []
    for table in (Recording, Counsellor, Interview):
        for code in session.exec(select(table.code).where(table.study_id == study_id)).all():
            if pattern.fullmatch(code) is None:
                found.append(code)
    return sorted(set(found))
