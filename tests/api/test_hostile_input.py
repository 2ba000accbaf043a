"""Hostile input, case by case: what the fuzz (`test_fuzz.py`) finds by chance, asked on
purpose. Every refusal is a 4xx in JSON with a French message that names the field and never
repeats the value sent; nothing is half done."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.models import AuditEvent, Study
from tests import factories

MiB = 1024 * 1024


@pytest.fixture
def bearer(engine: Engine, researcher: factories.Account) -> dict[str, str]:
    """The researcher's API token (not the cookie: no CSRF token to send)."""
    return factories.token(engine, researcher)


@pytest.fixture
def study_id(client: TestClient, bearer: dict[str, str]) -> int:
    created = client.post("/api/v1/studies", json={"name": "Étude"}, headers=bearer)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def studies(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [study.name for study in session.exec(select(Study))]


def exports(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == "export")
        return list(session.exec(query.order_by(col(AuditEvent.id))).all())


def issues(response: Any) -> dict[str, str]:
    """A 422's messages by field (`body.name`)."""
    assert response.status_code == 422, response.text
    return {".".join(map(str, i["loc"])): i["msg"] for i in response.json()["detail"]}


def post_json(client: TestClient, url: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})


def test_malformed_json_is_a_french_422(client: TestClient, bearer: dict[str, str]) -> None:
    response = post_json(client, "/api/v1/studies", b'{"name": "Etude",', bearer)
    assert list(issues(response).values()) == ["le corps de la requête n'est pas du JSON valide"]


def test_a_body_that_is_not_utf8_is_a_french_400(
    client: TestClient, bearer: dict[str, str], engine: Engine
) -> None:
    response = post_json(client, "/api/v1/studies", b'{"name": "\xe9tude"}', bearer)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Le corps de la requête est illisible (JSON ou formulaire mal formé, ou "
        "texte qui n'est pas de l'UTF-8)."
    }
    assert studies(engine) == []


def test_wrong_types_name_the_field_in_french(
    client: TestClient, bearer: dict[str, str], study_id: int
) -> None:
    assert issues(client.post("/api/v1/studies", json={"name": 12}, headers=bearer)) == {
        "body.name": "un texte est attendu"
    }
    assert issues(client.post("/api/v1/studies", json=["Étude"], headers=bearer)) == {
        "body": "un objet JSON est attendu"
    }
    url = f"/api/v1/studies/{study_id}"
    assert issues(client.patch(url, json={"co_validation": "yes"}, headers=bearer)) == {
        "body.co_validation": "vrai ou faux (true ou false) est attendu"
    }
    assert issues(client.patch(url, json={"co_validation": None}, headers=bearer)) == {
        "body": "ne peut pas être null : co_validation (omettez-le plutôt)"
    }
    assert issues(client.get("/api/v1/studies/99999999999999999999", headers=bearer)) == {
        "path.study_id": "doit être inférieur ou égal à 2147483647"
    }
    assert issues(client.get("/api/v1/studies/abc", headers=bearer)) == {
        "path.study_id": "un nombre entier est attendu"
    }


def test_unknown_fields_are_refused_by_name(
    client: TestClient, bearer: dict[str, str], engine: Engine
) -> None:
    body = {"name": "Étude", "owner_id": 1, "is_admin": True}
    assert issues(client.post("/api/v1/studies", json=body, headers=bearer)) == {
        "body.owner_id": "ce champ n'est pas prévu",
        "body.is_admin": "ce champ n'est pas prévu",
    }
    assert studies(engine) == []


def test_a_2_mb_string_is_refused_before_the_body_is_read(
    client: TestClient, bearer: dict[str, str], engine: Engine
) -> None:
    sent: list[int] = []

    def body() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(32):  # 2 MiB in 64 KiB pieces, counted as the server reads them
            sent.append(1)
            yield b"x" * 64 * 1024
        yield b'"}'

    headers = {**bearer, "Content-Type": "application/json", "Content-Length": str(2 * MiB + 12)}
    response = client.post("/api/v1/studies", content=body(), headers=headers)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("La requête dépasse la taille maximale")
    assert len(sent) <= 1  # refused on its Content-Length: nothing was read into memory
    assert studies(engine) == []
    # A body where none is expected is refused alike, in French and in JSON.
    get = client.request("GET", "/api/v1/studies", content=b"x" * (MiB + 1), headers=bearer)
    assert get.status_code == 413 and "taille maximale" in get.json()["detail"]


def test_a_100_kb_string_in_a_small_body_names_its_field(
    client: TestClient, bearer: dict[str, str], study_id: int, engine: Engine
) -> None:
    long = "é" * 100_000
    response = client.post("/api/v1/studies", json={"name": long}, headers=bearer)
    assert issues(response) == {"body.name": "au plus 200 caractères"}
    assert long[:50] not in response.text  # the value is never sent back
    code = client.post(
        f"/api/v1/studies/{study_id}/structures", json={"code": long}, headers=bearer
    )
    assert issues(code) == {"body.code": "au plus 64 caractères"}
    assert studies(engine) == ["Étude"]


def test_live_comments_refuse_unknown_fields_and_nul(
    client: TestClient, bearer: dict[str, str], study_id: int
) -> None:
    a8 = client.post(f"/api/v1/studies/{study_id}/counsellors", json={"code": "A8"}, headers=bearer)
    recording = factories.upload(
        client, study_id, "A8 - 1", headers=bearer, counsellor_id=a8.json()["id"]
    ).json()
    live = client.post(f"/api/v1/recordings/{recording['id']}/live", headers=bearer).json()
    stop = client.post(f"/api/v1/live/{live['id']}/stops", json={}, headers=bearer).json()
    url = f"/api/v1/live/stops/{stop['id']}/comments"
    extra = {"speaker": "researcher", "text": "Note", "author_id": 2}
    assert issues(client.post(url, json=extra, headers=bearer)) == {
        "body.author_id": "ce champ n'est pas prévu"
    }
    nul = {"speaker": "researcher", "text": "avant\x00après"}  # PostgreSQL cannot store it
    assert issues(client.post(url, json=nul, headers=bearer)) == {
        "body": "le caractère NUL (\\u0000) n'est pas accepté"
    }
    speaker = issues(client.post(url, json={"speaker": "chef", "text": "x"}, headers=bearer))
    assert speaker == {"body.speaker": "valeurs possibles : 'researcher' ou 'counsellor'"}
    link = client.patch(f"/api/v1/live/stops/{stop['id']}", json={"prepared": 1}, headers=bearer)
    assert "body.prepared" in issues(link)


def test_tus_concatenation_is_refused(
    client: TestClient, bearer: dict[str, str], study_id: int
) -> None:
    """A final upload is the sum of its partials: it would pass AUTOCONF_MAX_UPLOAD_BYTES."""
    for concat in ("partial", "final;/api/v1/uploads/a /api/v1/uploads/b"):
        response = client.post(
            "/api/v1/uploads/",
            headers={**bearer, "Tus-Resumable": "1.0.0", "Upload-Concat": concat},
        )
        assert response.status_code == 422
        assert "concaténation" in response.json()["detail"]


def test_an_export_refused_or_invalid_leaves_no_audit_entry(
    client: TestClient, bearer: dict[str, str], study_id: int, engine: Engine
) -> None:
    synthesis = f"/api/v1/studies/{study_id}/synthesis"
    assert client.get(f"{synthesis}?format=csv&phase=abc", headers=bearer).status_code == 422
    assert client.get(f"{synthesis}?format=csv&recordings=x", headers=bearer).status_code == 422
    assert client.get("/api/v1/studies/null/counts?format=csv", headers=bearer).status_code == 422
    assert exports(engine) == []
    chart = f"/api/v1/studies/{study_id}/chronogram?download=yes"  # a file, as download=true
    response = client.get(chart, headers=bearer)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert [entry.detail["what"] for entry in exports(engine)] == ["chronogram"]


def test_english_validation_messages_are_said_in_french(client: TestClient, engine: Engine) -> None:
    admin = factories.token(engine, factories.account(engine, "root", "admin"))
    since = client.get("/api/v1/audit?since=14/03/2025", headers=admin)
    assert issues(since)["query.since"].startswith("une date (AAAA-MM-JJ) ou une date et heure")
    tus = client.post("/api/v1/uploads/", headers={**admin, "Tus-Resumable": "0.2.2"})
    assert tus.status_code == 412 and "Tus-Resumable: 1.0.0" in tus.json()["detail"]


def test_the_document_offers_no_null_where_null_is_refused(client: TestClient) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    study = schemas["StudyUpdate"]["properties"]
    assert study["co_validation"]["type"] == "boolean" and "anyOf" not in study["co_validation"]
    assert "anyOf" in study["code_pattern"]  # null there means no pattern: accepted
    errors = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/studies"]["post"]
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(errors["responses"])


def test_a_multipart_body_that_cannot_be_read_is_said_in_french(
    client: TestClient, bearer: dict[str, str]
) -> None:
    """Found by the fuzz: Starlette's parser's own words were answered as they were."""
    boundary = "c51fc6442bdd14b6eff8c71a609bd710"
    body = f"--{boundary}\r\n[{{}}, 324, {{'+': [None]}}]--{boundary}--\r\n".encode()
    response = client.post(
        "/api/v1/recordings/1/transcript",
        content=body,
        headers={**bearer, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Formulaire multipart illisible (parties mal formées)."}


def test_a_text_field_where_a_file_is_expected_is_refused_in_french(
    rclient: TestClient, recording: dict[str, Any]
) -> None:
    """A form whose `file` is a plain field (no file name), as a fuzzer or a hand-made
    request sends it: pydantic's English message is said in French."""
    answer = rclient.post(
        f"/api/v1/recordings/{recording['id']}/import/eaf", data={"file": "pas un fichier"}
    )
    assert answer.status_code == 422, answer.text
    [issue] = answer.json()["detail"]
    assert issue["loc"] == ["body", "file"]
    assert issue["msg"].startswith("un fichier est attendu")
