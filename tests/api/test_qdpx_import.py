"""REFI-QDA projects in: another tool's project (tests/data/qdpx/README.md), autoconf's own
(export → import into an empty study gives the same annotations), hostile archives."""

import io
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from autoconf.errors import Invalid
from autoconf.interop import qdpx_import, safezip
from autoconf.media.store import store_for
from autoconf.models import Annotation, Code, Codebook, Recording, Study, User
from autoconf.settings import Settings
from tests import factories

DATA = Path(__file__).parents[1] / "data/qdpx"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _send(client: TestClient, study_id: int, content: bytes, name: str = "projet.qdpx") -> Any:
    return client.post(
        f"/api/v1/studies/{study_id}/import/qdpx",
        files={"file": (name, content, "application/zip")},
    )


def _annotations(client: TestClient, recording_id: int) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get(
        f"/api/v1/recordings/{recording_id}/annotations"
    ).json()
    return listed


def test_another_tools_project_is_imported_and_what_is_left_out_is_listed(
    rclient: TestClient, recording: dict[str, Any], engine: Engine, researcher: factories.Account
) -> None:
    sid = recording["study_id"]
    ines = factories.account(engine, "ines", "researcher")
    added = rclient.post(
        f"/api/v1/studies/{sid}/members", json={"username": "ines", "role": "researcher"}
    )
    assert added.status_code == 201, added.text
    counsellor = rclient.post(f"/api/v1/studies/{sid}/counsellors", json={"code": "A8"}).json()
    factories.consent_all(rclient, recording["id"])
    content = _zip({"project.qde": (DATA / "foreign-project.qde").read_bytes()})
    answer = _send(rclient, sid, content)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["codebooks_created"] == 1
    assert result["codes_created"] == 4
    assert result["annotations"] == 3
    assert result["cues"] == 2
    assert result["sources"] == [
        {"name": "A8 - 1", "recording_id": recording["id"], "created": False}
    ]
    left = {(item["kind"], item["name"], item["reason"]) for item in result["left_out"]}
    assert left == {
        ("source", "Journal de terrain", "other_source"),
        ("source", "Schéma du bureau", "other_source"),
        ("coding", "A8 - 1", "whole_source_coding"),
        ("coding", "A8 - 1 · question", "unknown_code"),
        ("case", "Z9", "no_counsellor"),
        ("sets", "1", "not_supported"),
        ("variables", "1", "not_supported"),
    }

    # The codebook: named after the project, nested, with the colours.
    with Session(engine) as session:
        book = session.exec(select(Codebook).where(Codebook.name == "Thèse CEP")).one()
        codes = {c.label: c for c in session.exec(select(Code).where(Code.codebook_id == book.id))}
    assert set(codes) == {"Accompagnement", "Écoute", "Questionnement", "Émotions"}
    assert codes["Écoute"].parent_id == codes["Accompagnement"].id
    assert (codes["Écoute"].color, codes["Questionnement"].color) == ("#E69F00", "#55BB99")
    assert codes["Accompagnement"].description == "Ce que fait le conseiller"

    listed = _annotations(rclient, recording["id"])
    coded = sorted(
        (a["start_ms"], a["end_ms"], a["code_ids"], a["note"], a["author_id"])
        for a in listed
        if a["layer"] != "transcript"
    )
    # ines is a member: her coding is hers; Marc is not (nor is the third coder named):
    # theirs are the importer's.
    assert coded == [
        (1_000, 4_000, [codes["Écoute"].id], "reprend les mots de la personne", ines.id),
        (5_000, 9_000, [codes["Questionnement"].id], "", researcher.id),
        (6_500, None, [codes["Émotions"].id], "", researcher.id),  # begin = end: a moment
    ]
    cues = [
        (a["start_ms"], a["end_ms"], a["speaker"], a["note"])
        for a in listed
        if a["layer"] == "transcript"
    ]
    assert cues == [
        (1_000, 4_000, "Conseillère", "Bonjour, on commence ?"),
        (4_200, 4_800, "Bénéficiaire", "Oui."),
    ]
    # The case A8 is the study's counsellor A8: the recording, which had none, is now theirs.
    assert (
        rclient.get(f"/api/v1/recordings/{recording['id']}").json()["counsellor_id"]
        == counsellor["id"]
    )

    # Imported again: the codes are found, not duplicated; the transcript is kept.
    again = _send(rclient, sid, content).json()
    assert again["codes_created"] == 0 and again["codebooks_created"] == 0
    assert ("transcript", "A8 - 1", "transcript_kept") in {
        (i["kind"], i["name"], i["reason"]) for i in again["left_out"]
    }


def test_a_study_exported_then_imported_into_an_empty_study_gives_the_same_annotations(
    rclient: TestClient, engine: Engine, settings: Settings
) -> None:
    study = rclient.post("/api/v1/studies", json={"name": "Étude source"}).json()
    recording = factories.processed(rclient, engine, settings, study["id"], code="A8 - 1")
    schemes = factories.codes_by_path(rclient, study["id"], "schemes")
    phases = factories.codes_by_path(rclient, study["id"], "phases")
    url = factories.annotations_url(recording)
    for body in (
        {
            "start_ms": 1_000,
            "end_ms": 4_000,
            "code_ids": [schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]],
            "note": "il reformule\npuis vérifie",
            "fields": {"but": "Faire préciser", "regret": "aller plus vite"},
        },
        {"start_ms": 2_000, "origin": "prepared", "note": "ici"},
        {
            "start_ms": 7_123,
            "end_ms": 9_457,
            "code_ids": [schemes["Questionner / vérifier"]],
            "layer": "consensus",
        },
        {"start_ms": 0, "end_ms": 60_000, "code_ids": [phases["Diagnostic"]], "layer": "phases"},
    ):
        made = rclient.post(url, json=body)
        assert made.status_code == 201, made.text
    cues = rclient.post(
        f"/api/v1/recordings/{recording['id']}/transcript",
        files={"file": ("t.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert cues.status_code == 200, cues.text
    exported = rclient.get(f"/api/v1/studies/{study['id']}/export.qdpx?media=included")
    assert exported.status_code == 200, exported.text

    empty = rclient.post("/api/v1/studies", json={"name": "Étude vide"}).json()
    answer = _send(rclient, empty["id"], exported.content)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["recordings_created"] == 1 and result["codes_created"] == 0
    # Variables (the counsellors' structures, the recordings' categories) are not taken: said.
    assert [(i["kind"], i["reason"]) for i in result["left_out"]] == [
        ("variables", "not_supported")
    ]
    [created] = result["sources"]
    with Session(engine) as session:
        new = session.get(Recording, created["recording_id"])
        old = session.get(Recording, recording["id"])
        assert new is not None and old is not None and new.study_id == empty["id"]
        assert new.code == "A8 - 1" and new.status == "queued"  # processed like any upload
        # The file is the exported one (the browser-ready copy), byte for byte.
        assert (settings.media_dir / new.storage_key).read_bytes() == (
            settings.media_dir / old.proxy_key
        ).read_bytes()
    factories.consent_all(rclient, created["recording_id"])

    def paths(study_id: int) -> dict[int, str]:
        books = rclient.get(f"/api/v1/studies/{study_id}/codebooks").json()
        return {c["id"]: f"{b['kind']}:{c['path']}" for b in books for c in b["codes"]}

    def rows(recording_id: int, study_id: int) -> list[tuple[Any, ...]]:
        named = paths(study_id)
        return sorted(
            (
                a["layer"],
                a["start_ms"],
                a["end_ms"],
                sorted(named[c] for c in a["code_ids"]),
                a["note"],
                a["fields"],
                a["author_id"],
                a["speaker"],
            )
            for a in _annotations(rclient, recording_id)
        )

    assert rows(created["recording_id"], empty["id"]) == rows(recording["id"], study["id"])


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", b"<Project/>")
        archive.writestr("sources/x.mp4", b"\0" * (40 * 1024 * 1024))
    return buffer.getvalue()


def _link() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("sources/passwd")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
        archive.writestr("project.qde", b"<Project/>")
    return buffer.getvalue()


def _encrypted() -> bytes:
    """A zip whose entry says it is encrypted (general purpose flag bit 0, set in its local
    header and in the central directory: zipfile would not write it)."""
    data = bytearray(_zip({"project.qde": b"not really encrypted"}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    return bytes(data)


VALID = (DATA / "foreign-project.qde").read_bytes()
HOSTILE = {
    "slip.qdpx": (_zip({"project.qde": VALID, "../../evil.sh": b"rm -rf /"}), "chemin dangereux"),
    "absolute.qdpx": (_zip({"project.qde": VALID, "/etc/cron.d/x": b"x"}), "chemin dangereux"),
    "drive.qdpx": (_zip({"project.qde": VALID, "C:/x.txt": b"x"}), "chemin dangereux"),
    "link.qdpx": (_link(), "un lien"),
    "encrypted.qdpx": (_encrypted(), "chiffrée"),
    "bomb.qdpx": (_bomb(), "bombe zip"),
    "truncated.qdpx": (_zip({"project.qde": VALID})[:-40], "tronqué"),
    "notzip.qdpx": (b"%PDF-1.4 not a zip", "archive zip lisible"),
    "empty.qdpx": (_zip({"readme.txt": b"x"}), "ne contient pas de « project.qde »"),
    "xxe.qdpx": (
        _zip(
            {
                "project.qde": b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM '
                b'"file:///etc/passwd">]><Project name="&x;"/>'
            }
        ),
        "entités",
    ),
    "root.qdpx": (_zip({"project.qde": b"<CodeBook/>"}), "n'est pas un projet REFI-QDA"),
    "latin1.qdpx": (
        _zip(
            {
                "project.qde": '<?xml version="1.0" encoding="UTF-8"?>\n<Project name="é"/>'.encode(
                    "latin-1"
                )
            }
        ),
        "ligne 2",
    ),
    "negative.qdpx": (
        _zip({"project.qde": VALID.replace(b'begin="5000"', b'begin="-5"')}),
        "négatif",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_archives_are_refused_clearly_and_leave_nothing(
    rclient: TestClient, recording: dict[str, Any], engine: Engine, settings: Settings, name: str
) -> None:
    content, message = HOSTILE[name]
    with Session(engine) as session:
        before = (
            session.exec(select(func.count()).select_from(Code)).one(),
            session.exec(select(func.count()).select_from(Annotation)).one(),
            session.exec(select(func.count()).select_from(Recording)).one(),
        )
    files_before = sorted(p for p in settings.media_dir.rglob("*") if p.is_file())
    answer = _send(rclient, recording["study_id"], content, name)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert name in detail and message in detail, detail
    assert "root:" not in answer.text
    with Session(engine) as session:
        after = (
            session.exec(select(func.count()).select_from(Code)).one(),
            session.exec(select(func.count()).select_from(Annotation)).one(),
            session.exec(select(func.count()).select_from(Recording)).one(),
        )
    assert after == before
    assert sorted(p for p in settings.media_dir.rglob("*") if p.is_file()) == files_before
    assert not Path("/evil.sh").exists()
    assert rclient.get("/api/v1/health").status_code == 200


def test_a_failed_import_removes_the_media_it_stored(
    rclient: TestClient, recording: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    """A new recording's media is stored before the import is written (outside the write
    lock); when the writing fails (here: the study's code pattern changed in between, and
    the new recording's code no longer fits), the transaction is rolled back and the stored
    media removed, as the API does (api/interop.py, qdpx_file)."""
    project = VALID.replace(
        b'name="A8 - 1" path="relative://seance-demo.mp4"', b'name="A8 - 9" path="internal://v.mp4"'
    )
    content = _zip({"project.qde": project, "sources/v.mp4": factories.DEMO_MEDIA.read_bytes()})
    files_before = _files(settings)
    limits = safezip.Limits(10 * 1024 * 1024, 10 * 1024 * 1024)
    with Session(engine) as session:
        study = session.get(Study, recording["study_id"])
        assert study is not None
        with safezip.SafeZip(io.BytesIO(content), "p.qdpx", limits) as archive:
            prepared = qdpx_import.prepare(
                session, study, archive, store_for(settings), settings.max_upload_bytes
            )
        assert len(prepared.stored) == 1  # the media is stored, not yet a recording
    stored = set(_files(settings)) - set(files_before)
    assert stored
    with Session(engine) as session:  # in between, the study's codes change
        changed = session.get(Study, recording["study_id"])
        assert changed is not None
        changed.code_pattern = r"[A-Z][0-9]+ - [0-9]+ bis"
        session.add(changed)
        session.commit()
    with Session(engine) as session:
        study = session.get(Study, recording["study_id"])
        user = session.exec(select(User).where(User.username == "claire")).one()
        assert study is not None
        with pytest.raises(Invalid):
            try:
                qdpx_import.import_project(session, study, user, prepared)
                session.commit()
            except BaseException:
                session.rollback()
                qdpx_import.discard(store_for(settings), prepared)
                raise
        books = session.exec(select(Codebook).where(Codebook.name == "Thèse CEP")).all()
        assert books == []  # the codebook it had made is rolled back
    assert _files(settings) == files_before


def test_media_stored_for_a_recording_that_appeared_meanwhile_is_removed(
    rclient: TestClient, recording: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    """Between storing a new recording's media and writing the import, an upload took its
    code: the import goes to that recording, and the media it had stored is removed."""
    project = VALID.replace(
        b'name="A8 - 1" path="relative://seance-demo.mp4"', b'name="A8 - 9" path="internal://v.mp4"'
    )
    content = _zip({"project.qde": project, "sources/v.mp4": factories.DEMO_MEDIA.read_bytes()})
    files_before = _files(settings)
    limits = safezip.Limits(10 * 1024 * 1024, 10 * 1024 * 1024)
    with Session(engine) as session:
        study = session.get(Study, recording["study_id"])
        assert study is not None
        with safezip.SafeZip(io.BytesIO(content), "p.qdpx", limits) as archive:
            prepared = qdpx_import.prepare(
                session, study, archive, store_for(settings), settings.max_upload_bytes
            )
    stored = set(_files(settings)) - set(files_before)
    taken = factories.upload(rclient, recording["study_id"], "A8 - 9")
    assert taken.status_code == 201, taken.text
    with Session(engine) as session:
        study = session.get(Study, recording["study_id"])
        user = session.exec(select(User).where(User.username == "claire")).one()
        assert study is not None
        result = qdpx_import.import_project(session, study, user, prepared)
        session.commit()
    qdpx_import.discard(store_for(settings), prepared, unused_only=True)
    assert result["recordings_created"] == 0
    assert result["sources"] == [
        {"name": "A8 - 9", "recording_id": taken.json()["id"], "created": False}
    ]
    assert stored and not any(p.exists() for p in stored)


def _files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.media_dir.rglob("*") if p.is_file())


def test_who_may_import_a_project(
    rclient: TestClient, client: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    content = _zip({"project.qde": VALID})
    who, _ = factories.counsellor_member(engine, rclient, study["id"], "yann", "C1")
    answer = client.post(
        f"/api/v1/studies/{study['id']}/import/qdpx",
        files={"file": ("p.qdpx", content, "application/zip")},
        headers=factories.token(engine, who),
    )
    assert answer.status_code == 403
    client.cookies.clear()
    anonymous = client.post(
        f"/api/v1/studies/{study['id']}/import/qdpx",
        files={"file": ("p.qdpx", content, "application/zip")},
    )
    assert anonymous.status_code == 401
    assert "Connectez-vous pour déposer un fichier" in anonymous.json()["detail"]
