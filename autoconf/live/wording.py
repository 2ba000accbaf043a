"""How labels name the people of an auto-confrontation: in French by the person's grammatical
gender (`User.gender`: conseiller / conseillère / conseiller·e, chercheur / chercheuse /
chercheur·e), in English "counsellor" / "researcher" whoever it is.

One rule for every place a role is shown: the live page (its menus, the stops, the comment
box), the session report (page, HTML, DOCX, CSV).
"""

from typing import Literal

from autoconf.i18n import current_language

Role = Literal["counsellor", "researcher"]
# noun: "conseillère"; stop: "Arrêt de la conseillère"; said: the speaker of a comment
# ("Propos de la conseillère", "Note du chercheur"); to: "à la conseillère".
Form = Literal["noun", "stop", "said", "to"]
ROLES: tuple[Role, ...] = ("counsellor", "researcher")
GENDERS = ("feminine", "masculine", "")
FORMS: tuple[Form, ...] = ("noun", "stop", "said", "to")

_NOUNS = {
    "counsellor": {"masculine": "conseiller", "feminine": "conseillère", "": "conseiller·e"},
    "researcher": {"masculine": "chercheur", "feminine": "chercheuse", "": "chercheur·e"},
}
# Both nouns begin with a consonant: no elision.
_OF = {"masculine": "du", "feminine": "de la", "": "du·de la"}
_TO = {"masculine": "au", "feminine": "à la", "": "au·à la"}
_SAID = {"counsellor": "Propos", "researcher": "Note"}

_ENGLISH = {
    "noun": {"counsellor": "counsellor", "researcher": "researcher"},
    "stop": {"counsellor": "Counsellor’s stop", "researcher": "Researcher’s stop"},
    "said": {"counsellor": "Counsellor’s words", "researcher": "Researcher’s note"},
    "to": {"counsellor": "the counsellor", "researcher": "the researcher"},
}


def label(role: str, gender: str, language: str | None = None, form: Form = "noun") -> str:
    """The label of `role` ("counsellor", "researcher") for a person of this `gender`
    ("feminine", "masculine", anything else neutral), in `language` (default: the
    interface's)."""
    if role not in _NOUNS:
        raise ValueError(f"unknown role: {role}")
    if form not in FORMS:
        raise ValueError(f"unknown form: {form}")
    if (language or current_language()) == "en":
        return _ENGLISH[form][role]
    gender = gender if gender in _OF else ""
    noun = _NOUNS[role][gender]
    if form == "stop":
        return f"Arrêt {_OF[gender]} {noun}"
    if form == "said":
        return f"{_SAID[role]} {_OF[gender]} {noun}"
    if form == "to":
        return f"{_TO[gender]} {noun}"
    return noun


def table(language: str | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """Every label, by form, role and gender: what a page's script picks from."""
    return {
        form: {
            role: {gender: label(role, gender, language, form) for gender in GENDERS}
            for role in ROLES
        }
        for form in FORMS
    }
