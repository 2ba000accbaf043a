"""Study archives on real things: a rich study built through the API (recordings processed by
the real ffmpeg pipeline, coding with fields and quotes, transcripts, consents with a
withdrawal, a live session with stops, comments and agenda, an interview with its own
recording), exported and imported into fresh instances (SQLite and PostgreSQL, through the
API and through the `autoconf` command), and compared: synthesis tables, annotations, live
session report, transcripts, consents, and the sha256 of every media file. Then older and
hostile archives: each hostile one refused with a French message naming its entry, leaving
no study, no file, and a server that still answers."""

import hashlib
import io
import json
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.app import create_app
from autoconf.archive import contents as archive_contents
from autoconf.archive import export_study, importing, snapshot
from autoconf.archive.contents import Limits
from autoconf.archive.manifest import FORMAT_VERSION
from autoconf.audit import log as audit_log
from autoconf.auth import accounts
from autoconf.db import session_scope
from autoconf.errors import Invalid
from autoconf.interop.safezip import SafeZip
from autoconf.media import jobs
from autoconf.media.store import store_for
from autoconf.models import (
    Annotation,
    AnnotationCode,
    AuditEvent,
    Code,
    Codebook,
    Consent,
    Counsellor,
    Interview,
    InterviewRecording,
    LiveAgendaItem,
    LiveComment,
    LiveSession,
    LiveStop,
    MediaJob,
    Membership,
    Recording,
    Structure,
    Study,
    User,
)
from autoconf.settings import Settings
from tests import factories, support
from tests.support import cli_env, fresh_postgres, settings_for
from tests.support import database_url as support_database_url

DEMO = Path(__file__).parents[2] / "autoconf" / "demo"
AC_AUDIO = Path(__file__).parents[1] / "data" / "autoconfrontation-demo.m4a"
BIG_UPLOADS = 64 * 1024 * 1024  # room for an archive with its media through HTTP
CODE_PATTERN = r"(A|E-A)\d+( - (\d+|AC))?"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------


@dataclass
class Instance:
    settings: Settings
    app: FastAPI

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    def client(self, who: factories.Account) -> TestClient:
        client = factories.PageClient(self.app, raise_server_exceptions=False)
        factories.login(client, who)
        return client


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Instance]]:
    """Fresh instances (a data folder, a database: SQLite unless a URL is given)."""
    made: list[Instance] = []

    def make(database_url: str = "") -> Instance:
        folder = tmp_path_factory.mktemp("instance") / "data"
        settings = Settings(
            data_dir=folder,
            database_url=database_url or support_database_url(folder),
            max_upload_bytes=BIG_UPLOADS,
            media_workers=0,
        )
        folder.mkdir(parents=True)
        support.migrated(settings)
        instance = Instance(settings, create_app(settings))
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.engine.dispose()


@dataclass
class Source:
    instance: Instance
    claire: TestClient  # the researcher who exports
    study_id: int
    recordings: dict[str, int]
    interview_id: int
    with_media: bytes
    without_media: bytes


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def source(instances: Callable[..., Instance]) -> Source:
    """The study researchers would have after a few weeks, built through the API."""
    instance = instances()
    engine, settings = instance.engine, instance.settings
    claire = instance.client(factories.account(engine, "claire", "researcher"))
    hugo_account = factories.account(engine, "hugo", "researcher")
    sid = _ok(claire.post("/api/v1/studies", json={"name": "Étude CEP", "description": "ML"}))["id"]
    _ok(
        claire.post(
            f"/api/v1/studies/{sid}/members", json={"username": "hugo", "role": "researcher"}
        )
    )
    hugo = instance.client(hugo_account)
    ml = _ok(
        claire.post(
            f"/api/v1/studies/{sid}/structures",
            json={"code": "ML", "name": "Mission locale", "city": "Lyon", "centre": "Part-Dieu"},
        )
    )
    apec = _ok(claire.post(f"/api/v1/studies/{sid}/structures", json={"code": "APEC"}))
    camille_account = factories.account(engine, "camille", "counsellor")
    member = {"username": "camille", "role": "counsellor"}
    _ok(claire.post(f"/api/v1/studies/{sid}/members", json=member))
    a8 = _ok(
        claire.post(
            f"/api/v1/studies/{sid}/counsellors",
            json={"code": "A8", "username": "camille", "structure_id": ml["id"]},
        )
    )["id"]
    a4 = _ok(
        claire.post(
            f"/api/v1/studies/{sid}/counsellors", json={"code": "A4", "structure_id": apec["id"]}
        )
    )["id"]
    camille = instance.client(camille_account)

    def processed(code: str, media: Path, counsellor: int) -> int:
        uploaded = factories.upload(
            claire, sid, code, media.read_bytes(), filename=media.name, counsellor_id=counsellor
        )
        return int(_ok(uploaded)["id"])

    session_id = processed("A8 - 1", factories.DEMO_MEDIA, a8)
    other = processed("A4", factories.DEMO_MEDIA, a4)
    ac = processed("A8 - AC", AC_AUDIO, a8)
    assert jobs.run_until_idle(engine, settings) == 3
    for rid in (session_id, other, ac):
        assert claire.get(f"/api/v1/recordings/{rid}").json()["status"] == "ready"
        factories.consent_all(claire, rid)
    # A4: the counsellor withdrew their consent (its media may not leave the instance).
    consents = claire.get(f"/api/v1/recordings/{other}/consents").json()
    counsellor_consent = next(c for c in consents if c["party"] == "counsellor")
    _ok(claire.post(f"/api/v1/consents/{counsellor_consent['id']}/withdraw", json={}), 200)
    # A8 - 2: uploaded, not processed yet.
    queued = int(_ok(factories.upload(claire, sid, "A8 - 2", counsellor_id=a8))["id"])
    factories.consent_all(claire, queued)

    interview = _ok(
        claire.post(
            f"/api/v1/studies/{sid}/interviews",
            json={"code": "E-A8", "counsellor_id": a8, "recording_ids": [session_id]},
        )
    )
    # Codebooks: a code added under a scheme (with its English), a category archived.
    books = {b["kind"]: b for b in claire.get(f"/api/v1/studies/{sid}/codebooks").json()}
    schemes = factories.codes_by_path(claire, sid, "schemes")
    phases = factories.codes_by_path(claire, sid, "phases")
    categories = factories.codes_by_path(claire, sid, "categories")
    child = _ok(
        claire.post(
            f"/api/v1/codebooks/{books['schemes']['id']}/codes",
            json={
                "label": "Reformuler les attentes",
                "parent_id": schemes["Écouter / reformuler"],
                "label_en": "Rephrase expectations",
                "color": "#336699",
                "description": "Sous-schème ajouté",
            },
        )
    )
    archived = sorted(categories.values())[-1]

    # Coding, marks, transcripts.
    url = f"/api/v1/recordings/{session_id}/annotations"
    coded = _ok(
        claire.post(
            url,
            json={
                "start_ms": 10_000,
                "end_ms": 25_000,
                "code_ids": [schemes["Se présenter"], child["id"]],
                "note": "Accueil « chaleureux »",
                "fields": {"but": "Mettre en confiance", "regret": "Aller plus vite"},
                "verbatims": [
                    {"text": "Bonjour, asseyez-vous", "speaker": "Conseillère", "ms": 11_000}
                ],
            },
        )
    )
    _ok(
        claire.patch(
            f"/api/v1/annotations/{coded['id']}", json={"version": 1, "shown_to_counsellor": True}
        ),
        200,
    )
    claire.post(url, json={"start_ms": 30_000, "code_ids": [schemes["Informer / expliquer"]]})
    claire.post(
        url,
        json={
            "start_ms": 12_000,
            "end_ms": 24_000,
            "code_ids": [schemes["Se présenter"]],
            "layer": "consensus",
        },
    )
    claire.post(url, json={"start_ms": 0, "end_ms": 60_000, "code_ids": [phases["Diagnostic"]]})
    _ok(
        hugo.post(
            url,
            json={
                "start_ms": 40_000,
                "end_ms": 50_000,
                "code_ids": [archived, sorted(categories.values())[0]],
            },
        )
    )
    _ok(claire.patch(f"/api/v1/codes/{archived}", json={"archived": True}), 200)
    shared = _ok(
        claire.post(url, json={"start_ms": 34_000, "origin": "prepared", "note": "Reformule"})
    )
    claire.patch(f"/api/v1/annotations/{shared['id']}", json={"version": 1, "shared": True})
    # Claire's private mark: in her archive (hers), not seen by the importer (not theirs).
    _ok(claire.post(url, json={"start_ms": 60_000, "origin": "prepared", "note": "Pistes"}))
    _ok(hugo.post(url, json={"start_ms": 50_000, "origin": "prepared", "note": "Caché de Hugo"}))
    theirs = _ok(
        camille.post(url, json={"start_ms": 85_000, "origin": "prepared", "note": "Le cadre"})
    )
    camille.patch(f"/api/v1/annotations/{theirs['id']}", json={"version": 1, "shared": True})
    claire.post(
        f"/api/v1/recordings/{other}/annotations",
        json={"start_ms": 5_000, "end_ms": 9_000, "code_ids": [schemes["Écouter / reformuler"]]},
    )
    vtt = {"file": ("s.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")}
    _ok(claire.post(f"/api/v1/recordings/{session_id}/transcript", files=vtt), 200)
    ac_vtt = {"file": ("ac.vtt", (DEMO / "autoconfrontation-demo.vtt").read_bytes(), "text/vtt")}
    _ok(claire.post(f"/api/v1/recordings/{ac}/transcript", files=ac_vtt), 200)

    # The live auto-confrontation: stops by both, comments, the agenda, then the end.
    live = _ok(claire.post(f"/api/v1/recordings/{session_id}/live"))
    stop = _ok(camille.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 31_500}))
    with claire.websocket_connect(f"/api/v1/live/{live['id']}/ws") as socket:
        assert socket.receive_json()["type"] == "state"
        socket.send_json({"type": "play"})  # resumes: the next stop is another one
        while socket.receive_json()["type"] != "play":
            pass
    added = _ok(claire.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 110_000}))
    _ok(claire.patch(f"/api/v1/live/stops/{added['id']}", json={"prepared_id": theirs["id"]}), 200)
    comments = f"/api/v1/live/stops/{stop['id']}/comments"
    _ok(claire.post(comments, json={"speaker": "counsellor", "text": "Là, j'hésite."}))
    _ok(claire.post(comments, json={"speaker": "researcher", "text": "Hésitation sur le cadre"}))
    _ok(camille.post(comments, json={"speaker": "counsellor", "text": "Je voulais rassurer."}))
    agenda = f"/api/v1/live/{live['id']}/agenda/{theirs['id']}"
    _ok(claire.put(agenda, json={"status": "skipped"}), 200)
    _ok(claire.post(f"/api/v1/live/{live['id']}/end"), 200)
    _ok(
        claire.patch(
            f"/api/v1/interviews/{interview['id']}/recording",
            json={"recording_id": ac, "stop_id": stop["id"], "stop_at_ms": 5_000},
        ),
        200,
    )
    _ok(
        claire.patch(
            f"/api/v1/studies/{sid}",
            json={"co_validation": True, "code_pattern": CODE_PATTERN, "code_example": "A8 - 1"},
        ),
        200,
    )
    with_media = claire.get(f"/api/v1/studies/{sid}/archive.zip")
    assert with_media.status_code == 200, with_media.text
    assert with_media.headers["content-type"] == "application/zip"
    assert "attachment" in with_media.headers["content-disposition"]
    without_media = claire.get(f"/api/v1/studies/{sid}/archive.zip?media=none")
    assert without_media.status_code == 200, without_media.text
    return Source(
        instance,
        claire,
        sid,
        {"A8 - 1": session_id, "A4": other, "A8 - AC": ac, "A8 - 2": queued},
        interview["id"],
        with_media.content,
        without_media.content,
    )


# --------------------------------------------------------------------------------------
# What two instances must agree on
# --------------------------------------------------------------------------------------


def canonical(engine: Engine, study_id: int) -> dict[str, Any]:
    """The study as the instance holds it, without its ids: codes, paths, usernames."""
    with Session(engine) as s:
        users = {u.id: u.username for u in s.exec(select(User))}
        study = s.get(Study, study_id)
        assert study is not None
        recordings = s.exec(select(Recording).where(Recording.study_id == study_id)).all()
        rcode = {r.id: r.code for r in recordings}
        structures = s.exec(select(Structure).where(Structure.study_id == study_id)).all()
        scode = {x.id: x.code for x in structures}
        counsellors = s.exec(select(Counsellor).where(Counsellor.study_id == study_id)).all()
        ccode = {c.id: c.code for c in counsellors}
        books = s.exec(select(Codebook).where(Codebook.study_id == study_id)).all()
        bname = {b.id: b.name for b in books}
        codes = s.exec(select(Code).where(col(Code.codebook_id).in_(bname))).all()
        by_id = {c.id: c for c in codes}

        def path(code_id: int | None) -> str:
            parts, current = [], by_id.get(code_id)
            while current is not None:
                parts.insert(0, current.label)
                current = by_id.get(current.parent_id)
            return (
                "/".join(parts)
                if code_id is None
                else f"{bname[by_id[code_id].codebook_id]}:{'/'.join(parts)}"
            )

        annotations = s.exec(
            select(Annotation).where(col(Annotation.recording_id).in_(rcode))
        ).all()
        links: dict[int, list[str]] = {}
        for link in s.exec(
            select(AnnotationCode).where(
                col(AnnotationCode.annotation_id).in_([a.id for a in annotations])
            )
        ):
            links.setdefault(link.annotation_id, []).append(path(link.code_id))

        def akey(annotation_id: int | None) -> Any:
            a = next((x for x in annotations if x.id == annotation_id), None)
            if a is None:
                return None
            return (
                rcode[a.recording_id],
                a.layer,
                a.start_ms,
                a.end_ms,
                a.note,
                users.get(a.author_id),
            )

        interviews = s.exec(select(Interview).where(Interview.study_id == study_id)).all()
        icode = {i.id: i.code for i in interviews}
        sessions = s.exec(select(LiveSession).where(LiveSession.study_id == study_id)).all()
        stops = s.exec(
            select(LiveStop).where(col(LiveStop.session_id).in_([x.id for x in sessions]))
        ).all()
        comments = s.exec(
            select(LiveComment).where(
                col(LiveComment.stop_id).in_([x.annotation_id for x in stops])
            )
        ).all()
        agenda = s.exec(
            select(LiveAgendaItem).where(
                col(LiveAgendaItem.session_id).in_([x.id for x in sessions])
            )
        ).all()
        consents = s.exec(select(Consent).where(col(Consent.recording_id).in_(rcode))).all()
        members = s.exec(select(Membership).where(Membership.study_id == study_id)).all()
        links_ir = s.exec(
            select(InterviewRecording).where(col(InterviewRecording.interview_id).in_(icode))
        ).all()
        return {
            "study": {k: v for k, v in study.model_dump().items() if k not in ("id", "name")},
            "members": sorted((users[m.user_id], m.role) for m in members),
            "structures": sorted((x.code, x.name, x.city, x.centre) for x in structures),
            "counsellors": sorted(
                (c.code, scode.get(c.structure_id), users.get(c.user_id)) for c in counsellors
            ),
            "recordings": sorted(
                (
                    r.code,
                    ccode.get(r.counsellor_id),
                    r.category,
                    r.original_filename,
                    r.original_size,
                    r.original_sha256,
                    r.media_type,
                    r.duration_ms,
                    users.get(r.created_by),
                    r.created_at,
                )
                for r in recordings
            ),
            "interviews": sorted(
                (
                    i.code,
                    ccode.get(i.counsellor_id),
                    i.notes,
                    rcode.get(i.ac_recording_id),
                    i.ac_started_at,
                    i.created_at,
                )
                for i in interviews
            ),
            "interview_recordings": sorted(
                (icode[x.interview_id], rcode[x.recording_id], x.position) for x in links_ir
            ),
            "codebooks": sorted((b.kind, b.name, b.position) for b in books),
            "codes": sorted(
                (
                    path(c.id),
                    c.position,
                    c.description,
                    c.label_en,
                    c.description_en,
                    c.color,
                    c.hotkey,
                    c.archived,
                )
                for c in codes
            ),
            "annotations": sorted(
                (
                    rcode[a.recording_id],
                    a.start_ms,
                    a.end_ms,
                    a.layer,
                    a.origin,
                    a.note,
                    a.speaker or "",
                    json.dumps(a.fields, sort_keys=True),
                    json.dumps(a.verbatims, sort_keys=True),
                    a.shared,
                    a.shown_to_counsellor,
                    users.get(a.author_id) or "",
                    a.version,
                    a.created_at,
                    a.updated_at,
                    tuple(sorted(links.get(a.id or 0, []))),
                )
                for a in annotations
            ),
            "consents": sorted(
                (
                    rcode[c.recording_id],
                    c.party,
                    tuple(c.scopes),
                    c.given_on,
                    users.get(c.recorded_by),
                    c.withdrawn_on,
                    users.get(c.withdrawn_by),
                    c.withdrawn_at,
                )
                for c in consents
            ),
            "live_sessions": sorted(
                (
                    icode.get(x.interview_id),
                    rcode[x.recording_id],
                    users.get(x.created_by),
                    x.playing,
                    x.position_ms,
                    x.position_at,
                    x.rate,
                    x.seq,
                    x.created_at,
                    x.ended_at,
                )
                for x in sessions
            ),
            "stops": sorted(
                (akey(x.annotation_id), x.role, x.stopped_at, x.resumed_at, akey(x.prepared_id))
                for x in stops
            ),
            "comments": sorted(
                (akey(x.stop_id), users.get(x.author_id), x.speaker, x.text, x.said_at, x.version)
                for x in comments
            ),
            "agenda": sorted((akey(x.prepared_id), x.status, x.updated_at) for x in agenda),
        }


def without_ids(value: Any) -> Any:
    """A JSON answer without the ids and links of the instance that gave it (`…_by`: a
    user's id; `canonical` compares their usernames)."""
    if isinstance(value, dict):
        return {
            k: without_ids(v)
            for k, v in value.items()
            if k != "id" and not k.endswith(("_id", "_ids", "_by")) and "url" not in k
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def tables_of(client: TestClient, study_id: int, private: str = "") -> dict[str, Any]:
    """The tables researchers read, keyed by what they show (not by ids); without the row of
    the private mark whose note is `private` (its author's only: the other instance's reader
    does not see it)."""
    found: dict[str, Any] = {}
    for value in ("mark", "count", "duration", "share", "first"):
        data = client.get(f"/api/v1/studies/{study_id}/synthesis?value={value}").json()
        found[f"synthesis-{value}"] = {
            "columns": [c["code"] for c in data["columns"]],
            "rows": [(r["path"], r["depth"], r["cells"]) for r in data["rows"]],
        }
    found["counts"] = without_ids(client.get(f"/api/v1/studies/{study_id}/counts").json())
    books = client.get(f"/api/v1/studies/{study_id}/codebooks").json()
    for book in books:
        sources = client.get(f"/api/v1/codebooks/{book['id']}/sources")
        assert sources.status_code == 200, sources.text
        found[f"sources-{book['kind']}"] = without_ids(sources.json())
    table = client.get(f"/api/v1/studies/{study_id}/annotations").json()
    header = table["header"]
    keep = [i for i, name in enumerate(header) if name != "id" and not name.endswith("_id")]
    rows = [[row[i] for i in keep] for row in table["rows"] if not private or private not in row]
    found["annotations"] = sorted(rows, key=lambda r: json.dumps(r))
    return found


def media_sums(instance: Instance, recording_id: int) -> dict[str, str]:
    with Session(instance.engine) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        folder = instance.settings.media_dir / Path(recording.storage_key).parent
    return {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}


def recordings_of(client: TestClient, study_id: int) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in client.get(f"/api/v1/studies/{study_id}/recordings").json()}


def canonical_less(data: dict[str, Any], username: str) -> dict[str, Any]:
    """`data` without the membership the import gave its importer."""
    return {**data, "members": [m for m in data["members"] if m[0] != username]}


def hidden_mark(data: dict[str, Any]) -> dict[str, Any]:
    """`data` without Hugo's private mark (a researcher's archive leaves it out)."""
    kept = [a for a in data["annotations"] if a[5] != "Caché de Hugo"]
    return {**data, "annotations": kept}


def import_archive(target: TestClient, content: bytes, name: str = "etude.zip") -> Any:
    return target.post("/api/v1/studies/import", files={"file": (name, content, "application/zip")})


# --------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------


def test_an_archive_with_media_gives_the_same_study_elsewhere(
    source: Source, instances: Callable[..., Instance]
) -> None:
    archive = zipfile.ZipFile(io.BytesIO(source.with_media))
    manifest = json.loads(archive.read("archive.json"))
    assert manifest["format"] == "autoconf-study-archive" and manifest["format_version"] == 1
    assert manifest["media"] == "included" and manifest["left_out"] == {"private_marks": 1}
    assert manifest["audit"] is None and "audit.jsonl" not in archive.namelist()  # a researcher's
    withheld = {item["recording_id"]: item["reason"] for item in manifest["media_withheld"]}
    assert withheld == {source.recordings["A4"]: "consent"}
    for item in manifest["files"]:
        assert hashlib.sha256(archive.read(item["path"])).hexdigest() == item["sha256"]

    target = instances()
    margot = factories.account(target.engine, "margot", "researcher")
    client = target.client(margot)
    done = _ok(import_archive(client, source.with_media))
    assert done["name"] == "Étude CEP"
    assert sorted(done["accounts_created"]) == ["camille", "claire", "hugo"]
    assert done["without_media"] == {"A4": "consent"} and done["to_process"] == ["A8 - 2"]
    new_id = done["study_id"]

    expected = hidden_mark(canonical(source.instance.engine, source.study_id))
    got = canonical(target.engine, new_id)
    assert ("margot", "researcher") in got["members"]
    assert canonical_less(got, "margot") == expected
    assert tables_of(client, new_id) == tables_of(source.claire, source.study_id, "Pistes")

    # The session report, the transcripts, the consents.
    interview = next(
        i for i in client.get(f"/api/v1/studies/{new_id}/interviews").json() if i["code"] == "E-A8"
    )
    theirs = client.get(f"/api/v1/interviews/{interview['id']}/report")
    ours = source.claire.get(f"/api/v1/interviews/{source.interview_id}/report")
    assert theirs.status_code == ours.status_code == 200, theirs.text
    assert len(ours.json()["rows"]) == 2
    assert without_ids(theirs.json()) == without_ids(ours.json())
    mine, copies = recordings_of(source.claire, source.study_id), recordings_of(client, new_id)
    for code in ("A8 - 1", "A8 - AC"):
        a = source.claire.get(f"/api/v1/recordings/{mine[code]['id']}/transcript.vtt")
        b = client.get(f"/api/v1/recordings/{copies[code]['id']}/transcript.vtt")
        assert a.status_code == b.status_code == 200 and a.text == b.text
    for code in mine:
        a = source.claire.get(f"/api/v1/recordings/{mine[code]['id']}/consents").json()
        b = client.get(f"/api/v1/recordings/{copies[code]['id']}/consents").json()
        assert without_ids(a) == without_ids(b)

    # Every media file, byte for byte; the ready recordings play.
    for code in ("A8 - 1", "A8 - AC"):
        assert copies[code]["status"] == "ready" and copies[code]["media_url"]
        assert media_sums(target, copies[code]["id"]) == media_sums(
            source.instance, mine[code]["id"]
        )
        played = client.get(copies[code]["media_url"], headers={"Range": "bytes=0-99"})
        assert played.status_code == 206
    # A4 came without its file (its consents were missing), and its page says so.
    assert copies["A4"]["status"] == "failed"
    assert copies["A4"]["error"].startswith("Média non inclus dans l'archive")
    page = client.get(f"/recordings/{copies['A4']['id']}")
    assert (
        "Média non inclus dans l&#39;archive" in page.text
        or "Média non inclus dans l'archive" in page.text
    )
    # A8 - 2 is processed again from its original, which came with it.
    assert copies["A8 - 2"]["status"] == "queued"
    assert jobs.run_until_idle(target.engine, target.settings) == 1
    assert client.get(f"/api/v1/recordings/{copies['A8 - 2']['id']}").json()["status"] == "ready"
    original = Path(recordings_of(client, new_id)["A8 - 2"]["original_filename"])
    assert original.name == "seance.mp4"
    with Session(target.engine) as session:
        copy = session.get(Recording, copies["A8 - 2"]["id"])
        assert copy is not None
        assert sha256(target.settings.media_dir / copy.storage_key) == copy.original_sha256

    # People unknown here: disabled accounts that cannot sign in; the audit log says it all.
    refused = TestClient(target.app).post(
        "/api/v1/auth/login", json={"username": "claire", "password": factories.PASSWORD}
    )
    assert refused.status_code == 401
    with Session(target.engine) as session:
        made = session.exec(
            select(User).where(col(User.username).in_(["claire", "hugo", "camille"]))
        ).all()
        assert [u.is_active for u in made] == [False, False, False]
        assert {u.username: u.role for u in made} == {
            "claire": "researcher",
            "hugo": "researcher",
            "camille": "counsellor",
        }
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
        assert actions.count(audit_log.ACCOUNT_CREATED) == 3
        entry = session.exec(
            select(AuditEvent).where(AuditEvent.action == audit_log.STUDY_IMPORTED)
        ).one()
        assert entry.study_id == new_id and entry.username == "margot"
        assert entry.detail["source_study_id"] == source.study_id
    with Session(source.instance.engine) as session:
        exports = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == audit_log.EXPORT, AuditEvent.study_id == source.study_id
            )
        ).all()
        assert {(e.detail["what"], e.detail.get("media")) for e in exports} >= {
            ("archive", "included"),
            ("archive", "none"),
        }

    # The same archive again: a second study, under another name.
    again = _ok(import_archive(client, source.with_media))
    assert again["name"] == "Étude CEP (importée)" and again["accounts_created"] == []
    assert sorted(again["accounts_matched"]) == ["camille", "claire", "hugo"]


def test_an_archive_without_media_brings_everything_but_the_files(
    source: Source, instances: Callable[..., Instance]
) -> None:
    archive = zipfile.ZipFile(io.BytesIO(source.without_media))
    assert not [name for name in archive.namelist() if name.startswith("media/")]
    target = instances()
    client = target.client(factories.account(target.engine, "margot", "researcher"))
    response = client.post(
        "/studies/import", files={"file": ("etude.zip", source.without_media, "application/zip")}
    )
    assert response.status_code == 200, response.text
    assert "Comptes créés, désactivés" in response.text and "hugo" in response.text
    new_id = next(s["id"] for s in client.get("/api/v1/studies").json())
    expected = hidden_mark(canonical(source.instance.engine, source.study_id))
    assert canonical_less(canonical(target.engine, new_id), "margot") == expected
    assert tables_of(client, new_id) == tables_of(source.claire, source.study_id, "Pistes")
    copies = recordings_of(client, new_id)
    for code, recording in copies.items():
        assert recording["status"] == "failed" and recording["media_url"] is None, code
        assert "« sans les médias »" in recording["error"]
    page = client.get(f"/recordings/{copies['A8 - 1']['id']}")
    assert "sans les médias" in page.text
    # The page does not offer to process a file that is not there.
    assert "pas de fichier sur ce serveur" in page.text
    assert "Le fichier original est intact" not in page.text
    assert "Relancer le traitement" not in page.text
    assert not list((target.settings.media_dir / "recordings").glob("*/*"))
    with Session(target.engine) as session:
        assert session.exec(select(MediaJob)).all() == []
    # Processing it again says clearly that the file is not there.
    retried = client.post(f"/api/v1/recordings/{copies['A8 - 1']['id']}/retry")
    assert retried.status_code == 202
    jobs.run_until_idle(target.engine, target.settings)
    error = client.get(f"/api/v1/recordings/{copies['A8 - 1']['id']}").json()["error"]
    assert "introuvable" in error


def _cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoconf.cli", *args],
        env=cli_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_command_line_round_trip(
    source: Source, instances: Callable[..., Instance], tmp_path: Path
) -> None:
    file = tmp_path / "étude.zip"
    exported = _cli(
        source.instance.settings.data_dir, "export", "study", str(source.study_id), str(file)
    )
    assert exported.returncode == 0, exported.stderr
    assert "Archive de l'étude « Étude CEP »" in exported.stdout
    again = _cli(
        source.instance.settings.data_dir, "export", "study", str(source.study_id), str(file)
    )
    assert again.returncode == 1 and "existe déjà" in again.stderr
    missing = _cli(
        source.instance.settings.data_dir, "export", "study", "999", str(tmp_path / "x.zip")
    )
    assert missing.returncode == 1 and "Aucune étude" in missing.stderr
    assert not (tmp_path / "x.zip").exists()
    archive = zipfile.ZipFile(file)
    manifest = json.loads(archive.read("archive.json"))
    assert manifest["left_out"] == {} and manifest["audit"] == "audit.jsonl"  # everything
    audit = archive.read("audit.jsonl").decode().splitlines()
    assert json.loads(audit[0])["table"] == "audit" and len(audit) > 5

    target = tmp_path / "target"
    assert _cli(target, "migrate").returncode == 0
    added = _cli(
        target, "user", "add", "claire", "--role", "researcher", stdin="un long mot de passe\n"
    )
    assert added.returncode == 0, added.stderr
    imported = _cli(target, "import", str(file), "--as", "claire")
    assert imported.returncode == 0, imported.stderr
    assert "Étude « Étude CEP » importée" in imported.stdout
    assert "Comptes créés, désactivés : hugo, camille" in imported.stdout
    settings = settings_for(target, media_workers=0)
    app = create_app(settings)
    try:
        engine: Engine = app.state.engine
        with Session(engine) as session:
            study = session.exec(select(Study)).one()
            claire = session.exec(select(User).where(User.username == "claire")).one()
            assert claire.is_active  # matched, not made
        # Everything, Hugo's private mark included: the command line reads the database anyway.
        assert canonical(engine, study.id or 0) == canonical(
            source.instance.engine, source.study_id
        )
        refused = _cli(target, "import", str(tmp_path / "absent.zip"))
        assert refused.returncode == 1
        second = _cli(target, "import", str(file))
        assert second.returncode == 0 and "Étude CEP (importée)" in second.stdout
    finally:
        app.state.engine.dispose()


def test_postgresql_round_trip(source: Source, instances: Callable[..., Instance]) -> None:
    with fresh_postgres("autoconf_archive") as url:
        target = instances(url)
        client = target.client(factories.account(target.engine, "margot", "researcher"))
        done = _ok(import_archive(client, source.with_media))
        new_id = done["study_id"]
        expected = hidden_mark(canonical(source.instance.engine, source.study_id))
        imported = canonical(target.engine, new_id)
        assert canonical_less(imported, "margot") == expected
        assert tables_of(client, new_id) == tables_of(source.claire, source.study_id, "Pistes")
        copies = recordings_of(client, new_id)
        mine = recordings_of(source.claire, source.study_id)
        for code in ("A8 - 1", "A8 - AC"):
            assert media_sums(target, copies[code]["id"]) == media_sums(
                source.instance, mine[code]["id"]
            )
        # Exported from PostgreSQL (one REPEATABLE READ snapshot), then into SQLite again.
        through_api = client.get(f"/api/v1/studies/{new_id}/archive.zip")
        assert through_api.status_code == 200, through_api.text
        everything = io.BytesIO()
        with snapshot(target.engine) as session:
            export_study(session, store_for(target.settings), new_id, everything, True)
        target.engine.dispose()
    third = instances()
    other = third.client(factories.account(third.engine, "margot", "researcher"))
    again = _ok(import_archive(other, everything.getvalue()))
    assert canonical(third.engine, again["study_id"]) == imported
    assert _ok(import_archive(other, through_api.content))["recordings"] == 4


# --------------------------------------------------------------------------------------
# Older archives
# --------------------------------------------------------------------------------------


def rebuilt(content: bytes, edit: Callable[[dict[str, bytes]], None]) -> bytes:
    """The archive `content` with its entries changed by `edit` (a dict name → bytes)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    edit(entries)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def drop_columns(entries: dict[str, bytes], table: str, columns: set[str]) -> None:
    name = f"tables/{table}.jsonl"
    lines = entries[name].decode().splitlines()
    header = json.loads(lines[0])
    keep = [i for i, c in enumerate(header["columns"]) if c not in columns]
    header["columns"] = [header["columns"][i] for i in keep]
    rows = [json.loads(line) for line in lines[1:]]
    out = [json.dumps(header)] + [json.dumps([row[i] for i in keep]) for row in rows]
    entries[name] = ("\n".join(out) + "\n").encode()


def test_an_archive_from_an_older_autoconf_still_imports(
    source: Source, instances: Callable[..., Instance]
) -> None:
    """An autoconf that predates some columns wrote no value for them: they take their
    defaults (`TableSpec.optional`)."""

    def older(entries: dict[str, bytes]) -> None:
        drop_columns(entries, "code", {"label_en", "description_en"})
        drop_columns(entries, "annotation", {"shown_to_counsellor", "verbatims"})
        drop_columns(entries, "user", {"gender", "language"})
        drop_columns(entries, "study", {"code_pattern", "code_example"})
        manifest = json.loads(entries["archive.json"])
        manifest["autoconf_version"] = "0.0.1"
        entries["archive.json"] = json.dumps(manifest).encode()

    target = instances()
    client = target.client(factories.account(target.engine, "margot", "researcher"))
    done = _ok(import_archive(client, rebuilt(source.without_media, older)))
    with Session(target.engine) as session:
        annotations = session.exec(select(Annotation)).all()
        assert annotations and all(a.verbatims == [] for a in annotations)
        assert not any(a.shown_to_counsellor for a in annotations)
        assert all(c.label_en == "" for c in session.exec(select(Code)).all())
        study = session.get(Study, done["study_id"])
        assert study is not None and study.code_pattern == ""
    synthesis = client.get(f"/api/v1/studies/{done['study_id']}/synthesis").json()
    assert synthesis["rows"] and synthesis["columns"]
    # Every version before the current one has its upgrade.
    assert set(archive_contents.UPGRADES) == set(range(1, FORMAT_VERSION))


# --------------------------------------------------------------------------------------
# Hostile archives
# --------------------------------------------------------------------------------------


def _edit_manifest(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, bytes]], None]:
    def edit(entries: dict[str, bytes]) -> None:
        manifest = json.loads(entries["archive.json"])
        change(manifest)
        entries["archive.json"] = json.dumps(manifest).encode()

    return edit


def _edit_row(
    table: str, index: int, column: str, value: Any
) -> Callable[[dict[str, bytes]], None]:
    def edit(entries: dict[str, bytes]) -> None:
        name = f"tables/{table}.jsonl"
        lines = entries[name].decode().splitlines()
        columns = json.loads(lines[0])["columns"]
        row = json.loads(lines[1 + index])
        row[columns.index(column)] = value
        lines[1 + index] = json.dumps(row)
        entries[name] = ("\n".join(lines) + "\n").encode()

    return edit


def _add(name: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    return lambda entries: entries.__setitem__(name, data)


def _raw_zip(
    content: bytes, name: str, data: bytes, info: Callable[[zipfile.ZipInfo], None]
) -> bytes:
    """`content` with one more entry written as `info` says (links, paths zipfile would clean)."""
    out = io.BytesIO(content)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("placeholder")
        info(entry)
        entry.filename = name
        archive.writestr(entry, data)
    return out.getvalue()


def _symlink(entry: zipfile.ZipInfo) -> None:
    entry.external_attr = (stat.S_IFLNK | 0o777) << 16


def _corrupt_second_recording(entries: dict[str, bytes]) -> None:
    """One byte of a proxy changed (its size and the zip's CRC fine): only its sha256 says."""
    manifest = json.loads(entries["archive.json"])
    folders = sorted({item["path"].split("/")[1] for item in manifest["files"]}, key=int)
    name = f"media/{folders[1]}/proxy.mp4" if f"media/{folders[1]}/proxy.mp4" in entries else None
    name = name or next(p for p in entries if p.startswith(f"media/{folders[1]}/"))
    data = bytearray(entries[name])
    data[len(data) // 2] ^= 0xFF
    entries[name] = bytes(data)


def _stray_media(entries: dict[str, bytes]) -> None:
    data = b"\xff\xd8 pas une image"
    entries["media/999999/poster.jpg"] = data
    manifest = json.loads(entries["archive.json"])
    digest = hashlib.sha256(data).hexdigest()
    manifest["files"] = [{"path": "media/999999/poster.jpg", "size": len(data), "sha256": digest}]
    entries["archive.json"] = json.dumps(manifest).encode()


HOSTILE: dict[str, tuple[Callable[[Source], bytes], str]] = {
    "zip slip": (
        lambda s: _raw_zip(s.without_media, "../evil.txt", b"x", lambda e: None),
        "« ../evil.txt »",
    ),
    "absolute path": (
        lambda s: _raw_zip(s.without_media, "/etc/evil", b"x", lambda e: None),
        "« /etc/evil »",
    ),
    "link": (
        lambda s: _raw_zip(s.without_media, "media/1/original.mp4", b"/etc/passwd", _symlink),
        "contient un lien (« media/1/original.mp4 »)",
    ),
    "zip bomb": (
        lambda s: rebuilt(s.without_media, _add("tables/bombe.jsonl", bytes(40 * 1024 * 1024))),
        "bombe zip",
    ),
    "truncated": (lambda s: s.with_media[: len(s.with_media) // 2], "n'est pas une archive zip"),
    "not a zip": (lambda s: b"PK\x03\x04 pas vraiment", "n'est pas une archive zip"),
    "no manifest": (
        lambda s: rebuilt(s.without_media, lambda e: e.pop("archive.json")),
        "il n'y a pas de « archive.json »",
    ),
    "wrong format": (
        lambda s: rebuilt(s.without_media, _edit_manifest(lambda m: m.update(format="autre"))),
        "n'est pas une archive d'étude autoconf",
    ),
    "future version": (
        lambda s: rebuilt(s.without_media, _edit_manifest(lambda m: m.update(format_version=99))),
        "au format 99, plus récent",
    ),
    "unexpected entry": (
        lambda s: rebuilt(s.without_media, _add("notes.txt", b"bonjour")),
        "entrée inattendue, « notes.txt »",
    ),
    "row pointing outside": (
        lambda s: rebuilt(s.without_media, _edit_row("annotation", 0, "recording_id", 999_999)),
        "« tables/annotation.jsonl », ligne 2 : recording_id 999999 ne désigne aucune ligne",
    ),
    "wrong type": (
        lambda s: rebuilt(s.without_media, _edit_row("annotation", 2, "start_ms", "dix")),
        "« tables/annotation.jsonl », ligne 4 : « start_ms » doit être un nombre entier",
    ),
    "unknown value": (
        lambda s: rebuilt(s.without_media, _edit_row("annotation", 0, "layer", "secret")),
        "« tables/annotation.jsonl », ligne 2 : « layer » vaut « secret »",
    ),
    "malformed line": (
        lambda s: rebuilt(
            s.without_media,
            lambda e: e.__setitem__("tables/code.jsonl", e["tables/code.jsonl"] + b"[1, oops\n"),
        ),
        "« tables/code.jsonl », ligne",
    ),
    "rows missing": (
        lambda s: rebuilt(
            s.without_media,
            lambda e: e.__setitem__(
                "tables/annotation.jsonl",
                b"\n".join(e["tables/annotation.jsonl"].splitlines()[:-1]) + b"\n",
            ),
        ),
        "en annonce",
    ),
    "path in media_info": (
        lambda s: rebuilt(
            s.without_media,
            _edit_row("recording", 0, "media_info", {"files": {"poster": "../../../etc/passwd"}}),
        ),
        "« media_info » nomme des fichiers qui ne sont pas de simples noms",
    ),
    "size not as announced": (
        lambda s: rebuilt(
            s.with_media,
            _edit_manifest(lambda m: m["files"][0].update(size=m["files"][0]["size"] + 1)),
        ),
        "« archive.json » en annonce",
    ),
    "media of no recording": (
        lambda s: rebuilt(s.without_media, _stray_media),
        "« media/999999/poster.jpg » est le fichier d'un enregistrement (n° 999999) qui n'est",
    ),
    "original not the recording's": (
        lambda s: rebuilt(s.with_media, _edit_row("recording", 0, "original_sha256", "0" * 64)),
        "n'a pas l'empreinte SHA-256 de l'original",
    ),
    "corrupted media": (
        lambda s: rebuilt(s.with_media, _corrupt_second_recording),
        "ne correspond pas à son empreinte SHA-256",
    ),
}


@pytest.fixture(scope="module")
def hostile_target(instances: Callable[..., Instance]) -> tuple[Instance, TestClient]:
    target = instances()
    return target, target.client(factories.account(target.engine, "margot", "researcher"))


def assert_nothing_left(target: Instance) -> None:
    with Session(target.engine) as session:
        assert session.exec(select(Study)).all() == []
        assert session.exec(select(Recording)).all() == []
        assert session.exec(select(User).where(col(User.is_active).is_(False))).all() == []
        assert (
            session.exec(
                select(AuditEvent).where(AuditEvent.action == audit_log.STUDY_IMPORTED)
            ).all()
            == []
        )
    folder = target.settings.media_dir / "recordings"
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_archive_is_refused_and_leaves_nothing(
    case: str, source: Source, hostile_target: tuple[Instance, TestClient]
) -> None:
    make, message = HOSTILE[case]
    target, client = hostile_target
    response = import_archive(client, make(source), "hostile.zip")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("« hostile.zip »") or "hostile.zip" in detail, detail
    assert message in detail, detail
    assert_nothing_left(target)
    assert client.get("/api/v1/health").status_code == 200


def test_a_counsellor_may_not_import(
    source: Source, hostile_target: tuple[Instance, TestClient]
) -> None:
    target, _ = hostile_target
    counsellor = target.client(factories.account(target.engine, "paul", "counsellor"))
    refused = import_archive(counsellor, source.without_media)
    assert refused.status_code == 403, refused.text
    anonymous = TestClient(target.app).post(
        "/api/v1/studies/import", files={"file": ("a.zip", source.without_media, "application/zip")}
    )
    assert anonymous.status_code == 401
    assert_nothing_left(target)


def test_an_account_that_does_not_fit_refuses_the_import(
    source: Source, instances: Callable[..., Instance]
) -> None:
    """ "camille" is the archive's counsellor; here, a researcher's account."""
    target = instances()
    client = target.client(factories.account(target.engine, "margot", "researcher"))
    factories.account(target.engine, "camille", "researcher")
    refused = import_archive(client, source.with_media)
    assert refused.status_code == 422
    assert "le compte du conseiller A8, « camille »" in refused.json()["detail"]
    with Session(target.engine) as session:
        assert session.exec(select(Study)).all() == []
    assert not list((target.settings.media_dir / "recordings").glob("*"))


def test_a_write_that_fails_after_the_media_are_copied_leaves_nothing(
    source: Source, instances: Callable[..., Instance]
) -> None:
    target = instances()
    with Session(target.engine) as session:
        prepared = importing.prepare(
            session,
            store_for(target.settings),
            io.BytesIO(source.with_media),
            "etude.zip",
            BIG_UPLOADS,
        )
        folders = list((target.settings.media_dir / "recordings").iterdir())
        assert len(folders) == 3  # A8 - 1, A8 - AC, A8 - 2's original; A4's stayed out
        # Meanwhile, an account appears that the archive's counsellor cannot be.
        with session_scope(target.engine) as other:
            accounts.create_user(other, "camille", "un long mot de passe", "researcher")
        with pytest.raises(Invalid, match="camille"):
            importing.import_study(session, prepared, None, audit_log.SYSTEM)
        session.rollback()
        prepared.discard()
    assert not list((target.settings.media_dir / "recordings").iterdir())
    with Session(target.engine) as session:
        assert session.exec(select(Study)).all() == []


def test_the_unpacked_size_is_limited(source: Source) -> None:
    with SafeZip(io.BytesIO(source.with_media), "grosse.zip", Limits(BIG_UPLOADS).zip()) as archive:
        with pytest.raises(Invalid, match="dépasse la taille acceptée une fois décompressé"):
            archive_contents.read_contents(
                archive, Limits(max_upload_bytes=BIG_UPLOADS, tables_bytes=10_000)
            )
        with pytest.raises(Invalid, match=r"l'entrée « media/[^»]+ » dépasse"):
            archive_contents.read_contents(archive, Limits(max_upload_bytes=100_000))
