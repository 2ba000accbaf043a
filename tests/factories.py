"""Plain factory functions for tests."""

from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel

from autoconf.auth import accounts, passwords
from autoconf.db import session_scope
from autoconf.media import jobs
from autoconf.models import Recording, User
from autoconf.settings import Settings

DATA = Path(__file__).parent / "data"
DEMO_MEDIA = Path(__file__).parent.parent / "autoconf" / "demo" / "seance-demo.mp4"
DEMO_TRANSCRIPT = DEMO_MEDIA.with_suffix(".vtt")
PASSWORD = "correct horse battery"


def _send_form_token(request: httpx2.Request) -> None:
    """What the pages do: the session's form token beside the cookie on every request that
    changes something (and on the live socket's handshake)."""
    if (
        request.method in ("GET", "HEAD", "OPTIONS")
        and request.headers.get("connection") != "upgrade"
    ):
        return
    cookie = SimpleCookie(request.headers.get("cookie", "")).get("autoconf_session")
    if cookie is not None and "x-csrf-token" not in request.headers:
        request.headers["X-CSRF-Token"] = accounts.form_token(cookie.value)


class PageClient(TestClient):
    """A TestClient that signs its state-changing requests with its session's form token, as
    the pages' forms and scripts do (a bare TestClient is a page on another site)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event_hooks = {"request": [_send_form_token], "response": []}


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    password: str
    role: str


_hashes: dict[str, str] = {}


def account(engine: Engine, username: str, role: str, password: str = PASSWORD) -> Account:
    """A user with `password`, as `accounts.create_user` makes one (its checks are tested in
    tests/api/test_auth.py); the password's argon2 hash and strength check are done once per
    test process, not at each of the suite's two thousand accounts."""
    if password not in _hashes:
        accounts.check_new_password(password, username)
        _hashes[password] = passwords.hash_password(password)
    with session_scope(engine) as session:
        assert accounts.find_user(session, username) is None, username
        assert role in accounts.ROLES, role
        user = User(
            username=username, role=role, display_name=username, password_hash=_hashes[password]
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        return Account(user.id, username, password, role)


def token(engine: Engine, who: Account) -> dict[str, str]:
    """Authorization headers with a fresh personal API token of `who`."""
    with session_scope(engine) as session:
        user = accounts.get_user(session, who.username)
        _, clear = accounts.issue_token(session, user, accounts.API, name="tests")
    return {"Authorization": f"Bearer {clear}"}


def login(client: TestClient, who: Account) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"username": who.username, "password": who.password}
    )
    assert response.status_code == 200, response.text


def upload(
    client: TestClient,
    study_id: int,
    code: str,
    content: bytes | None = None,
    filename: str = "seance.mp4",
    headers: dict[str, str] | None = None,
    **form: Any,
) -> Any:
    content = DEMO_MEDIA.read_bytes() if content is None else content
    return client.post(
        f"/api/v1/studies/{study_id}/recordings",
        data={"code": code, **{k: str(v) for k, v in form.items()}},
        files={"file": (filename, content, "video/mp4")},
        headers=headers or {},
    )


def codes_by_path(client: TestClient, study_id: int, kind: str, **kw: Any) -> dict[str, int]:
    books = client.get(f"/api/v1/studies/{study_id}/codebooks", **kw).json()
    book = next(b for b in books if b["kind"] == kind)
    return {code["path"]: code["id"] for code in book["codes"]}


def counsellor_member(
    engine: Engine, researcher: TestClient, study_id: int, username: str, code: str
) -> tuple[Account, int]:
    """A counsellor account, member of the study, with its counsellor record `code`:
    the account and the counsellor id."""
    who = account(engine, username, "counsellor")
    added = researcher.post(
        f"/api/v1/studies/{study_id}/members", json={"username": username, "role": "counsellor"}
    )
    assert added.status_code == 201, added.text
    record = researcher.post(
        f"/api/v1/studies/{study_id}/counsellors", json={"code": code, "username": username}
    )
    assert record.status_code == 201, record.text
    return who, record.json()["id"]


def researcher_member(
    engine: Engine, researcher: TestClient, study_id: int, username: str
) -> Account:
    """A researcher account, added to the study by `researcher` (a second coder)."""
    who = account(engine, username, "researcher")
    added = researcher.post(
        f"/api/v1/studies/{study_id}/members", json={"username": username, "role": "researcher"}
    )
    assert added.status_code == 201, added.text
    return who


def set_duration(engine: Engine, recording_id: int, ms: int) -> None:
    """Give an unprocessed recording a duration, as processing would."""
    with session_scope(engine) as session:
        row = session.get(Recording, recording_id)
        assert row is not None
        row.duration_ms = ms
        session.add(row)


def consent_all(
    client: TestClient, recording_id: int, scopes: tuple[str, ...] = ("research", "training")
) -> list[dict[str, Any]]:
    """Both parties' consent (research and training by default), recorded by `client`, a
    researcher of the study: the recording plays, exports and makes clips."""
    given = []
    for party in ("counsellor", "beneficiary"):
        response = client.post(
            f"/api/v1/recordings/{recording_id}/consents",
            json={"party": party, "scopes": list(scopes), "given_on": "2025-01-15"},
        )
        assert response.status_code == 201, response.text
        given.append(response.json())
    return given


def processed(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    study_id: int,
    code: str = "A1",
    source: Path = DEMO_MEDIA,
    consent: bool = True,
) -> dict[str, Any]:
    """A recording uploaded and processed by the real pipeline (ffmpeg); its API view. With
    `consent`, both parties' consents are recorded (research and training): it plays."""
    response = upload(client, study_id, code, source.read_bytes(), filename=source.name)
    assert response.status_code == 201, response.text
    jobs.run_until_idle(engine, settings)
    if consent:
        consent_all(client, response.json()["id"])
    recording: dict[str, Any] = client.get(f"/api/v1/recordings/{response.json()['id']}").json()
    return recording


def annotations_url(recording: dict[str, Any]) -> str:
    return f"/api/v1/recordings/{recording['id']}/annotations"


def references(engine: Engine, table_name: str, object_id: int) -> dict[str, int]:
    """Rows whose foreign key points at row `object_id` of `table_name`, by column."""
    found: dict[str, int] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                if any(fk.column.table.name == table_name for fk in column.foreign_keys):
                    query = sa_select(func.count()).select_from(table).where(column == object_id)
                    count = connection.execute(query).scalar_one()
                    if count:
                        found[f"{table.name}.{column.name}"] = count
    return found
