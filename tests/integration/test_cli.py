"""The `autoconf` command, run as a user would (a real process, real environment)."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from autoconf.app import create_app
from tests.support import cli_env, settings_for

DEMO = Path(__file__).parents[2] / "autoconf" / "demo"


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**cli_env(data_dir), "AUTOCONF_LOG_LEVEL": "info"}
    return subprocess.run(
        [sys.executable, "-m", "autoconf.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_migrate_user_add_and_token(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    added = run(tmp_path, "user", "add", "claire", "--role", "researcher", stdin="s3cret-pass\n")
    assert added.returncode == 0, added.stderr
    again = run(tmp_path, "user", "add", "claire", "--role", "researcher", stdin="s3cret-pass\n")
    assert again.returncode == 1 and "existe déjà" in again.stderr
    short = run(tmp_path, "user", "add", "zoe", "--role", "admin", stdin="abc\n")
    assert short.returncode == 1 and "au moins 8" in short.stderr
    bad_role = run(tmp_path, "user", "add", "zoe", "--role", "boss", stdin="s3cret-pass\n")
    assert bad_role.returncode == 2
    token = run(tmp_path, "token", "create", "claire")
    assert token.returncode == 0
    clear = token.stdout.strip()
    assert clear.startswith("act_")
    assert run(tmp_path, "token", "create", "nobody").returncode == 1
    assert run(tmp_path, "token", "create", "claire", "--days", "0").returncode == 2
    short_lived = run(tmp_path, "token", "create", "claire", "--days", "2")
    assert short_lived.returncode == 0

    app = create_app(settings_for(tmp_path))
    with TestClient(app) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {clear}"})
        assert me.json()["username"] == "claire"
        tokens = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {clear}"})
        expiries = sorted(t["expires_at"][:10] for t in tokens.json())
        today = datetime.now(UTC).date()
        assert expiries == [str(today + timedelta(days=2)), str(today + timedelta(days=90))]
        login = client.post(
            "/api/v1/auth/login", json={"username": "claire", "password": "s3cret-pass"}
        )
        assert login.status_code == 200
    app.state.engine.dispose()


def test_demo_loads_once_and_prints_a_working_login(tmp_path: Path) -> None:
    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    password = next(
        line.split(": ", 1)[1] for line in first.stdout.splitlines() if "Mot de passe" in line
    )
    second = run(tmp_path, "demo")
    assert second.returncode == 0
    password2 = next(
        line.split(": ", 1)[1] for line in second.stdout.splitlines() if "Mot de passe" in line
    )

    app = create_app(settings_for(tmp_path))
    with TestClient(app) as client:
        old = client.post("/api/v1/auth/login", json={"username": "demo", "password": password})
        assert old.status_code == 401  # each run hands out a fresh password
        ok = client.post("/api/v1/auth/login", json={"username": "demo", "password": password2})
        assert ok.status_code == 200
        studies = client.get("/api/v1/studies").json()
        assert len(studies) == 1  # not loaded twice
        sid = studies[0]["id"]
        recordings = client.get(f"/api/v1/studies/{sid}/recordings").json()
        assert [(r["code"], r["category"]) for r in recordings] == [
            ("A8 - 1", "session"),
            ("A8 - AC", "autoconfrontation"),  # the interview's own recording
        ]
        assert 130_000 < recordings[0]["duration_ms"] < 140_000  # probed by ffprobe
        # Both parties consented to research and training: everything plays, clips too.
        assert all(r["consent"]["playable"] and r["consent"]["training"] for r in recordings)
        assert all(r["consent"]["required"] and r["media_url"] for r in recordings)
        annotations = client.get(f"/api/v1/recordings/{recordings[0]['id']}/annotations").json()
        origins = [a["origin"] for a in annotations]
        cues = (DEMO / "seance-demo.vtt").read_text("utf-8").count("-->")
        assert origins.count("transcript") == cues == 20
        assert origins.count("prepared") == 4
        assert origins.count("coding") >= 10
        assert all(a["note"] for a in annotations if a["origin"] == "prepared")
        interviews = client.get(f"/api/v1/studies/{sid}/interviews").json()
        assert interviews[0]["recording_ids"] == [recordings[0]["id"]]
        # A live session already held: its stops, with what was said, in the report.
        report = client.get(f"/api/v1/interviews/{interviews[0]['id']}/report").json()
        # In the recording's order (the third stop went back to 1’06), each with its time in
        # the interview's own recording (made in the order of the stops).
        assert [row["time"] for row in report["rows"]] == ["0’41", "1’06", "1’20"]
        assert [row["ac_time"] for row in report["rows"]] == ["0’00", "0’24", "0’13"]
        assert report["rows"][0]["comments"][0]["speaker"] == "counsellor"
        assert report["rows"][1]["ac_excerpt"][0]["text"].startswith("Est-ce qu'il y a")
        page = client.get(f"/studies/{sid}", headers={"accept": "text/html"})
        assert "A8 - 1" in page.text and "Se présenter" in page.text
    app.state.engine.dispose()


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    for command in ("serve", "migrate", "user", "token", "demo"):
        assert command in result.stdout


def test_a_setting_refused_is_said_in_french_without_its_value(tmp_path: Path) -> None:
    env = {**os.environ, "AUTOCONF_DATA_DIR": str(tmp_path), "AUTOCONF_MEDIA_WORKERS": "-1"}
    env["AUTOCONF_MEDIA_PASS_SECRET"] = "too-short-a-secret"
    answer = subprocess.run(
        [sys.executable, "-m", "autoconf.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 2 and "Traceback" not in answer.stderr
    assert "Erreur de configuration : AUTOCONF_MEDIA_PASS_SECRET est refusée" in answer.stderr
    assert "Erreur de configuration : AUTOCONF_MEDIA_WORKERS est refusée" in answer.stderr
    assert "too-short-a-secret" not in answer.stderr
