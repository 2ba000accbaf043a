"""Resumable uploads (tus 1.0): create, send in pieces, resume at the server's offset,
finish into a recording whose sha256 is checked; refusals are French JSON errors."""

import base64
import hashlib
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.media.storage import remove_stale_uploads
from autoconf.settings import Settings
from tests import factories

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: object) -> str:
    return ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items()
    )


def create(client: TestClient, size: int, **values: object) -> object:
    values = {"filename": "séance A8.mp4", "filetype": "video/mp4", **values}
    return client.post(
        "/api/v1/uploads/",
        headers={**TUS, "Upload-Length": str(size), "Upload-Metadata": metadata(**values)},
    )


def patch(client: TestClient, url: str, offset: int, chunk: bytes) -> object:
    return client.patch(
        url,
        content=chunk,
        headers={
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        },
    )


def test_upload_in_pieces_resumes_and_becomes_a_recording(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    content = factories.DEMO_MEDIA.read_bytes()
    created = create(rclient, len(content), study_id=study["id"], code="A8 - 1")
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    first = patch(rclient, url, 0, content[:500_000])
    assert first.status_code == 204 and first.headers["upload-offset"] == "500000"
    assert "x-recording-id" not in first.headers
    # The connection dropped; the client asks where to resume.
    head = rclient.head(url, headers=TUS)
    assert head.status_code == 200 and head.headers["upload-offset"] == "500000"
    stale = patch(rclient, url, 0, content[:1000])
    assert stale.status_code == 409  # not at the server's offset: nothing written
    assert "reprend à la bonne position" in stale.json()["detail"]
    last = patch(rclient, url, 500_000, content[500_000:])
    assert last.status_code == 204, last.text
    recording = rclient.get(f"/api/v1/recordings/{last.headers['x-recording-id']}").json()
    assert recording["code"] == "A8 - 1" and recording["status"] == "queued"
    assert recording["original_filename"] == "séance A8.mp4"
    assert recording["original_sha256"] == hashlib.sha256(content).hexdigest()
    originals = list((settings.media_dir / "recordings").glob("*/original.mp4"))
    assert [p.read_bytes() == content for p in originals] == [True]
    leftovers = [p for p in (settings.media_dir / "uploads").rglob("*") if p.is_file()]
    data = [
        p for p in leftovers if ".locks" not in p.parts and p.suffix not in (".info", ".receiving")
    ]
    assert [p.stat().st_size for p in data] == [0]  # moved, not copied: a placeholder is left
    # A client whose last answer was lost asks again: the upload is complete, nothing to resend.
    again = rclient.head(url, headers=TUS)
    assert again.status_code == 200 and again.headers["upload-offset"] == str(len(content))


def test_the_announced_checksum_is_checked(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    content = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    wrong = hashlib.sha256(b"something else").hexdigest()
    created = create(rclient, len(content), study_id=study["id"], code="A1", sha256=wrong)
    response = patch(rclient, created.headers["location"], 0, content)
    assert response.status_code == 422
    assert "SHA-256" in response.json()["detail"]
    assert rclient.get(f"/api/v1/studies/{study['id']}/recordings").json() == []
    assert list((settings.media_dir / "recordings").glob("*/*")) == []
    right = hashlib.sha256(content).hexdigest()
    created = create(rclient, len(content), study_id=study["id"], code="A1", sha256=right)
    assert patch(rclient, created.headers["location"], 0, content).status_code == 204


def test_refusals_before_any_byte(
    rclient: TestClient, client: TestClient, engine: Engine, study: dict, settings: Settings
) -> None:
    sid = study["id"]
    too_big = create(rclient, settings.max_upload_bytes + 1, study_id=sid, code="A1")
    assert too_big.status_code == 413 and "taille maximale" in too_big.json()["detail"]
    no_code = create(rclient, 10, study_id=sid)
    assert no_code.status_code == 422
    assert "code de la situation" in no_code.json()["detail"]
    pdf = create(rclient, 10, study_id=sid, code="A1", filename="rapport.pdf")
    assert pdf.status_code == 415 and "rapport.pdf" in pdf.json()["detail"]
    assert factories.upload(rclient, sid, "A1").status_code == 201
    taken = create(rclient, 10, study_id=sid, code="A1")
    assert taken.status_code == 409 and "A1" in taken.json()["detail"]
    elsewhere = create(rclient, 10, study_id=sid + 1, code="A2")
    assert elsewhere.status_code == 404

    mine = create(rclient, 10, study_id=sid, code="A2").headers["location"]
    outsider = factories.account(engine, "zoe", "researcher")
    rclient.cookies.clear()
    anonymous = patch(rclient, mine, 0, b"0123456789")
    assert anonymous.status_code == 401
    assert create(rclient, 10, study_id=sid, code="A3").status_code == 401
    factories.login(rclient, outsider)
    assert rclient.head(mine, headers=TUS).status_code == 404  # not their upload
    assert patch(rclient, mine, 0, b"0123456789").status_code == 404
    assert create(rclient, 10, study_id=sid, code="A3").status_code == 404


def test_counsellors_cannot_upload(
    rclient: TestClient, engine: Engine, study: dict, tmp_path: Path
) -> None:
    counsellor, _ = factories.counsellor_member(engine, rclient, study["id"], "bea", "A9")
    factories.login(rclient, counsellor)
    refused = create(rclient, 10, study_id=study["id"], code="A9")
    assert refused.status_code == 403


def test_abandoned_uploads_are_swept(rclient: TestClient, study: dict, settings: Settings) -> None:
    url = create(rclient, 100, study_id=study["id"], code="A1").headers["location"]
    assert patch(rclient, url, 0, b"x" * 40).status_code == 204
    assert remove_stale_uploads(settings.media_dir) == 0  # touched just now: kept
    assert rclient.head(url, headers=TUS).headers["upload-offset"] == "40"
    assert remove_stale_uploads(settings.media_dir, keep_s=-1) == 1
    assert rclient.head(url, headers=TUS).status_code == 404


def test_bytes_in_the_creation_request_are_refused(rclient: TestClient, study: dict) -> None:
    values = {"study_id": study["id"], "code": "A1", "filename": "a.mp4", "filetype": "video/mp4"}
    response = rclient.post(
        "/api/v1/uploads/",
        content=b"x" * 1000,
        headers={**TUS, "Upload-Length": "1000", "Upload-Metadata": metadata(**values)},
    )
    assert response.status_code == 400 and "PATCH" in response.json()["detail"]


def test_uploads_with_unknown_credentials_are_refused_unread(
    client: TestClient, study: dict
) -> None:
    client.cookies.clear()
    for headers in ({"Cookie": "autoconf_session=forged"}, {"Authorization": "Bearer forged"}):
        multipart = factories.upload(client, study["id"], "A1", headers=headers)
        assert multipart.status_code == 401
        assert "Connectez-vous" in multipart.json()["detail"]
        tus = client.patch(
            "/api/v1/uploads/0123456789abcdef0123456789abcdef",
            content=b"x" * 1000,
            headers={**TUS, **headers, "Upload-Offset": "0"},
        )
        assert tus.status_code == 401
