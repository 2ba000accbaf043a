"""Every annotation of a study as one flat table (CSV, XLSX), a row per annotation, for R or
a spreadsheet: the exact rows, read back as their readers read them; who sees which rows;
the transcript only with the consents; the export in the audit log."""

import codecs
import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.models import AuditEvent
from autoconf.schemes.fields import STRUCTURED_FIELDS
from tests import factories

BOM = codecs.BOM_UTF8
TINY = b"not processed in these tests"
HEADER = [
    "recording",
    "recording_category",
    "layer",
    "start_timecode",
    "end_timecode",
    "start_s",
    "end_s",
    "duration_s",
    "codes",
    "codebooks",
    "author",
    "origin",
    "speaker",
    "note",
    *STRUCTURED_FIELDS,
    "annotation_id",
]
LISTEN, ASK = "Écouter / reformuler", "Questionner / vérifier"
TRANSCRIPT = (
    "WEBVTT\n\n"
    "00:00:01.000 --> 00:00:02.500\n<v Conseillère>Bonjour.\n\n"
    "00:01:03.000 --> 00:01:04.000\n<v Bénéficiaire>=SOMME(A1)\n"
).encode()


def _url(study_id: int, fmt: str = "csv", **query: str) -> str:
    params = "".join(f"&{key}={value}" for key, value in query.items())
    return f"/api/v1/studies/{study_id}/annotations?format={fmt}{params}"


def _csv(client: TestClient, study_id: int, **kw: Any) -> list[list[str]]:
    """The CSV as a French spreadsheet reads it: UTF-8 by its BOM, fields split on `;`."""
    answer = client.get(_url(study_id), **kw)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(BOM)
    return list(csv.reader(io.StringIO(answer.content[len(BOM) :].decode()), delimiter=";"))


def _fields(**values: str) -> list[str]:
    return [values.get(key, "") for key in STRUCTURED_FIELDS]


def _post(client: TestClient, recording: dict[str, Any], **body: Any) -> int:
    made = client.post(factories.annotations_url(recording), json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _import_transcript(client: TestClient, recording_id: int) -> None:
    imported = client.post(
        f"/api/v1/recordings/{recording_id}/transcript",
        files={"file": ("t.vtt", TRANSCRIPT, "text/vtt")},
    )
    assert imported.status_code in (200, 201), imported.text


def _consent_and_cues(client: TestClient, recording_id: int) -> list[int]:
    """Both parties' consents; then the transcript's cues are listed: their ids."""
    factories.consent_all(client, recording_id)
    listed = client.get(f"/api/v1/recordings/{recording_id}/annotations").json()
    return [a["id"] for a in listed if a["layer"] == "transcript"]


def test_one_row_per_annotation_as_r_and_spreadsheets_read_it(
    rclient: TestClient, study: dict[str, Any], recording: dict[str, Any], engine: Engine
) -> None:
    sid, rid = study["id"], recording["id"]
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    phases = factories.codes_by_path(rclient, sid, "phases")
    segment = _post(
        rclient,
        recording,
        start_ms=1_000,
        end_ms=4_500,
        code_ids=[schemes[ASK], schemes[LISTEN]],
        note="il reformule\npuis vérifie ; « d'accord »",
        fields={"but": "Faire préciser", "regret": "-rien"},
    )
    moment = _post(rclient, recording, start_ms=2_000, origin="prepared", shared=True, note="=1+1")
    # Two codebooks on one segment: codes in codebook order, whatever order they came in.
    phased = _post(
        rclient, recording, start_ms=61_250, end_ms=75_000, code_ids=[phases["Diagnostic"]]
    )
    both = _post(
        rclient,
        recording,
        start_ms=90_001,
        end_ms=90_002,
        code_ids=[phases["Diagnostic"], schemes[LISTEN]],
    )
    _import_transcript(rclient, rid)

    def row(*cells: object) -> list[str]:
        return ["A8 - 1", "session", *(str(c) for c in cells)]

    segment_row = row(
        "schemes",
        "0’01",
        "0’04",
        "1",
        "4,5",
        "3,5",
        f"{LISTEN} | {ASK}",
        "schemes | schemes",
        "Chercheur·e A",
        "coding",
        "",
        "il reformule\npuis vérifie ; « d'accord »",
        *_fields(but="Faire préciser", regret="'-rien"),
        segment,
    )
    blank = ""  # a moment has no end, no duration; this one no code
    moment_row = row(
        "prepared",
        "0’02",
        blank,
        "2",
        blank,
        blank,
        blank,
        blank,
        "Chercheur·e A",
        "prepared",
        blank,
        "'=1+1",
        *_fields(),
        moment,
    )
    phased_row = row(
        "phases",
        "1’01",
        "1’15",
        "61,25",
        "75",
        "13,75",
        "Diagnostic",
        "phases",
        "Chercheur·e A",
        "coding",
        "",
        "",
        *_fields(),
        phased,
    )
    both_row = row(
        "schemes",
        "1’30",
        "1’30",
        "90,001",
        "90,002",
        "0,001",
        f"{LISTEN} | Diagnostic",
        "schemes | phases",
        "Chercheur·e A",
        "coding",
        "",
        "",
        *_fields(),
        both,
    )
    # Without the consents the study asks, the transcript (the recording's content) is left out.
    assert _csv(rclient, sid) == [HEADER, segment_row, moment_row, phased_row, both_row]

    cues = _consent_and_cues(rclient, rid)
    first_cue = row(
        "transcript",
        "0’01",
        "0’02",
        "1",
        "2,5",
        "1,5",
        "",
        "",
        "Chercheur·e A",
        "transcript",
        "Conseillère",
        "Bonjour.",
        *_fields(),
        cues[0],
    )
    second_cue = row(
        "transcript",
        "1’03",
        "1’04",
        "63",
        "64",
        "1",
        "",
        "",
        "Chercheur·e A",
        "transcript",
        "Bénéficiaire",
        "'=SOMME(A1)",
        *_fields(),
        cues[1],
    )
    rows = _csv(rclient, sid)
    assert rows == [
        HEADER,
        segment_row,
        first_cue,
        moment_row,
        phased_row,
        second_cue,
        both_row,
    ]

    # XLSX: the same cells, numbers as numbers (seconds with milliseconds), blanks empty.
    answer = rclient.get(_url(sid, "xlsx"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="annotations-etude-' in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    cells = [list(line) for line in sheet.iter_rows(values_only=True)]
    assert cells[0] == HEADER
    assert cells[1] == [
        "A8 - 1",
        "session",
        "schemes",
        "0’01",
        "0’04",
        1.0,
        4.5,
        3.5,
        f"{LISTEN} | {ASK}",
        "schemes | schemes",
        "Chercheur·e A",
        "coding",
        None,
        "il reformule\npuis vérifie ; « d'accord »",
        *[v or None for v in _fields(but="Faire préciser", regret="'-rien")],
        segment,
    ]
    assert cells[3][:8] == ["A8 - 1", "session", "prepared", "0’02", None, 2.0, None, None]
    assert cells[3][13] == "'=1+1"
    assert cells[5][12:14] == ["Bénéficiaire", "'=SOMME(A1)"]
    assert cells[6][5:8] == [90.001, 90.002, (90_002 - 90_001) / 1000]
    assert [c[-1] for c in cells[1:]] == [int(r[-1]) for r in rows[1:]]

    # JSON (what a page would show): the same table, not an export.
    shown = rclient.get(f"/api/v1/studies/{sid}/annotations")
    assert shown.status_code == 200, shown.text
    assert shown.json()["header"] == HEADER
    assert len(shown.json()["rows"]) == 6
    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.study_id, e.object_type, e.detail["what"], e.detail["format"]) for e in exports] == [
        (sid, "study", "annotations", "csv"),
        (sid, "study", "annotations", "csv"),
        (sid, "study", "annotations", "xlsx"),
    ]


def test_column_names_stay_in_english_and_the_numbers_follow_the_reader(
    rclient: TestClient, study: dict[str, Any], recording: dict[str, Any]
) -> None:
    _post(rclient, recording, start_ms=1_500, end_ms=2_000, note="x")
    assert rclient.patch("/api/v1/me", json={"language": "en"}).status_code == 200
    answer = rclient.get(_url(study["id"]))
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].endswith(f'-{study["id"]}.csv"')
    rows = list(csv.reader(io.StringIO(answer.content[len(BOM) :].decode())))
    assert rows[0] == HEADER
    assert rows[1][5:8] == ["1.5", "2", "0.5"]
    tabbed = rclient.get(_url(study["id"], sep="tab"))
    assert tabbed.content[len(BOM) :].decode().splitlines()[1].split("\t")[5:8] == rows[1][5:8]


def test_each_member_gets_what_they_see(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    sid = study["id"]
    counsellor, record = factories.counsellor_member(engine, rclient, sid, "camille", "C1")
    theirs = factories.upload(rclient, sid, "C1 - 1", TINY, filename="a.mp4", counsellor_id=record)
    other = factories.upload(rclient, sid, "C2 - 1", TINY, filename="a.mp4")
    assert theirs.status_code == other.status_code == 201
    mine, elsewhere = theirs.json(), other.json()
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    principles = factories.codes_by_path(rclient, sid, "principles")
    principle = next(iter(principles))
    coded = _post(rclient, mine, start_ms=1_000, end_ms=2_000, code_ids=[schemes[LISTEN]])
    private = _post(rclient, mine, start_ms=1_500, origin="prepared", note="privée")
    shared = _post(rclient, mine, start_ms=1_600, origin="prepared", shared=True, note="pour moi")
    shown = _post(
        rclient,
        mine,
        start_ms=1_700,
        origin="prepared",
        shared=True,
        shown_to_counsellor=True,
        code_ids=[schemes[ASK], principles[principle]],
        note="à questionner",
    )
    _post(rclient, elsewhere, start_ms=1_000, origin="prepared", shared=True, note="ailleurs")
    started = rclient.post(f"/api/v1/recordings/{mine['id']}/live")
    assert started.status_code == 201, started.text
    stop = rclient.post(f"/api/v1/live/{started.json()['id']}/stops", json={"position_ms": 3_000})
    assert stop.status_code == 201, stop.text
    stop_id = stop.json()["id"]  # the annotation's
    read = rclient.patch(f"/api/v1/annotations/{stop_id}", json={"version": 1, "note": "lu"})
    assert read.status_code == 200, read.text
    _import_transcript(rclient, mine["id"])

    # The researcher: everything shared, and their own private mark (no transcript yet: no
    # consents).
    everything = rclient.get(_url(sid, "json")).json()["rows"]
    assert [r[-1] for r in everything[:5]] == [coded, private, shared, shown, stop_id]
    assert [r[0] for r in everything[5:]] == ["C2 - 1"]

    # The counsellor: their own recording only, no coding layer, no researcher's private or
    # unshown mark, the stop without the researcher's reading, scheme codes left out; the
    # transcript only with the consents.
    headers = factories.token(engine, counsellor)
    rows = _csv(rclient, sid, headers=headers)
    assert rows[0] == HEADER
    assert [(r[0], r[2], int(r[-1])) for r in rows[1:]] == [
        ("C1 - 1", "prepared", shown),
        ("C1 - 1", "stops", stop_id),
    ]
    assert rows[1][8:10] == [principle, "principles"]
    assert rows[1][13] == "à questionner"
    assert rows[2][13] == ""
    cues = _consent_and_cues(rclient, mine["id"])
    rows = _csv(rclient, sid, headers=headers)
    assert [int(r[-1]) for r in rows[1:]] == [cues[0], shown, stop_id, cues[1]]
    assert rows[1][12:14] == ["Conseillère", "Bonjour."]

    # Authors are codes, never names: the counsellor's own code, the researcher's letter.
    own = rclient.post(
        factories.annotations_url(mine),
        json={"start_ms": 4_000, "origin": "prepared", "shared": True, "note": "moi"},
        headers=headers,
    )
    assert own.status_code == 201, own.text
    authors = {int(r[-1]): r[10] for r in _csv(rclient, sid)[1:]}
    assert authors[own.json()["id"]] == "C1"
    assert authors[coded] == "Chercheur·e A"
    assert not {"camille", "claire"} & set(authors.values())

    # Another study's researcher: no such study for them.
    robin = factories.account(engine, "robin", "researcher")
    refused = rclient.get(_url(sid), headers=factories.token(engine, robin))
    assert refused.status_code == 404
    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [(e.username, e.detail["format"]) for e in exports] == [
        ("camille", "csv"),
        ("camille", "csv"),
        ("claire", "csv"),
    ]


def test_the_synthesis_page_links_to_the_table(rclient: TestClient, study: dict[str, Any]) -> None:
    page = rclient.get(f"/studies/{study['id']}/synthesis", headers={"accept": "text/html"})
    assert page.status_code == 200, page.text[:300]
    for fmt in ("csv", "xlsx"):
        assert f'href="/api/v1/studies/{study["id"]}/annotations?format={fmt}"' in page.text
