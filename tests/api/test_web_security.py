"""Security headers on every answer, and requests made from another site refused (CSRF)."""

import html

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.websockets import WebSocketDisconnect

from tests import factories

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
