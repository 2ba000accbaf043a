"""What a counsellor sees and writes, taking access back (members, accounts, passwords,
tokens), the study's confidentiality settings and the audit log."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select, update
from starlette.websockets import WebSocketDisconnect

from autoconf.models import Annotation, AuditEvent, AuthToken, utcnow
from tests import factories


@pytest.fixture
def world(client: TestClient, rclient: TestClient, study: dict, engine: Engine) -> dict[str, Any]:
    """A counsellor's recording coded by the researcher: every layer, with telling notes."""
    sid = study["id"]
    counsellor, cid = factories.counsellor_member(engine, rclient, sid, "a8", "A8")
    rec = factories.upload(rclient, sid, "A8 - 1", counsellor_id=cid).json()
    url = factories.annotations_url(rec)
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    made = {}
    for layer in ("schemes", "consensus", "phases", "categories"):
        body = {"start_ms": 1000, "end_ms": 5000, "layer": layer, "note": f"codage-{layer}"}
        if layer == "schemes":
            body["code_ids"] = [next(iter(schemes.values()))]
        made[layer] = rclient.post(url, json=body).json()
    made["private"] = rclient.post(
        url, json={"start_ms": 2000, "origin": "prepared", "note": "marque-privee"}
    ).json()
    made["team"] = rclient.post(
        url, json={"start_ms": 3000, "origin": "prepared", "note": "marque-equipe", "shared": True}
    ).json()
    made["stop"] = rclient.post(url, json={"start_ms": 4000, "origin": "stop"}).json()
    headers = factories.token(engine, counsellor)
    return {"rec": rec, "url": url, "made": made, "headers": headers, "who": counsellor}


def _notes(listed: list[dict[str, Any]]) -> set[str]:
    return {a["note"] for a in listed}


def test_a_counsellor_sees_stops_and_own_marks_never_the_coding(
    client: TestClient, rclient: TestClient, world: dict, study: dict
) -> None:
    url, made, headers = world["url"], world["made"], world["headers"]
    mine = client.post(
        url, json={"start_ms": 500, "origin": "prepared", "note": "ma-marque"}, headers=headers
    )
    assert mine.status_code == 201
    listed = client.get(url, headers=headers).json()
    assert {a["layer"] for a in listed} == {"stops", "prepared"}
    assert _notes(listed) == {"", "ma-marque"}
    for hidden in ("schemes", "consensus", "phases", "categories", "private", "team"):
        one = client.get(f"/api/v1/annotations/{made[hidden]['id']}", headers=headers)
        unknown = client.get("/api/v1/annotations/999999", headers=headers)
        assert one.status_code == 404
        assert one.json()["detail"] == unknown.json()["detail"].replace(
            "999999", str(made[hidden]["id"])
        )
    page = client.get(f"/recordings/{world['rec']['id']}", headers=headers)
    assert page.status_code == 200
    for note in ("codage-schemes", "codage-consensus", "marque-privee", "marque-equipe"):
        assert note not in page.text
    # A prepared moment shown to the counsellor appears; coding stays hidden without
    # co-validation, even when shown.
    for key in ("team", "schemes"):
        shown = rclient.patch(
            f"/api/v1/annotations/{made[key]['id']}",
            json={"version": made[key]["version"], "shown_to_counsellor": True},
        )
        assert shown.status_code == 200 and shown.json()["shown_to_counsellor"] is True
    assert _notes(client.get(url, headers=headers).json()) == {"", "ma-marque", "marque-equipe"}
    # With co-validation, the segments shown (and only those).
    turned = rclient.patch(f"/api/v1/studies/{study['id']}", json={"co_validation": True})
    assert turned.status_code == 200 and turned.json()["co_validation"] is True
    notes = _notes(client.get(url, headers=headers).json())
    assert notes == {"", "ma-marque", "marque-equipe", "codage-schemes"}


def test_a_counsellor_writes_only_marks_and_stops(
    client: TestClient, rclient: TestClient, world: dict, engine: Engine, study: dict
) -> None:
    url, headers = world["url"], world["headers"]
    with Session(engine) as session:
        before = len(session.exec(select(Annotation.id)).all())
    for layer in ("schemes", "consensus", "phases", "categories"):
        refused = client.post(
            url, json={"start_ms": 0, "end_ms": 10, "layer": layer}, headers=headers
        )
        assert refused.status_code == 403, layer
        assert "chercheurs" in refused.json()["detail"]
    coded = client.post(url, json={"start_ms": 0, "end_ms": 10}, headers=headers)
    assert coded.status_code == 403  # no layer: coding, the schemes layer
    scheme = next(iter(factories.codes_by_path(rclient, study["id"], "schemes").values()))
    with_code = client.post(
        url, json={"start_ms": 0, "origin": "prepared", "code_ids": [scheme]}, headers=headers
    )
    assert with_code.status_code == 403 and "principes" in with_code.json()["detail"]
    showing = client.post(
        url,
        json={"start_ms": 0, "origin": "prepared", "shown_to_counsellor": True},
        headers=headers,
    )
    assert showing.status_code == 403
    with Session(engine) as session:
        assert len(session.exec(select(Annotation.id)).all()) == before
    principle = next(iter(factories.codes_by_path(rclient, study["id"], "principles").values()))
    mark = client.post(
        url, json={"start_ms": 0, "origin": "prepared", "code_ids": [principle]}, headers=headers
    )
    assert mark.status_code == 201
    moved = client.patch(
        f"/api/v1/annotations/{mark.json()['id']}",
        json={"version": 1, "layer": "consensus"},
        headers=headers,
    )
    assert moved.status_code == 403
    assert (
        client.get(f"/api/v1/annotations/{mark.json()['id']}", headers=headers).json()["layer"]
        == "prepared"
    )


def test_the_study_tables_are_the_researchers(client: TestClient, world: dict, study: dict) -> None:
    headers = world["headers"]
    for url in (
        f"/api/v1/studies/{study['id']}/synthesis",
        f"/api/v1/studies/{study['id']}/members/{world['who'].id}",
    ):
        method = client.delete if "members" in url else client.get
        assert method(url, headers=headers).status_code == 403, url


def test_a_member_taken_out_loses_access_at_once_and_keeps_authorship(
    client: TestClient, rclient: TestClient, world: dict, study: dict, engine: Engine
) -> None:
    url, headers = world["url"], world["headers"]
    mark = client.post(
        url, json={"start_ms": 0, "origin": "prepared", "shared": True}, headers=headers
    )
    assert mark.status_code == 201
    assert client.get(url, headers=headers).status_code == 200
    removed = rclient.delete(f"/api/v1/studies/{study['id']}/members/{world['who'].id}")
    assert removed.status_code == 200 and removed.json()["username"] == "a8"
    assert client.get(url, headers=headers).status_code == 404
    assert client.get(f"/api/v1/studies/{study['id']}", headers=headers).status_code == 404
    kept = rclient.get(f"/api/v1/annotations/{mark.json()['id']}").json()
    assert kept["author_id"] == world["who"].id
    again = rclient.delete(f"/api/v1/studies/{study['id']}/members/{world['who'].id}")
    assert again.status_code == 404 and "membre" in again.json()["detail"]
    me = rclient.get("/api/v1/me").json()["id"]
    last = rclient.delete(f"/api/v1/studies/{study['id']}/members/{me}")
    assert last.status_code == 409 and "au moins un chercheur" in last.json()["detail"]
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert "member_removed" in actions and "member_added" in actions


def test_a_disabled_account_stops_at_once(
    app: Any, client: TestClient, engine: Engine, world: dict
) -> None:
    admin = factories.account(engine, "root", "admin")
    admin_h = factories.token(engine, admin)
    browser = factories.PageClient(app)
    factories.login(browser, world["who"])
    assert browser.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/users", headers=world["headers"]).status_code == 403
    users = client.get("/api/v1/users", headers=admin_h).json()
    assert {u["username"] for u in users} >= {"a8", "root", "claire"}
    off = client.patch(
        f"/api/v1/users/{world['who'].id}", json={"is_active": False}, headers=admin_h
    )
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=world["headers"]).status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    relog = client.post(
        "/api/v1/auth/login", json={"username": "a8", "password": world["who"].password}
    )
    assert relog.status_code == 401
    self_off = client.patch(f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=admin_h)
    assert self_off.status_code == 409
    on = client.patch(f"/api/v1/users/{world['who'].id}", json={"is_active": True}, headers=admin_h)
    assert on.status_code == 200
    assert client.get("/api/v1/me", headers=world["headers"]).status_code == 200
    assert (
        client.patch("/api/v1/users/999999", json={"is_active": False}, headers=admin_h).status_code
        == 404
    )


def test_a_password_change_ends_the_other_sessions(
    app: Any, engine: Engine, researcher: factories.Account
) -> None:
    here, elsewhere = factories.PageClient(app), factories.PageClient(app)
    factories.login(here, researcher)
    factories.login(elsewhere, researcher)
    wrong = here.post(
        "/api/v1/me/password", json={"current_password": "nope", "new_password": "un autre long"}
    )
    assert wrong.status_code == 422 and "actuel" in wrong.json()["detail"]
    short = here.post(
        "/api/v1/me/password",
        json={"current_password": researcher.password, "new_password": "court"},
    )
    assert short.status_code == 422 and "8 caractères" in short.json()["detail"]
    assert elsewhere.get("/api/v1/me").status_code == 200
    changed = here.post(
        "/api/v1/me/password",
        json={"current_password": researcher.password, "new_password": "un autre long"},
    )
    assert changed.status_code == 204
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    old = factories.PageClient(app).post(
        "/api/v1/auth/login",
        json={"username": researcher.username, "password": researcher.password},
    )
    assert old.status_code == 401
    new = factories.PageClient(app).post(
        "/api/v1/auth/login", json={"username": researcher.username, "password": "un autre long"}
    )
    assert new.status_code == 200


def test_tokens_expire_and_can_be_revoked(
    client: TestClient, rclient: TestClient, engine: Engine
) -> None:
    made = rclient.post("/api/v1/me/tokens", json={"name": "script", "expires_in_days": 7})
    assert made.status_code == 201
    token = made.json()
    expires = token["expires_at"]
    assert expires is not None
    listed = rclient.get("/api/v1/me/tokens").json()
    assert [(t["name"], t["expires_at"]) for t in listed] == [("script", expires)]
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    with Session(engine) as session:
        session.exec(
            update(AuthToken)
            .where(col(AuthToken.id) == token["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    for days in (0, 366, "x"):
        assert rclient.post("/api/v1/me/tokens", json={"expires_in_days": days}).status_code == 422
    default = rclient.post("/api/v1/me/tokens", json={}).json()
    assert default["expires_at"] is not None
    second = {"Authorization": f"Bearer {default['token']}"}
    assert client.get("/api/v1/me", headers=second).status_code == 200
    assert rclient.delete(f"/api/v1/me/tokens/{default['id']}").status_code == 204
    assert client.get("/api/v1/me", headers=second).status_code == 401


def test_codes_follow_the_studys_pattern(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    url = f"/api/v1/studies/{sid}"
    bad_regex = rclient.patch(url, json={"code_pattern": "A(", "code_example": "A1"})
    assert bad_regex.status_code == 422 and "expression régulière" in bad_regex.json()["detail"]
    no_example = rclient.patch(url, json={"code_pattern": r"A\d+"})
    assert no_example.status_code == 422 and "exemple" in no_example.json()["detail"]
    mismatch = rclient.patch(url, json={"code_pattern": r"A\d+", "code_example": "Marie"})
    assert mismatch.status_code == 422 and "Marie" in mismatch.json()["detail"]
    rclient.post(f"{url}/counsellors", json={"code": "Dupont"})
    breaking = rclient.patch(url, json={"code_pattern": r"A\d+", "code_example": "A8"})
    assert breaking.status_code == 422 and "Dupont" in breaking.json()["detail"]
    assert rclient.get(url).json()["code_pattern"] == ""
    pattern = r"A\d+( - \d+)?"
    ok = rclient.patch(url, json={"code_pattern": f"({pattern})|Dupont", "code_example": "A8 - 1"})
    assert ok.status_code == 200 and ok.json()["code_example"] == "A8 - 1"
    for path, body in (
        ("counsellors", {"code": "Martin"}),
        ("interviews", {"code": "Bernard", "recording_ids": []}),
    ):
        refused = rclient.post(f"{url}/{path}", json=body)
        assert refused.status_code == 422, refused.text
        assert pattern in refused.json()["detail"] and "A8 - 1" in refused.json()["detail"]
    upload = factories.upload(rclient, sid, "Entretien avec Mme Durand")
    assert upload.status_code == 422 and "A8 - 1" in upload.json()["detail"]
    assert factories.upload(rclient, sid, "A8 - 2").status_code == 201
    assert rclient.post(f"{url}/counsellors", json={"code": "A9"}).status_code == 201


def test_the_audit_log_is_the_admins_and_append_only(
    app: Any, client: TestClient, engine: Engine, researcher: factories.Account
) -> None:
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "claire", "password": "faux"}
        ).status_code
        == 401
    )
    factories.login(client, researcher)
    admin_h = factories.token(engine, factories.account(engine, "root", "admin"))
    assert client.get("/api/v1/audit").status_code == 403
    page = client.get("/api/v1/audit", headers=admin_h).json()
    actions = [e["action"] for e in page["entries"]]
    assert actions[:2] == ["login", "login_failed"]  # newest first
    failed = page["entries"][1]
    assert failed["detail"] == {"tried": "claire"} and failed["address"]
    assert "faux" not in str(page)
    first = client.get("/api/v1/audit?limit=1", headers=admin_h).json()
    assert len(first["entries"]) == 1 and first["next_before_id"] == first["entries"][0]["id"]
    older = client.get(f"/api/v1/audit?before_id={first['next_before_id']}", headers=admin_h)
    assert [e["action"] for e in older.json()["entries"]] == ["login_failed"]
    only = client.get("/api/v1/audit?action=login_failed", headers=admin_h).json()["entries"]
    assert [e["action"] for e in only] == ["login_failed"]
    assert client.get("/api/v1/audit?action=nimporte", headers=admin_h).status_code == 422
    assert client.get("/api/v1/audit?since=2999-01-01", headers=admin_h).json()["entries"] == []
    csv = client.get("/api/v1/audit.csv", headers=admin_h)
    header = csv.content.decode("utf-8-sig").splitlines()[0]  # a BOM, `;` for French
    assert csv.status_code == 200 and header.startswith("N°;Date (UTC);N° utilisateur;")
    assert "login_failed" in csv.text
    html = client.get("/audit", headers={**admin_h, "Accept": "text/html"})
    assert html.status_code == 200 and "échec de connexion" in html.text
    # No route changes or deletes it…
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert client.request(method, "/api/v1/audit", headers=admin_h).status_code == 405
    for route in app.routes:
        if "audit" in getattr(route, "path", ""):
            assert getattr(route, "methods", {"GET"}) <= {"GET", "HEAD"}, route.path
    # …and the database refuses to.
    with engine.connect() as connection:
        for statement in ("UPDATE audit_event SET username = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    with Session(engine) as session:
        assert len(session.exec(select(AuditEvent)).all()) == len(page["entries"])


def test_a_live_stop_shows_a_counsellor_no_id_of_a_private_mark(
    client: TestClient, rclient: TestClient, world: dict
) -> None:
    rec, made = world["rec"], world["made"]
    started = rclient.post(f"/api/v1/recordings/{rec['id']}/live").json()
    stop = rclient.post(f"/api/v1/live/{started['id']}/stops", json={"position_ms": 2000})
    assert stop.status_code == 201, stop.text
    rclient.patch(
        f"/api/v1/live/stops/{stop.json()['id']}", json={"prepared_id": made["private"]["id"]}
    )
    theirs = rclient.get(f"/api/v1/live/{started['id']}/log").json()
    assert made["private"]["id"] in [s["prepared_id"] for s in theirs["stops"]]
    log = client.get(f"/api/v1/live/{started['id']}/log", headers=world["headers"]).json()
    assert log["role"] == "counsellor"
    assert all(s["prepared_id"] is None for s in log["stops"])


def test_every_export_is_in_the_audit_log(rclient: TestClient, study: dict, engine: Engine) -> None:
    sid = study["id"]
    assert rclient.get(f"/api/v1/studies/{sid}/synthesis").status_code == 200  # shown
    assert rclient.get(f"/api/v1/studies/{sid}/chronogram").status_code == 200  # shown
    for url in (
        f"/api/v1/studies/{sid}/synthesis?format=xlsx",
        f"/api/v1/studies/{sid}/chronogram?format=png&download=true",
    ):
        assert rclient.get(url).status_code == 200, url
    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.study_id, e.detail["what"], e.detail["format"]) for e in exports] == [
        (sid, "synthesis", "xlsx"),
        (sid, "chronogram", "png"),
    ]


def test_a_counsellor_sees_and_types_their_own_words_never_the_researchers_notes(
    app: Any, client: TestClient, rclient: TestClient, world: dict
) -> None:
    started = rclient.post(f"/api/v1/recordings/{world['rec']['id']}/live").json()
    stop = rclient.post(f"/api/v1/live/{started['id']}/stops", json={"position_ms": 2000}).json()
    comments = f"/api/v1/live/stops/{stop['id']}/comments"
    headers = world["headers"]
    # The counsellor's socket on the researcher's client (its Bearer token wins): one loop.
    url = f"/api/v1/live/{started['id']}/ws"
    with rclient.websocket_connect(url, headers=headers) as socket:
        assert socket.receive_json()["type"] == "state"
        note = rclient.post(comments, json={"speaker": "researcher", "text": "note-du-chercheur"})
        words = rclient.post(comments, json={"speaker": "counsellor", "text": "ses-propos"})
        assert note.status_code == words.status_code == 201
        while (message := socket.receive_json())["type"] != "comment":
            pass
        assert message["comment"]["text"] == "ses-propos"  # the note never came
        # A comment whose speaker becomes the researcher leaves the counsellor's screen.
        changed = rclient.patch(
            f"/api/v1/live/comments/{words.json()['id']}",
            json={"version": 1, "speaker": "researcher"},
        )
        assert changed.status_code == 200
        while (message := socket.receive_json())["type"] != "comment_deleted":
            pass
        assert message["comment_deleted"]["id"] == words.json()["id"]
        assert "ses-propos" not in str(message)
    rclient.patch(
        f"/api/v1/live/comments/{words.json()['id']}", json={"version": 2, "speaker": "counsellor"}
    )
    log = client.get(f"/api/v1/live/{started['id']}/log", headers=headers).json()
    said = [c["text"] for s in log["stops"] for c in s["comments"]]
    assert said == ["ses-propos"]
    hidden = client.patch(
        f"/api/v1/live/comments/{note.json()['id']}",
        json={"version": 1, "text": "x"},
        headers=headers,
    )
    assert hidden.status_code == 404
    theirs = client.patch(
        f"/api/v1/live/comments/{words.json()['id']}",
        json={"version": 3, "text": "x"},
        headers=headers,
    )
    assert theirs.status_code == 403
    as_researcher = client.post(
        comments, json={"speaker": "researcher", "text": "x"}, headers=headers
    )
    assert as_researcher.status_code == 403
    mine = client.post(
        comments, json={"speaker": "counsellor", "text": "je précise"}, headers=headers
    )
    assert mine.status_code == 201
    edited = client.patch(
        f"/api/v1/live/comments/{mine.json()['id']}",
        json={"version": 1, "text": "je précise : x"},
        headers=headers,
    )
    assert edited.status_code == 200
    both = rclient.get(f"/api/v1/live/{started['id']}/log").json()
    assert [c["text"] for c in both["stops"][0]["comments"]] == [
        "note-du-chercheur",
        "ses-propos",
        "je précise : x",
    ]


def test_a_counsellor_is_not_told_the_uploaded_file_name(
    client: TestClient, rclient: TestClient, world: dict, study: dict
) -> None:
    rec, headers = world["rec"], world["headers"]
    assert rclient.get(f"/api/v1/recordings/{rec['id']}").json()["original_filename"]
    assert (
        client.get(f"/api/v1/recordings/{rec['id']}", headers=headers).json()["original_filename"]
        == ""
    )
    listed = client.get(f"/api/v1/studies/{study['id']}/recordings", headers=headers).json()
    assert [r["original_filename"] for r in listed] == [""]
    page = client.get(f"/recordings/{rec['id']}", headers={**headers, "Accept": "text/html"})
    assert "seance.mp4" not in page.text


HTML = {"Accept": "text/html"}


def test_the_account_page_changes_the_password_and_handles_tokens(
    app: Any, engine: Engine, researcher: factories.Account
) -> None:
    here, elsewhere = factories.PageClient(app), factories.PageClient(app)
    factories.login(here, researcher)
    factories.login(elsewhere, researcher)
    page = here.get("/account", headers=HTML)
    assert page.status_code == 200 and "Changer de mot de passe" in page.text
    differ = here.post(
        "/account/password",
        data={
            "current_password": researcher.password,
            "new_password": "aaaaaaaaaa",
            "confirmation": "bbbbbbbbbb",
        },
        headers=HTML,
    )
    assert differ.status_code == 422 and "diffèrent" in differ.text
    wrong = here.post(
        "/account/password",
        data={
            "current_password": "faux",
            "new_password": "aaaaaaaaaa",
            "confirmation": "aaaaaaaaaa",
        },
        headers=HTML,
    )
    assert wrong.status_code == 422 and "actuel" in wrong.text and "aaaaaaaaaa" not in wrong.text
    assert elsewhere.get("/api/v1/me").status_code == 200
    done = here.post(
        "/account/password",
        data={
            "current_password": researcher.password,
            "new_password": "aaaaaaaaaa",
            "confirmation": "aaaaaaaaaa",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/account?done=password"
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert "autres sessions" in here.get("/account?done=password", headers=HTML).text
    made = here.post(
        "/account/tokens", data={"name": "nuit", "expires_in_days": "30"}, headers=HTML
    )
    assert made.status_code == 201
    shown = made.text.split("data-new-token>")[1].split("<")[0]
    bearer = {"Authorization": f"Bearer {shown}"}
    assert factories.PageClient(app).get("/api/v1/me", headers=bearer).status_code == 200
    assert shown not in here.get("/account", headers=HTML).text  # shown once
    token_id = here.get("/api/v1/me/tokens").json()[0]["id"]
    revoked = here.post(f"/account/tokens/{token_id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    assert factories.PageClient(app).get("/api/v1/me", headers=bearer).status_code == 401


def test_the_accounts_page_disables_an_account(
    app: Any, client: TestClient, engine: Engine, world: dict
) -> None:
    admin = factories.account(engine, "root", "admin")
    browser = factories.PageClient(app)
    factories.login(browser, admin)
    assert client.get("/users", headers={**world["headers"], **HTML}).status_code == 403
    page = browser.get("/users", headers=HTML)
    assert page.status_code == 200 and "a8" in page.text
    off = browser.post(
        f"/users/{world['who'].id}/active", data={"is_active": "false"}, follow_redirects=False
    )
    assert off.status_code == 303
    assert client.get("/api/v1/me", headers=world["headers"]).status_code == 401
    assert "désactivé" in browser.get("/users", headers=HTML).text
    assert (
        browser.post(f"/users/{world['who'].id}/active", data={"is_active": "oui"}).status_code
        == 422
    )
    on = browser.post(f"/users/{world['who'].id}/active", data={"is_active": "true"})
    assert on.status_code == 200
    assert client.get("/api/v1/me", headers=world["headers"]).status_code == 200


def test_a_counsellors_stop_answer_and_the_researchers_stops_keep_their_reading(
    client: TestClient, rclient: TestClient, world: dict, study: dict
) -> None:
    rec, made, headers = world["rec"], world["made"], world["headers"]
    started = rclient.post(f"/api/v1/recordings/{rec['id']}/live").json()
    url = f"/api/v1/live/{started['id']}/stops"
    # The counsellor stops near the researcher's private mark (2000 ms): the answer names
    # no prepared moment and, stopped again, carries no researcher's note.
    first = client.post(url, json={"position_ms": 2300}, headers=headers)
    assert first.status_code == 201 and first.json()["prepared_id"] is None
    researchers = rclient.get(f"/api/v1/live/{started['id']}/log").json()["stops"]
    assert researchers[0]["prepared_id"] == made["private"]["id"]
    rclient.post(
        f"/api/v1/live/stops/{first.json()['id']}/comments",
        json={"speaker": "researcher", "text": "NOTE-SECRETE"},
    )
    again = client.post(url, json={"position_ms": 2300}, headers=headers)
    assert again.status_code == 201 and "NOTE-SECRETE" not in again.text
    # A researcher's stop, coded and noted: the counsellor sees the stop, not the reading.
    scheme = next(iter(factories.codes_by_path(rclient, study["id"], "schemes").values()))
    stop = made["stop"]
    coded = rclient.patch(
        f"/api/v1/annotations/{stop['id']}",
        json={"version": stop["version"], "code_ids": [scheme], "note": "LECTURE-DU-CHERCHEUR"},
    )
    assert coded.status_code == 200
    seen = client.get(f"/api/v1/annotations/{stop['id']}", headers=headers).json()
    assert seen["code_ids"] == [] and seen["note"] == ""
    listed = client.get(world["url"], headers=headers).text
    page = client.get(f"/recordings/{rec['id']}", headers={**headers, **HTML}).text
    assert "LECTURE-DU-CHERCHEUR" not in listed + page


def test_a_recording_of_an_interview_keeps_its_interviews_counsellor(
    rclient: TestClient, world: dict, study: dict
) -> None:
    rec = world["rec"]
    other = rclient.post(f"/api/v1/studies/{study['id']}/counsellors", json={"code": "A4"})
    rclient.post(f"/api/v1/recordings/{rec['id']}/live")  # makes its interview
    moved = rclient.patch(
        f"/api/v1/recordings/{rec['id']}", json={"counsellor_id": other.json()["id"]}
    )
    assert moved.status_code == 409 and "entretien" in moved.json()["detail"]
    assert (
        rclient.get(f"/api/v1/recordings/{rec['id']}").json()["counsellor_id"] != other.json()["id"]
    )


def test_an_open_socket_ends_when_access_is_taken_back(
    app: Any, rclient: TestClient, world: dict, study: dict
) -> None:
    started = rclient.post(f"/api/v1/recordings/{world['rec']['id']}/live").json()
    # The counsellor's socket on the researcher's client (its Bearer token wins over the
    # cookie): one event loop, as in a real server (two TestClients are two loops, and the
    # write lock is not made to be shared between loops).
    url = f"/api/v1/live/{started['id']}/ws"
    with rclient.websocket_connect(url, headers=world["headers"]) as socket:
        assert socket.receive_json()["type"] == "state"
        removed = rclient.delete(f"/api/v1/studies/{study['id']}/members/{world['who'].id}")
        assert removed.status_code == 200
        socket.send_json({"type": "seek", "position_ms": 1000})
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                message = socket.receive_json()
                assert message["type"] not in ("seek", "comment"), message
    assert closed.value.code == 4403
    state = rclient.get(f"/api/v1/live/{started['id']}").json()
    assert state["position_ms"] == 0  # the seek was refused


def test_no_transcript_without_consent(
    client: TestClient, rclient: TestClient, study: dict
) -> None:
    rec = factories.upload(rclient, study["id"], "B1").json()
    imported = rclient.post(
        f"/api/v1/recordings/{rec['id']}/transcript",
        files={
            "file": ("t.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nJe suis malade au travail\n")
        },
    )
    assert imported.status_code == 200, imported.text
    url = factories.annotations_url(rec)
    assert "malade" not in rclient.get(url).text
    assert "malade" not in rclient.get(f"/recordings/{rec['id']}", headers=HTML).text
    factories.consent_all(rclient, rec["id"])
    cues = [a for a in rclient.get(url).json() if a["layer"] == "transcript"]
    assert [c["note"] for c in cues] == ["Je suis malade au travail"]


def test_erasure_forgets_the_comments_of_a_stop_deleted_before(
    rclient: TestClient, world: dict, study: dict, engine: Engine
) -> None:
    rec = world["rec"]
    second = factories.upload(rclient, study["id"], "A8 - 2", counsellor_id=rec["counsellor_id"])
    started = rclient.post(f"/api/v1/recordings/{rec['id']}/live").json()
    interview = rclient.get(f"/api/v1/studies/{study['id']}/interviews").json()[0]
    assert second.status_code == 201 and interview["id"]
    stop = rclient.post(f"/api/v1/live/{started['id']}/stops", json={"position_ms": 1000}).json()
    said = rclient.post(
        f"/api/v1/live/stops/{stop['id']}/comments",
        json={"speaker": "counsellor", "text": "SECRET-EFFACE"},
    ).json()
    rclient.delete(f"/api/v1/live/comments/{said['id']}?version=1")
    assert rclient.delete(f"/api/v1/annotations/{stop['id']}").status_code == 204
    assert rclient.post(f"/api/v1/recordings/{rec['id']}/erase").status_code == 200
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT payload FROM live_event")).all()
    assert "SECRET-EFFACE" not in str(rows)
