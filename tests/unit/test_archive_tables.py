"""The study archive's format keeps up with the models: every column of an archived table is
carried or left out on purpose, every table of the instance is archived or said not to be,
tables come after what they point at; and values read back are checked, column by column."""

from datetime import UTC, date, datetime

import pytest
from sqlmodel import SQLModel

from autoconf.archive import tables, values
from autoconf.archive.contents import UPGRADES
from autoconf.archive.manifest import FORMAT_VERSION


def test_every_column_of_an_archived_table_is_placed() -> None:
    for spec in tables.TABLES:
        placed = {*spec.columns, *spec.left_out, tables.STUDY_COLUMN}
        missing = {c.name for c in spec.table.columns} - placed
        assert not missing, f"{spec.name}: say whether the archive carries {sorted(missing)}"
        assert set(spec.columns) <= {c.name for c in spec.table.columns}, spec.name
        assert set(spec.optional) <= set(spec.columns), spec.name


def test_every_table_is_archived_or_said_not_to_be() -> None:
    names = {table.name for table in SQLModel.metadata.sorted_tables}
    placed = set(tables.BY_TABLE) | set(tables.NOT_ARCHIVED)
    assert names - placed == set(), "a new table: archive it, or say why not (NOT_ARCHIVED)"
    assert placed - names == set()


def test_tables_come_after_what_they_point_at() -> None:
    seen = {"study"}
    for spec in tables.TABLES:
        for column in spec.columns:
            target = tables.reference(spec, column)
            assert target is None or target in seen or target == spec.name, (spec.name, column)
        seen.add(spec.name)


def test_every_older_version_has_its_upgrade() -> None:
    assert set(UPGRADES) == set(range(1, FORMAT_VERSION))


@pytest.mark.parametrize(
    ("table", "column", "value", "expected"),
    [
        ("annotation", "start_ms", 12, 12),
        ("annotation", "shared", True, True),
        ("consent", "given_on", "2025-01-15", date(2025, 1, 15)),
        ("annotation", "created_at", "2025-01-15T10:00:00", datetime(2025, 1, 15, 10, tzinfo=UTC)),
        ("live_session", "rate", 1, 1.0),
        ("recording", "media_info", {"files": {"poster": "poster.jpg"}}, None),
    ],
)
def test_values_are_converted(table: str, column: str, value: object, expected: object) -> None:
    converted = values.imported(tables.BY_NAME[table], column, value)
    assert converted == (value if expected is None else expected)


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("annotation", "start_ms", True, "nombre entier"),
        ("annotation", "start_ms", 2**40, "nombre entier"),
        ("annotation", "note", "a\x00b", "caractère nul"),
        ("annotation", "note", None, "ne peut pas être vide"),
        ("structure", "code", "x" * 65, "dépasse 64 caractères"),
        ("annotation", "layer", "secret", "pas une valeur connue"),
        ("annotation", "fields", {"inconnu": "x"}, "champs connus"),
        ("annotation", "verbatims", [{"text": 3}], "citations"),
        ("consent", "scopes", ["commerce"], "usages"),
        ("consent", "given_on", "hier", r"une date \(AAAA-MM-JJ\)"),
        ("live_session", "rate", float("nan"), "un nombre"),
        ("recording", "media_info", {"files": {"poster": "../x"}}, "simples noms"),
    ],
)
def test_bad_values_are_named(table: str, column: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.imported(tables.BY_NAME[table], column, value)
