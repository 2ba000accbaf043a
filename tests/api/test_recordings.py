import hashlib
import html
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.settings import Settings
from tests import factories


def test_upload_keeps_the_original_byte_for_byte(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    content = factories.DEMO_MEDIA.read_bytes()
    response = factories.upload(rclient, study["id"], "A8 - 1", content, filename="séance 1.MP4")
    assert response.status_code == 201, response.text
    recording = response.json()
    assert recording["code"] == "A8 - 1"
    assert recording["status"] == "queued"  # processing comes after, in a media job
    assert recording["original_filename"] == "séance 1.MP4"
    assert recording["original_size"] == len(content)
    assert recording["original_sha256"] == hashlib.sha256(content).hexdigest()
    stored = [p for p in (settings.media_dir / "recordings").rglob("*") if p.is_file()]
    assert [p.name for p in stored] == ["original.mp4"]
    assert stored[0].read_bytes() == content
    assert rclient.get(f"/api/v1/recordings/{recording['id']}").json() == recording
    listed = rclient.get(f"/api/v1/studies/{study['id']}/recordings").json()
    assert [r["id"] for r in listed] == [recording["id"]]


def test_upload_errors(rclient: TestClient, study: dict, settings: Settings) -> None:
    sid = study["id"]
    not_media = factories.upload(rclient, sid, "A1", b"%PDF-1.4", filename="rapport.pdf")
    assert not_media.status_code == 415 and "rapport.pdf" in not_media.json()["detail"]
    assert factories.upload(rclient, sid, "A1").status_code == 201
    again = factories.upload(rclient, sid, "A1")
    assert again.status_code == 409 and "A1" in again.json()["detail"]
    no_code = rclient.post(
        f"/api/v1/studies/{sid}/recordings", files={"file": ("a.mp4", b"x", "video/mp4")}
    )
    assert no_code.status_code == 422
    no_file = rclient.post(f"/api/v1/studies/{sid}/recordings", data={"code": "A2"})
    assert no_file.status_code == 422
    bad_counsellor = factories.upload(rclient, sid, "A2", counsellor_id=424242)
    assert bad_counsellor.status_code == 422
    # Nothing is left behind by the refused uploads.
    folders = sorted(p.name for p in (settings.media_dir / "recordings").iterdir())
    assert len(folders) == 1


def test_upload_over_the_limit_is_413_and_leaves_nothing(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    big = b"\0" * (settings.max_upload_bytes + 1)
    response = factories.upload(rclient, study["id"], "BIG", big, filename="big.wav")
    assert response.status_code == 413
    assert "taille maximale" in response.json()["detail"]
    assert rclient.get(f"/api/v1/studies/{study['id']}/recordings").json() == []
    folder = settings.media_dir / "recordings"
    assert not folder.exists() or not any(Path(folder).rglob("*.*"))


def test_upload_just_over_the_limit_without_content_length_check(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    # Within the multipart margin: refused while streaming to disk, not by the header check.
    slightly = b"\1" * (settings.max_upload_bytes + 10)
    response = factories.upload(rclient, study["id"], "BIG", slightly, filename="big.wav")
    assert response.status_code == 413


def test_counsellors_see_only_their_own_recordings(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    sid = study["id"]
    me, mine = factories.counsellor_member(engine, rclient, sid, "a8", "A8")
    other = rclient.post(f"/api/v1/studies/{sid}/counsellors", json={"code": "A4"})
    r_mine = factories.upload(rclient, sid, "A8 - 1", counsellor_id=mine).json()
    r_other = factories.upload(rclient, sid, "A4", counsellor_id=other.json()["id"]).json()
    headers = factories.token(engine, me)
    listed = client.get(f"/api/v1/studies/{sid}/recordings", headers=headers).json()
    assert [r["code"] for r in listed] == ["A8 - 1"]
    assert client.get(f"/api/v1/recordings/{r_mine['id']}", headers=headers).status_code == 200
    other_one = client.get(f"/api/v1/recordings/{r_other['id']}", headers=headers)
    unknown = client.get("/api/v1/recordings/999", headers=headers)
    assert other_one.status_code == 404
    assert other_one.json()["detail"] == unknown.json()["detail"].replace("999", str(r_other["id"]))
    counsellors = client.get(f"/api/v1/studies/{sid}/counsellors", headers=headers).json()
    assert [c["code"] for c in counsellors] == ["A8"]
    upload = factories.upload(client, sid, "A8 - 2", headers=headers)
    assert upload.status_code == 403
    assert client.get("/api/v1/recordings/999", headers=headers).status_code == 404


def test_uploaded_file_names_are_text_never_paths(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    """A name is stored and shown as typed; the file goes where the server says, whatever the
    name (a path up, a NUL byte, 300 characters, Arabic)."""
    names = {
        "../../evade.mp4": "../../evade.mp4",
        "/etc/passwd.mp4": "/etc/passwd.mp4",
        "é" * 296 + ".mp4": "é" * 255,
        "جلسة الإرشاد.mp4": "جلسة الإرشاد.mp4",
    }
    for index, (name, shown) in enumerate(names.items()):
        made = factories.upload(rclient, study["id"], f"F{index}", filename=name)
        assert made.status_code == 201, (name[:20], made.text)
        rid = made.json()["id"]
        assert rclient.get(f"/api/v1/recordings/{rid}").json()["original_filename"] == shown
        page = rclient.get(f"/recordings/{rid}", headers={"accept": "text/html"})
        assert html.escape(shown, quote=False) in page.text
    # A NUL byte as a client may send it raw (httpx would percent-encode it).
    boundary = "xYz"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="code"\r\n\r\nNUL\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            'name="file"; filename="a\x00b.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + factories.DEMO_MEDIA.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    raw = rclient.post(
        f"/api/v1/studies/{study['id']}/recordings",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert raw.status_code == 201, raw.text
    assert raw.json()["original_filename"] == "ab.mp4"
    inside = {p.resolve() for p in settings.media_dir.rglob("*") if p.is_file()}
    assert len([p for p in inside if p.name.startswith("original")]) == len(names) + 1
    outside = [p for p in settings.data_dir.parent.rglob("evade*")]
    assert outside == [] and not (settings.data_dir.parent / "passwd.mp4").exists()
