"""Security headers on every answer, and requests made from another site refused (CSRF)."""

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from autoconf.auth import accounts
from tests import factories

# Once (the SQLite pass): HTTP headers and cross-site refusals, the same whatever the database.
pytestmark = pytest.mark.once

ELSEWHERE = "https://evil.example"


def _policy(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The Content-Security-Policy as {directive: sources}."""
    policy = response.headers["content-security-policy"]
    parts = [part.strip().split(" ", 1) for part in policy.split(";") if part.strip()]
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def test_every_answer_says_what_a_browser_may_do_with_it(
    rclient: TestClient, recording: dict
) -> None:
    answers = {
        "page": rclient.get("/studies", headers={"accept": "text/html"}),
        "login page": TestClient(rclient.app).get("/login"),
        "API": rclient.get("/api/v1/studies"),
        "error": rclient.get("/api/v1/recordings/999999"),
        "static file": rclient.get("/static/css/app.css"),
        "recording page": rclient.get(f"/recordings/{recording['id']}"),
    }
    for what, response in answers.items():
        assert response.status_code in (200, 404), what
        policy = _policy(response)
        # No inline script, no eval; WebAssembly may be compiled (the upload's hashing).
        assert policy["script-src"].split() == ["'self'", "'wasm-unsafe-eval'"], what
        assert not {"'unsafe-inline'", "'unsafe-eval'"} & set(policy["script-src"].split())
        assert policy["frame-ancestors"] == "'none'", what
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", what
        assert response.headers["x-content-type-options"] == "nosniff", what
        assert response.headers["referrer-policy"] == "same-origin", what
        assert response.headers["x-frame-options"] == "DENY", what
    # The API's documentation page runs Swagger UI's inline script; nothing else does.
    docs = rclient.get("/api/v1/docs")
    assert docs.status_code == 200 and "'unsafe-inline'" in _policy(docs)["script-src"]
    assert _policy(docs)["frame-ancestors"] == "'none'"


def test_pages_hold_no_inline_script(rclient: TestClient, recording: dict) -> None:
    """What the policy forbids is not in the pages: a <script> with code, an on…= attribute."""
    for path in ("/studies", f"/studies/{recording['study_id']}", f"/recordings/{recording['id']}"):
        text = rclient.get(path).text
        for tag in text.split("<script")[1:]:
            opening = tag.partition(">")[0]
            assert "src=" in opening or 'type="application/json"' in opening, (path, opening)
        assert " onclick=" not in text and " onload=" not in text and " onerror=" not in text


def test_a_form_posted_from_another_site_is_refused(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    """The attack of the issue: a page elsewhere posts the recording page's delete form with
    the researcher's cookie. Refused before anything is read; the recording stays."""
    rid = recording["id"]
    for headers in (
        {"origin": ELSEWHERE},
        {"referer": f"{ELSEWHERE}/trap.html"},  # an older browser: Referer only
        {"origin": "null"},  # a sandboxed frame
        {"origin": "http://testserver:8080"},  # another port of the same host
    ):
        refused = rclient.post(
            f"/recordings/{rid}/delete",
            headers={"accept": "text/html", **headers},
            follow_redirects=False,
        )
        assert refused.status_code == 403, headers
        text = html.unescape(refused.text)
        assert "Accès refusé" in text and "vient d'un autre site" in text
        assert refused.headers["content-security-policy"]
    for headers in ({"origin": ELSEWHERE}, {"referer": f"{ELSEWHERE}/x"}):
        api = rclient.delete(f"/api/v1/recordings/{rid}", headers=headers)
        assert api.status_code == 403 and "autre site" in api.json()["detail"]
        made = rclient.post("/api/v1/studies", json={"name": "Piège"}, headers=headers)
        assert made.status_code == 403
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 200
    assert [s["name"] for s in rclient.get("/api/v1/studies").json()] == ["Étude CEP"]
    # A login made from elsewhere (to sign the victim in as the attacker) is refused too.
    login = TestClient(rclient.app).post(
        "/api/v1/auth/login",
        json={"username": "claire", "password": factories.PASSWORD},
        headers={"origin": ELSEWHERE},
    )
    assert login.status_code == 403

    # The same requests from the site itself, or with no origin (not a browser), go through.
    same = rclient.post(
        "/api/v1/studies", json={"name": "Même site"}, headers={"origin": "http://testserver"}
    )
    assert same.status_code == 201
    forwarded = rclient.post(
        "/api/v1/studies",
        json={"name": "Derrière un proxy"},
        headers={
            "origin": "https://autoconf.lab.example",
            "x-forwarded-host": "autoconf.lab.example",
        },
    )
    assert forwarded.status_code == 201
    deleted = rclient.post(
        f"/recordings/{rid}/delete",
        headers={"accept": "text/html", "referer": f"http://testserver/recordings/{rid}"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 404


def test_api_tokens_are_not_a_browsers_credential(
    client: TestClient, researcher: factories.Account, engine: Engine
) -> None:
    """A script with a Bearer token says where it runs from as it likes: tokens are never
    sent by a browser on its own, so the origin does not matter."""
    headers = {**factories.token(engine, researcher), "origin": ELSEWHERE}
    made = client.post("/api/v1/studies", json={"name": "Par jeton"}, headers=headers)
    assert made.status_code == 201


def test_a_live_socket_opened_from_another_site_is_refused(
    rclient: TestClient, study: dict, engine: Engine
) -> None:
    _, counsellor_id = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    rec = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    live = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert live.status_code == 201, live.text
    url = f"/api/v1/live/{live.json()['id']}/ws"
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rclient.websocket_connect(url, headers={"origin": ELSEWHERE}),
    ):
        pass
    assert closed.value.code == 4403
    with rclient.websocket_connect(url, headers={"origin": "http://testserver"}) as socket:
        assert socket.receive_json()["type"]
    # The session's form token is asked of the socket too (the page puts it in the URL).
    bare = TestClient(rclient.app, cookies=rclient.cookies)
    with pytest.raises(WebSocketDisconnect) as closed, bare.websocket_connect(url):
        pass
    assert closed.value.code == 4403
    token = accounts.form_token(rclient.cookies["autoconf_session"])
    with bare.websocket_connect(f"{url}?csrf_token={token}") as socket:
        assert socket.receive_json()["type"]


def _hidden_tokens(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="csrf_token" value="([^"]*)">', page)


def test_a_cookie_request_without_the_pages_token_is_refused(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    """Same site, right cookie, but not the session's form token (a request forged in a way
    that hides its origin, or a page of an older session): refused, nothing changes."""
    rid = recording["id"]
    cookie = rclient.cookies["autoconf_session"]
    token = accounts.form_token(cookie)
    bare = TestClient(rclient.app, cookies=rclient.cookies)
    other = factories.PageClient(rclient.app)
    factories.login(other, factories.Account(0, "claire", factories.PASSWORD, "researcher"))
    stale = accounts.form_token(other.cookies["autoconf_session"])  # another session's token

    for sent in ({}, {"x-csrf-token": stale}, {"x-csrf-token": "é".encode() * 20}):
        api = bare.delete(f"/api/v1/recordings/{rid}", headers=sent)
        assert api.status_code == 403, sent
        assert "jeton de sécurité" in api.json()["detail"]
        page = bare.post(
            f"/recordings/{rid}/delete",
            headers={"accept": "text/html", **sent},
            data={"csrf_token": stale} if sent else {},
            follow_redirects=False,
        )
        assert page.status_code == 403
        assert "Rechargez la page" in html.unescape(page.text)
    # A multipart form whose token is not its first field, or a malformed body: refused.
    late = bare.post(
        f"/recordings/{rid}/transcript",
        data={"mode": "replace", "csrf_token": token},
        files={"file": ("t.vtt", b"WEBVTT\n", "text/vtt")},
        follow_redirects=False,
    )
    assert late.status_code == 403
    broken = bare.post(
        f"/recordings/{rid}/delete",
        content=b"--x\r\nnot a part",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert broken.status_code == 403
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 200

    # The token as the pages send it: a header, a form's first field, a multipart's first part.
    renamed = bare.patch(
        f"/api/v1/recordings/{rid}", json={"code": "A8 - 2"}, headers={"x-csrf-token": token}
    )
    assert renamed.status_code == 200, renamed.text
    imported = bare.post(
        f"/recordings/{rid}/transcript",
        files=[
            ("csrf_token", (None, token)),
            ("file", ("t.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")),
        ],
        follow_redirects=False,
    )
    assert imported.status_code == 303, imported.text
    deleted = bare.post(
        f"/recordings/{rid}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert rclient.get(f"/api/v1/recordings/{rid}").status_code == 404


def test_every_form_of_the_pages_carries_the_sessions_token(
    rclient: TestClient, recording: dict
) -> None:
    token = accounts.form_token(rclient.cookies["autoconf_session"])
    for path in (
        "/studies",
        f"/studies/{recording['study_id']}",
        f"/studies/{recording['study_id']}/admin",
        f"/recordings/{recording['id']}",
        "/account",
    ):
        page = rclient.get(path).text
        forms = re.findall(r"<form\b[^>]*>", page)
        posting = [form for form in forms if 'method="post"' in form]
        assert posting, path
        # Each form that posts starts with the field; scripts read the meta tag.
        assert _hidden_tokens(page) == [token] * len(posting), path
        assert f'<meta name="csrf-token" content="{token}">' in page


def test_the_token_changes_at_each_login_and_signing_in_needs_none(
    client: TestClient, researcher: factories.Account
) -> None:
    """The sign-in has no session yet (the origin check guards it); each login opens a new
    session, with its own cookie and its own token; the old token does not pass with it."""
    first = client.post("/login", data={"username": "claire", "password": factories.PASSWORD})
    assert first.status_code in (200, 303)
    old_cookie = client.cookies["autoconf_session"]
    again = client.post(
        "/api/v1/auth/login", json={"username": "claire", "password": factories.PASSWORD}
    )
    assert again.status_code == 200  # a stale cookie in the browser does not stop a login
    new_cookie = client.cookies["autoconf_session"]
    assert new_cookie != old_cookie
    # The browser's previous session ended with the login (its id does not live on).
    assert (
        TestClient(client.app, cookies={"autoconf_session": old_cookie})
        .get("/api/v1/me")
        .status_code
        == 401
    )
    assert accounts.form_token(new_cookie) != accounts.form_token(old_cookie)
    refused = client.post(
        "/api/v1/studies",
        json={"name": "x"},
        headers={"x-csrf-token": accounts.form_token(old_cookie)},
    )
    assert refused.status_code == 403
    made = client.post(
        "/api/v1/studies",
        json={"name": "x"},
        headers={"x-csrf-token": accounts.form_token(new_cookie)},
    )
    assert made.status_code == 201


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    app: FastAPI, researcher: factories.Account
) -> None:
    body = {"username": "claire", "password": factories.PASSWORD}
    plain = TestClient(app).post("/api/v1/auth/login", json=body)
    cookie = plain.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    # Over HTTPS (here the URL's scheme; behind a proxy, its X-Forwarded-Proto): Secure.
    https = TestClient(app, base_url="https://testserver").post("/api/v1/auth/login", json=body)
    assert "; secure" in https.headers["set-cookie"].lower()
    # AUTOCONF_COOKIE_SECURE: Secure even when the app only sees http.
    app.state.settings.cookie_secure = True
    forced = TestClient(app).post("/api/v1/auth/login", json=body)
    assert "; secure" in forced.headers["set-cookie"].lower()
