"""The interface language: French by default, English for whoever chose it in the header."""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.app import create_app
from autoconf.auth import accounts
from autoconf.db import session_scope
from tests import factories, support
from tests.support import settings_for

# Once (the SQLite pass): the interface's language, the same whatever the database.
pytestmark = pytest.mark.once

HTML = {"accept": "text/html"}


def language_of(engine: Engine, who: factories.Account) -> str | None:
    with session_scope(engine) as session:
        return accounts.get_user(session, who.username).language


def speak(engine: Engine, who: factories.Account, language: str) -> None:
    with session_scope(engine) as session:
        accounts.get_user(session, who.username).language = language


def switch(
    client: TestClient, language: str, referer: str | None = None, origin: str | None = None
) -> Any:
    headers = {
        **HTML,
        **({"referer": referer} if referer is not None else {}),
        **({"origin": origin} if origin is not None else {}),
    }
    return client.post(
        "/me/language", data={"language": language}, headers=headers, follow_redirects=False
    )


def test_pages_are_in_french_by_default(rclient: TestClient) -> None:
    page = rclient.get("/studies", headers=HTML)
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    for text in ("Nouvelle étude", "Se déconnecter", "Créer l'étude"):
        assert text in page.text, text
    assert '<option value="fr" lang="fr" selected>Français</option>' in page.text


def test_an_english_speaking_user_gets_english_pages(
    rclient: TestClient, engine: Engine, researcher: factories.Account, study: dict
) -> None:
    speak(engine, researcher, "en")
    page = rclient.get("/studies", headers=HTML)
    assert '<html lang="en">' in page.text
    for text in ("New study", "Sign out", "Create the study", "Self-confrontation interviews"):
        assert text in page.text, text
    for text in ("Nouvelle étude", "Se déconnecter"):
        assert text not in page.text, text
    assert '<option value="en" lang="en" selected>English</option>' in page.text
    study_page = rclient.get(f"/studies/{study['id']}", headers=HTML)
    for text in ("Recordings", "Action schemes", "Upload a recording", "Codebooks"):
        assert text in study_page.text, text


def test_the_default_language_setting_applies_before_sign_in(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", media_workers=0, default_language="en")
    settings.data_dir.mkdir(parents=True)
    support.migrated(settings)
    app = create_app(settings)
    try:
        with factories.PageClient(app) as client:
            page = client.get("/login", headers=HTML)
        assert '<html lang="en">' in page.text
        assert "Username" in page.text and "Password" in page.text
    finally:
        app.state.engine.dispose()


def test_the_header_switch_keeps_the_choice_and_returns_to_the_page(
    rclient: TestClient, engine: Engine, researcher: factories.Account, study: dict
) -> None:
    page = f"/studies/{study['id']}"
    response = switch(rclient, "en", f"http://testserver{page}?tab=2")
    assert response.status_code == 303
    assert response.headers["location"] == f"{page}?tab=2"
    assert language_of(engine, researcher) == "en"
    english = rclient.get(page, headers=HTML)
    assert '<html lang="en">' in english.text and "Recordings" in english.text

    back = switch(rclient, "fr", page)  # a bare path (browsers send full URLs) is as good
    assert back.headers["location"] == page
    assert language_of(engine, researcher) == "fr"
    assert "Enregistrements" in rclient.get(page, headers=HTML).text


@pytest.mark.parametrize(
    "referer",
    [
        None,
        "",
        "https://elsewhere.example/studies",
        "http://testserver//elsewhere.example/studies",
        "javascript:alert(1)",
        "//elsewhere.example/studies",
    ],
)
def test_the_switch_never_sends_the_user_to_another_site(
    rclient: TestClient, referer: str | None
) -> None:
    # A browser on this site names it as the Origin; whatever the Referer says, the switch
    # goes back to a page of this site only.
    response = switch(rclient, "en", referer, origin="http://testserver")
    assert response.status_code == 303
    assert response.headers["location"] == "/studies"
    # Without an Origin, a Referer of another site means another site's form: refused.
    alone = switch(rclient, "fr", referer)
    foreign = referer in ("https://elsewhere.example/studies", "javascript:alert(1)") or (
        referer or ""
    ).startswith("//")
    assert alone.status_code == (403 if foreign else 303), referer


def test_an_unknown_language_is_refused_in_both_languages(
    rclient: TestClient, engine: Engine, researcher: factories.Account
) -> None:
    for value in ("de", "", "EN", "fr_FR"):
        page = switch(rclient, value, "http://testserver/studies")
        assert page.status_code == 422, value
        assert "Langue inconnue" in page.text and "Unknown language" in page.text
    api = rclient.post("/me/language", data={"language": "de"})
    assert api.status_code == 422 and "Unknown language" in api.json()["detail"]
    assert language_of(engine, researcher) is None


def test_the_switch_needs_a_signed_in_user(client: TestClient) -> None:
    page = switch(client, "en")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert client.post("/me/language", data={"language": "en"}).status_code == 401


def test_every_page_loads_the_switch_script(rclient: TestClient, study: dict) -> None:
    study_page = rclient.get(f"/studies/{study['id']}", headers=HTML).text
    # Pages with scripts of their own (the study page's upload) keep the switch's.
    assert '<script type="module" src="/static/js/upload.js"></script>' in study_page
    assert '<script type="module" src="/static/js/language.js"></script>' in study_page
    assert 'action="/me/language"' in study_page
    script = rclient.get("/static/js/language.js")
    assert script.status_code == 200 and "requestSubmit" in script.text
