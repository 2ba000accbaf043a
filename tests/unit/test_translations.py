"""The catalogues cover every message, their .mo files are compiled, placeholders survive.

When a test here fails: `scripts/translations update`, translate the new entries of
autoconf/locale/<lang>/LC_MESSAGES/autoconf.po, then `scripts/translations compile`.
"""

import gettext
import io
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from autoconf.i18n import LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).parents[2]
TRANSLATED = [language for language in LANGUAGES if language != "fr"]  # French is the msgid
FIX = "run scripts/translations update, translate, then scripts/translations compile"
# %(name)s for gettext (Jinja's newstyle gettext always applies `%`), {name} for the messages
# the page scripts fill in.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]|%%|\{\w*\}")


class _Anything(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return 1


@cache
def used_messages() -> dict[str, str]:
    """Every message id the templates and the package use (as babel.cfg says), and where."""
    # parse_mapping_cfg from Babel 2.16 on; parse_mapping before (and deprecated since).
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse(config, "babel.cfg")
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        directory_filter=lambda path: not Path(path).name.startswith("."),
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalogue(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "autoconf.po").open("rb") as po:
        return read_po(po)


def forms(text: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return (text,) if isinstance(text, str) else tuple(text or ())


def translated(catalog: Catalog) -> Iterator[Message]:
    return (m for m in catalog if m.id and not m.fuzzy and all(forms(m.string)))


def test_the_templates_have_messages() -> None:
    used = used_messages()
    assert len(used) > 100, "babel.cfg no longer finds the templates"
    assert "Études" in used and "Se déconnecter" in used


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    catalog = catalogue(language)
    missing = []
    for msgid, where in sorted(used_messages().items(), key=lambda item: item[1]):
        message = catalog.get(msgid)
        if message is None:
            missing.append(f"{where}: {msgid!r} is not in the catalogue")
        elif message.fuzzy or not all(forms(message.string)):
            missing.append(f"{where}: {msgid!r} has no translation")
    assert not missing, f"{language}: {len(missing)} message(s) to translate ({FIX}):\n" + (
        "\n".join(missing)
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_shipped_mo_is_compiled_from_the_po(language: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(language))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)._catalog
    # What the application loads (autoconf.i18n), without its fallback to the message ids.
    shipped = gettext.translation("autoconf", LOCALE_DIR, languages=[language])
    loaded = shipped._catalog
    # The header ("") names the Babel version that compiled it: not a message.
    expected.pop("", None)
    loaded.pop("", None)
    stale = sorted(str(key) for key in expected.keys() ^ loaded.keys())
    stale += sorted(
        str(key) for key in expected.keys() & loaded.keys() if expected[key] != loaded[key]
    )
    assert not stale, f"{language}: the .mo is older than the .po ({FIX}): {stale[:10]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_their_placeholders(language: str) -> None:
    wrong = []
    for message in translated(catalogue(language)):
        sources = forms(message.id)
        allowed = {found for source in sources for found in PLACEHOLDER.findall(source)}
        for index, text in enumerate(forms(message.string)):
            found = sorted(PLACEHOLDER.findall(text))
            # A plural's singular form may leave the number out ("one code"); the others not.
            if message.pluralizable and index == 0:
                same = set(found) <= allowed
            else:
                same = found == sorted(PLACEHOLDER.findall(sources[-1]))
            if not same:
                wrong.append(f"{sources[-1]!r} → {text!r}")
                continue
            try:  # a lone "%" would break the page: newstyle gettext formats every message
                text % _Anything()
            except (ValueError, TypeError) as error:
                wrong.append(f"{text!r}: {error}")
    assert not wrong, f"{language}: placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("name", "french"),
    [
        ("Inès Martin", "d'Inès Martin"),
        ("Claire", "de Claire"),
        ("Émilie", "d'Émilie"),
        ("hélène", "d'hélène"),
        ("Yann", "d'Yann"),
        ("ines", "d'ines"),
        ("Chercheuse démo", "de Chercheuse démo"),
    ],
)
def test_de_is_elided_in_french_and_of_in_english(name: str, french: str) -> None:
    from contextvars import copy_context

    from autoconf.i18n import de, set_language

    def english() -> str:
        set_language("en")
        return de(name)

    assert de(name) == french
    assert copy_context().run(english) == f"of {name}"
