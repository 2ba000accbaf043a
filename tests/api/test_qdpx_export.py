"""A study as a REFI-QDA project (.qdpx) and its codebook (.qdc): valid against the
REFI-QDA 1.0 schema, every part in its place, media inside or referenced, stable GUIDs."""

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.models import AuditEvent, Recording
from autoconf.settings import Settings
from tests import factories

SCHEMA = etree.XMLSchema(
    etree.parse(str(Path(__file__).parents[1] / "data/schemas/REFI-QDA-Project-mrt2019.xsd"))
)
NS = {"q": "urn:QDA-XML:project:1.0"}


def _project(answer: Any) -> tuple[zipfile.ZipFile, etree._Element]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert ".qdpx" in answer.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    root = etree.fromstring(archive.read("project.qde"))
    assert SCHEMA.validate(root), SCHEMA.error_log
    return archive, root


def _setup(rclient: TestClient, engine: Engine, settings: Settings) -> dict[str, Any]:
    study = rclient.post("/api/v1/studies", json={"name": "Étude CEP"}).json()
    sid = study["id"]
    structure = rclient.post(
        f"/api/v1/studies/{sid}/structures",
        json={"code": "S1", "name": "Mission locale", "city": "Lyon"},
    ).json()
    counsellor = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A8", "structure_id": structure["id"]}
    ).json()
    recording = factories.processed(rclient, engine, settings, sid, code="A8 - 1")
    linked = rclient.patch(
        f"/api/v1/recordings/{recording['id']}", json={"counsellor_id": counsellor["id"]}
    )
    assert linked.status_code == 200, linked.text
    unconsented = factories.upload(rclient, sid, "A8 - 2").json()  # no consent, not processed
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    url = factories.annotations_url(recording)
    for body in (
        {
            "start_ms": 1_000,
            "end_ms": 4_000,
            "code_ids": [schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]],
            "note": "reformule & <vérifie>",
            "fields": {"but": "Faire préciser"},
        },
        {"start_ms": 2_000, "origin": "prepared", "note": "ici"},
    ):
        made = rclient.post(url, json=body)
        assert made.status_code == 201, made.text
    cues = rclient.post(
        f"/api/v1/recordings/{recording['id']}/transcript",
        files={"file": ("t.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert cues.status_code == 200, cues.text
    return {
        "study": study,
        "recording": recording,
        "unconsented": unconsented,
        "schemes": schemes,
        "counsellor": counsellor,
    }


def test_the_project_holds_users_codes_cases_sources_selections_notes_and_transcript(
    rclient: TestClient, engine: Engine, settings: Settings
) -> None:
    world = _setup(rclient, engine, settings)
    sid = world["study"]["id"]
    archive, root = _project(rclient.get(f"/api/v1/studies/{sid}/export.qdpx"))
    assert archive.namelist() == ["project.qde"]  # media referenced, not inside
    assert root.get("name") == "Étude CEP" and root.get("origin").startswith("autoconf")
    users = {u.get("name"): u.get("guid") for u in root.iterfind("q:Users/q:User", NS)}
    assert "claire" in users

    # Codebooks: non-codable codes holding their codes, with colours and descriptions.
    books = {c.get("name"): c for c in root.iterfind("q:CodeBook/q:Codes/q:Code", NS)}
    assert {"Schèmes d'action", "Phases", "Principes à questionner"} <= set(books)
    schemes_book = books["Schèmes d'action"]
    assert schemes_book.get("isCodable") == "false"
    listen = schemes_book.find("q:Code[@name='Écouter / reformuler']", NS)
    assert listen.get("isCodable") == "true" and listen.get("color").startswith("#")
    code_guids = {c.get("guid"): c.get("name") for c in root.iter("{urn:QDA-XML:project:1.0}Code")}

    # The counsellor is a case with the structure's variables, pointing at the recording.
    [case] = root.iterfind("q:Cases/q:Case", NS)
    assert case.get("name") == "A8"
    variables = {v.get("guid"): v.get("name") for v in root.iterfind("q:Variables/q:Variable", NS)}
    values = {
        variables[v.find("q:VariableRef", NS).get("targetGUID")]: v.findtext(
            "q:TextValue", namespaces=NS
        )
        for v in case.iterfind("q:VariableValue", NS)
    }
    assert values == {"Structure": "S1", "Structure — nom": "Mission locale", "Ville": "Lyon"}
    sources = {s.get("name"): s for s in root.iterfind("q:Sources/*", NS)}
    assert [r.get("targetGUID") for r in case.iterfind("q:SourceRef", NS)] == [
        sources["A8 - 1"].get("guid")
    ]

    # One source per recording; the video one references its file.
    video = sources["A8 - 1"]
    assert etree.QName(video).localname == "VideoSource"
    assert video.get("path").startswith("relative://")
    selections = video.findall("q:VideoSelection", NS)
    coded = next(s for s in selections if s.get("begin") == "1000")
    assert coded.get("end") == "4000" and coded.get("name") == "Schèmes — claire"
    assert coded.get("creatingUser") == users["claire"]
    assert sorted(
        code_guids[c.find("q:CodeRef", NS).get("targetGUID")]
        for c in coded.iterfind("q:Coding", NS)
    ) == [
        "Questionner / vérifier",
        "Écouter / reformuler",
    ]
    moment = next(s for s in selections if s.get("begin") == "2000")
    assert moment.get("end") == "2000"  # a moment: begin = end
    # The note (and the structured field) as a project note the selection refers to.
    notes = {n.get("guid"): n for n in root.iterfind("q:Notes/q:Note", NS)}
    note = notes[coded.find("q:NoteRef", NS).get("targetGUID")]
    assert note.findtext("q:PlainTextContent", namespaces=NS) == (
        "reformule & <vérifie>\nBut / sous-but : Faire préciser"
    )
    # The transcript: its text, a sync point at each cue's start and end, in the text's
    # positions.
    transcript = video.find("q:Transcript", NS)
    text = transcript.findtext("q:PlainTextContent", namespaces=NS)
    points = [
        (int(p.get("timeStamp")), int(p.get("position")))
        for p in transcript.iterfind("q:SyncPoint", NS)
    ]
    cues = rclient.get(factories.annotations_url(world["recording"])).json()
    first = next(c for c in cues if c["layer"] == "transcript")
    start_ms, position = points[0]
    assert start_ms == first["start_ms"]
    line = text[position : points[1][1]]
    assert line == f"{first['speaker']} : {first['note']}"
    # The recording without consents: no transcript (its content), still its source.
    assert sources["A8 - 2"].find("q:Transcript", NS) is None

    # Exporting again gives the same file (stable GUIDs, no export time in it).
    again = rclient.get(f"/api/v1/studies/{sid}/export.qdpx")
    assert zipfile.ZipFile(io.BytesIO(again.content)).read("project.qde") == archive.read(
        "project.qde"
    )
    with Session(engine) as session:
        entries = session.exec(
            select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.study_id == sid)
        ).all()
        assert [e.detail["format"] for e in entries if e.detail.get("what") == "project"] == [
            "qdpx",
            "qdpx",
        ]


def test_the_media_inside_the_zip_are_the_recordings_files(
    rclient: TestClient, engine: Engine, settings: Settings
) -> None:
    world = _setup(rclient, engine, settings)
    sid = world["study"]["id"]
    archive, root = _project(rclient.get(f"/api/v1/studies/{sid}/export.qdpx?media=included"))
    sources = {s.get("name"): s for s in root.iterfind("q:Sources/*", NS)}
    path = sources["A8 - 1"].get("path")
    assert path.startswith("internal://")
    inside = archive.read(f"sources/{path.removeprefix('internal://')}")
    with Session(engine) as session:
        recording = session.get(Recording, world["recording"]["id"])
        assert recording is not None
        proxy = settings.media_dir / recording.proxy_key
    assert hashlib.sha256(inside).hexdigest() == hashlib.sha256(proxy.read_bytes()).hexdigest()
    # Without its consents, a recording's media stays out, and its source says why.
    left = sources["A8 - 2"]
    assert left.get("path").startswith("relative://")
    assert "consentements" in left.findtext("q:Description", namespaces=NS)
    assert [n for n in archive.namelist() if n.startswith("sources/")] == [
        f"sources/{path.removeprefix('internal://')}"
    ]


def test_the_codebook_alone_as_qdc(rclient: TestClient, study: dict[str, Any]) -> None:
    answer = rclient.get(f"/api/v1/studies/{study['id']}/codebook.qdc")
    assert answer.status_code == 200, answer.text
    assert ".qdc" in answer.headers["content-disposition"]
    root = etree.fromstring(answer.content)
    assert root.tag == "{urn:QDA-XML:codebook:1.0}CodeBook"
    # Its codes are the project schema's CodeBook: placed in a project, they validate.
    project = etree.Element("{urn:QDA-XML:project:1.0}Project", name="x")
    holder = etree.SubElement(project, "{urn:QDA-XML:project:1.0}CodeBook")
    text = etree.tostring(root.find("{urn:QDA-XML:codebook:1.0}Codes")).replace(
        b"urn:QDA-XML:codebook:1.0", b"urn:QDA-XML:project:1.0"
    )
    holder.append(etree.fromstring(text))
    assert SCHEMA.validate(project), SCHEMA.error_log
    names = [c.get("name") for c in root.iter("{urn:QDA-XML:codebook:1.0}Code")]
    assert "Écouter / reformuler" in names and "Diagnostic" in names


def test_who_may_export_a_project(
    rclient: TestClient, client: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    who, _ = factories.counsellor_member(engine, rclient, study["id"], "yann", "C1")
    for url in (
        f"/api/v1/studies/{study['id']}/export.qdpx",
        f"/api/v1/studies/{study['id']}/codebook.qdc",
    ):
        assert client.get(url, headers=factories.token(engine, who)).status_code == 403
    stranger = factories.account(engine, "zoe", "researcher")
    answer = client.get(
        f"/api/v1/studies/{study['id']}/export.qdpx", headers=factories.token(engine, stranger)
    )
    assert answer.status_code == 404
    bad = rclient.get(f"/api/v1/studies/{study['id']}/export.qdpx?media=tout")
    assert bad.status_code == 422
