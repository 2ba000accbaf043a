import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.auth import accounts
from autoconf.db import session_scope
from autoconf.errors import Invalid
from tests import factories


def test_health_is_open(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_everything_else_needs_an_account(client: TestClient) -> None:
    for path in ("/api/v1/me", "/api/v1/studies", "/api/v1/studies/1", "/api/v1/recordings/1"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["detail"].startswith("Connectez-vous")
        assert response.headers["www-authenticate"] == "Bearer"


def test_login_sets_a_cookie_and_logout_ends_it(
    client: TestClient, researcher: factories.Account
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"username": "claire", "password": researcher.password}
    )
    assert response.status_code == 200
    assert response.json()["username"] == "claire"
    # What the account shows of its password is whether it must be changed, never the password
    # or its hash.
    shown = response.json()
    assert {key for key in shown if "password" in key or "hash" in key} == {"must_change_password"}
    assert researcher.password not in response.text and "$" not in response.text
    cookie = client.cookies.get("autoconf_session")
    assert cookie and cookie.startswith("acs_")
    assert client.get("/api/v1/me").json()["role"] == "researcher"

    assert client.post("/api/v1/auth/logout").status_code == 204
    # The old cookie no longer opens anything, even if a client keeps sending it.
    client.cookies.set("autoconf_session", cookie)
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: TestClient, researcher: factories.Account
) -> None:
    wrong = client.post("/api/v1/auth/login", json={"username": "claire", "password": "nope"})
    unknown = client.post("/api/v1/auth/login", json={"username": "zoe", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert client.cookies.get("autoconf_session") is None


def test_malformed_login_is_a_422_that_does_not_echo_the_password(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"password": "s3cret-value"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "username"]
    assert "s3cret-value" not in response.text
    broken = client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


def test_api_token_authenticates_scripts(
    client: TestClient, engine: Engine, researcher: factories.Account
) -> None:
    headers = factories.token(engine, researcher)
    assert client.get("/api/v1/me", headers=headers).json()["username"] == "claire"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer act_forged"})
    assert bad.status_code == 401
    assert "révoqué" in bad.json()["detail"]


def test_personal_tokens_can_be_created_listed_and_revoked(rclient: TestClient) -> None:
    created = rclient.post("/api/v1/me/tokens", json={"name": "script R"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("act_")
    headers = {"Authorization": f"Bearer {token}"}
    assert rclient.get("/api/v1/me", headers=headers).status_code == 200
    listed = rclient.get("/api/v1/me/tokens").json()
    assert [t["name"] for t in listed] == ["script R"]
    assert "token" not in listed[0]
    assert rclient.delete(f"/api/v1/me/tokens/{listed[0]['id']}").status_code == 204
    assert rclient.get("/api/v1/me", headers=headers).status_code == 401
    assert rclient.delete(f"/api/v1/me/tokens/{listed[0]['id']}").status_code == 404


def test_pages_send_strangers_to_the_login_page(client: TestClient) -> None:
    response = client.get(
        "/studies/3?tab=x", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/studies/3%3Ftab%3Dx"


def test_login_form_logs_in_and_only_redirects_locally(
    client: TestClient, researcher: factories.Account
) -> None:
    page = client.get("/login")
    assert "Nom d'utilisateur" in page.text
    bad = client.post("/login", data={"username": "claire", "password": "x", "next": "/studies"})
    assert bad.status_code == 401 and "incorrect" in bad.text
    for target, expected in (
        ("/studies/1", "/studies/1"),
        ("https://evil.example", "/studies"),
        ("//evil.example", "/studies"),
    ):
        response = client.post(
            "/login",
            data={"username": "claire", "password": researcher.password, "next": target},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == expected


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Cette page n'existe pas."}


def test_common_passwords_and_the_username_are_refused(
    rclient: TestClient, researcher: factories.Account, engine: Engine
) -> None:
    """Among the 30,000 commonest leaked passwords (French ones too), whatever the case, or
    the username itself: refused with the reason, and the old password still works."""
    for new, reason in (
        ("motdepasse", "parmi les plus courants"),
        ("Azerty123", "parmi les plus courants"),
        ("password1", "parmi les plus courants"),
        ("court", "au moins 8 caractères"),
    ):
        refused = rclient.post(
            "/api/v1/me/password",
            json={"current_password": researcher.password, "new_password": new},
        )
        assert refused.status_code == 422 and reason in refused.json()["detail"], new
    with session_scope(engine) as session, pytest.raises(Invalid, match="nom d'utilisateur"):
        accounts.create_user(session, "marguerite", "Marguerite", "researcher")
    with session_scope(engine) as session, pytest.raises(Invalid, match="plus courants"):
        accounts.create_user(session, "louise", "iloveyou", "researcher")
    accepted = rclient.post(
        "/api/v1/me/password",
        json={"current_password": researcher.password, "new_password": "trois mots au hasard"},
    )
    assert accepted.status_code == 204, accepted.text
