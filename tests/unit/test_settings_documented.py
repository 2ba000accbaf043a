"""Docs stay honest: every setting is in the README's configuration table."""

import re
from pathlib import Path

from autoconf.settings import Settings

README = Path(__file__).parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"`(AUTOCONF_[A-Z0-9_]+)`", README.read_text("utf-8")))
    expected = {f"AUTOCONF_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README"
    extra = {name for name in documented - expected if not name.startswith("AUTOCONF_TEST_")}
    assert extra == set(), "README documents settings that do not exist"


def test_readme_starts_with_the_two_newcomer_commands() -> None:
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", README.read_text("utf-8"), re.S)
    assert len(blocks) >= 2
    assert blocks[0].strip().count("\n") == 0 and "run-demo" in blocks[0]
    assert blocks[1].strip().count("\n") == 0 and "test" in blocks[1]


def test_settings_come_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOCONF_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTOCONF_MAX_UPLOAD_BYTES", "1234")
    settings = Settings()
    assert settings.data_dir == tmp_path.resolve()
    assert settings.max_upload_bytes == 1234
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/autoconf.sqlite3"
