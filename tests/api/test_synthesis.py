"""The report's tables rebuilt from segments through the API: the synthesis of the schemes
used during the diagnostic (byte for byte against the reference CSV, and the same cells in
XLSX, ODS and DOCX), and the sources/references of ACCOMPAGNEMENT/Actions over 35
interviews. Every file as its reader reads it: French (`;`, decimal comma, French words) or
English."""

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from docx import Document
from fastapi.testclient import TestClient
from odf import opendocument, table, teletype
from openpyxl import load_workbook
from sqlalchemy import Engine

from autoconf.auth import accounts
from autoconf.db import session_scope
from tests import factories

DATA = Path(__file__).parents[1] / "data"
REFERENCE = (DATA / "synthesis-diagnostic.csv").read_bytes()
SOURCES = (DATA / "sources-references-actions.csv").read_bytes()
TINY = b"not processed in these tests"  # the synthesis needs no media
BOM = codecs.BOM_UTF8


def _reference() -> list[list[str]]:
    return list(csv.reader(io.StringIO(REFERENCE.decode())))


def spreadsheet(content: bytes, separator: str) -> list[list[str]]:
    """A CSV as a spreadsheet reads it with that separator: its BOM says UTF-8."""
    assert content.startswith(BOM)
    return list(csv.reader(io.StringIO(content[len(BOM) :].decode()), delimiter=separator))


@pytest.fixture
def report(rclient: TestClient, study: dict) -> dict:
    """Seven recordings coded like the report: each X is a scheme segment inside the
    recording's "Diagnostic" phase; every empty cell gets a distractor segment outside it."""
    sid = study["id"]
    reference = _reference()
    codes = reference[0][1:]
    recordings = {}
    for code in reversed(codes):  # created in another order than the columns
        response = factories.upload(rclient, sid, code, TINY, filename="a.mp4")
        assert response.status_code == 201, response.text
        recordings[code] = response.json()["id"]
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    phases = factories.codes_by_path(rclient, sid, "phases")
    # The report's table has the 9 schemes of its list: the case study's 3 are archived.
    wanted = [row[0] for row in reference[1:]]
    for path, code_id in schemes.items():
        if path not in wanted:
            assert rclient.patch(f"/api/v1/codes/{code_id}", json={"archived": True}).is_success
    for column, code in enumerate(codes):
        url = f"/api/v1/recordings/{recordings[code]}/annotations"
        phase = {"start_ms": 60_000, "end_ms": 600_000, "code_ids": [phases["Diagnostic"]]}
        assert rclient.post(url, json=phase).status_code == 201
        for index, row in enumerate(reference[1:]):
            scheme = schemes[row[0]]
            if row[column + 1] == "X":  # inside, or straddling the phase's start
                start = 30_000 if index % 3 == 0 else 100_000 + index * 10_000
                body = {"start_ms": start, "end_ms": start + 40_000, "code_ids": [scheme]}
            else:  # before it, touching it, or after it: outside
                start = [0, 20_000, 600_000][index % 3]
                body = {"start_ms": start, "end_ms": start + 40_000, "code_ids": [scheme]}
                if index % 3 == 1:
                    body["end_ms"] = 60_000
            assert rclient.post(url, json=body).status_code == 201
    return {"study": sid, "recordings": recordings, "codes": codes, "phase": phases["Diagnostic"]}


def _url(report: dict, **params: str) -> str:
    ids = ",".join(str(report["recordings"][code]) for code in report["codes"])
    query = "&".join(f"{k}={v}" for k, v in {"recordings": ids, **params}.items())
    return f"/api/v1/studies/{report['study']}/synthesis?{query}"


def test_the_diagnostic_synthesis_is_the_reports_byte_for_byte(
    rclient: TestClient, report: dict
) -> None:
    response = rclient.get(_url(report, phase=str(report["phase"]), format="csv", sep="comma"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content == BOM + REFERENCE  # UTF-8 with its BOM, "\n" line ends
    # A French reader's default: the same cells, between semicolons.
    french = rclient.get(_url(report, phase=str(report["phase"]), format="csv")).content
    assert spreadsheet(french, ";") == _reference()
    # Without the phase, the distractors count: the table is no longer the report's.
    whole = rclient.get(_url(report, format="csv", sep="comma")).content
    assert whole != BOM + REFERENCE and whole.count(b"X") > REFERENCE.count(b"X")
    as_json = rclient.get(_url(report, phase=str(report["phase"]))).json()
    assert [c["code"] for c in as_json["columns"]] == report["codes"]
    assert [[r["label"], *r["cells"]] for r in as_json["rows"]] == _reference()[1:]
    counts = rclient.get(_url(report, phase=str(report["phase"]), value="count")).json()
    assert {cell for row in counts["rows"] for cell in row["cells"]} == {0, 1}


def test_the_spreadsheets_and_the_document_hold_the_same_cells(
    rclient: TestClient, report: dict
) -> None:
    expected = _reference()
    phase = str(report["phase"])
    xlsx = rclient.get(_url(report, phase=phase, format="xlsx"))
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [[cell or "" for cell in row] for row in sheet.iter_rows(values_only=True)] == expected
    ods = rclient.get(_url(report, phase=phase, format="ods"))
    document = opendocument.load(io.BytesIO(ods.content))
    rows = [
        [teletype.extractText(cell) for cell in row.getElementsByType(table.TableCell)]
        for row in document.spreadsheet.getElementsByType(table.TableRow)
    ]
    assert rows == expected
    docx = rclient.get(_url(report, phase=phase, format="docx"))
    grid = Document(io.BytesIO(docx.content)).tables[0]
    assert [[cell.text for cell in row.cells] for row in grid.rows] == expected
    for fmt, marker in (("html", b"<table>"), ("md", b"| Se pr"), ("tex", b"\\begin{tabular}")):
        text = rclient.get(_url(report, phase=phase, format=fmt))
        assert text.status_code == 200 and marker in text.content, fmt
        assert "Écouter / reformuler".encode() in text.content


def test_values_coder_and_bad_parameters(rclient: TestClient, report: dict) -> None:
    phase = str(report["phase"])
    first = rclient.get(_url(report, phase=phase, value="first")).json()
    cells = [cell for row in first["rows"] for cell in row["cells"] if cell is not None]
    # The segment straddling the phase's start (at 30 s) is used from the phase's start, 60 s.
    assert cells and min(cells) == 60_000
    whole = rclient.get(_url(report, value="first")).json()
    assert min(c for row in whole["rows"] for c in row["cells"] if c is not None) == 0
    share = rclient.get(_url(report, phase=phase, value="share")).json()
    assert all(0 <= c <= 1 for row in share["rows"] for c in row["cells"] if c is not None)
    me = rclient.get("/api/v1/me").json()["id"]
    assert rclient.get(_url(report, coder=str(me))).json() == rclient.get(_url(report)).json()
    nobody = rclient.get(_url(report, coder="999", value="count")).json()
    assert all(cell == 0 for row in nobody["rows"] for cell in row["cells"])
    sid = report["study"]
    for query, words in (
        ("recordings=1,x", "virgules"),
        ("recordings=999999", "inconnu"),
        ("phase=1", "phase"),
        ("value=mean", None),
        ("format=pdf", None),
        ("coder=someone", "consensus"),
    ):
        response = rclient.get(f"/api/v1/studies/{sid}/synthesis?{query}")
        assert response.status_code == 422, query
        if words:
            assert words in str(response.json()["detail"]), query


def test_only_the_studys_researchers_get_the_tables(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict
) -> None:
    who, _ = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    factories.login(client, who)
    assert client.get(f"/api/v1/studies/{study['id']}/synthesis").status_code == 403


def test_sources_and_references_of_the_actions_over_35_interviews(
    rclient: TestClient, study: dict
) -> None:
    """Each child's segments spread over its number of interviews; the parent's sources
    are their union (35), its references their sum (281)."""
    sid = study["id"]
    expected = list(csv.reader(io.StringIO(SOURCES.decode())))
    categories = factories.codes_by_path(rclient, sid, "categories")
    recordings = []
    for number in range(35):
        created = factories.upload(rclient, sid, f"R{number}", TINY, filename="a.mp4").json()
        interview = rclient.post(
            f"/api/v1/studies/{sid}/interviews",
            json={"code": f"E{number}", "recording_ids": [created["id"]]},
        )
        assert interview.status_code == 201, interview.text
        recordings.append(created["id"])
    offset = 0
    for path, _, sources, references in expected[2:]:  # the children of Actions
        chosen = [recordings[(offset + i) % 35] for i in range(int(sources))]
        offset += int(sources)
        for index in range(int(references)):
            recording = chosen[index % len(chosen)]
            created = rclient.post(
                f"/api/v1/recordings/{recording}/annotations",
                json={
                    "start_ms": index * 1000,
                    "end_ms": index * 1000 + 500,
                    "code_ids": [categories[path]],
                },
            )
            assert created.status_code == 201
    books = rclient.get(f"/api/v1/studies/{sid}/codebooks").json()
    book = next(b for b in books if b["kind"] == "categories")
    result = rclient.get(f"/api/v1/codebooks/{book['id']}/sources").json()
    assert result["header"] == ["Code", "Description", "Sources", "Références"]
    actions = [
        [str(cell) for cell in row]
        for row in result["rows"]
        if row[0] == "ACCOMPAGNEMENT/Actions" or row[0].startswith("ACCOMPAGNEMENT/Actions/")
    ]
    assert actions == expected[1:]
    as_csv = rclient.get(f"/api/v1/codebooks/{book['id']}/sources?format=csv&sep=comma").content
    lines = as_csv[len(BOM) :].decode().splitlines(keepends=True)
    kept = [line for line in lines[1:] if line.startswith("ACCOMPAGNEMENT/Actions")]
    assert "".join(kept).encode() == SOURCES.split(b"\n", 1)[1]  # the reference's lines


def test_the_synthesis_page_shows_the_table_and_its_downloads(
    rclient: TestClient, report: dict
) -> None:
    ids = ",".join(str(report["recordings"][code]) for code in report["codes"])
    page = rclient.get(
        f"/studies/{report['study']}/synthesis?recordings={ids}&phase={report['phase']}",
        headers={"accept": "text/html"},
    )
    assert page.status_code == 200, page.text
    text = page.text
    header = text.index("<thead>")
    positions = [text.index(f">{code}</th>", header) for code in report["codes"]]
    assert positions == sorted(positions)  # the columns in the order asked for
    assert text.count('<td class="num">X</td>') == REFERENCE.count(b"X")
    for fmt in ("csv", "xlsx", "ods", "docx", "html", "md", "tex"):
        assert f"format={fmt}" in text
    link = text[text.index("/api/v1/studies/") :].split('"')[0].replace("&amp;", "&")
    assert "format=csv" in link
    assert spreadsheet(rclient.get(link).content, ";") == _reference()
    # Every other table offers every format by name: no address to edit by hand.
    assert "« format= »" not in text and "changez" not in text and "l&#39;API" not in text
    crosstab = re.search(r'action="(/api/v1/codebooks/\d+/crosstab)"', text)
    counts = re.search(r'action="(/api/v1/studies/\d+/counts)"', text)
    assert crosstab and counts and text.count('<select name="format"') >= 2
    for fmt, label in (("ods", "ODS"), ("tex", "LaTeX"), ("md", "Markdown")):
        assert f'<option value="{fmt}">{label}</option>' in text
    chosen = rclient.get(f"{crosstab[1]}?by=structures&value=duration&format=ods")
    assert chosen.status_code == 200 and "attachment" in chosen.headers["content-disposition"]
    assert rclient.get(f"{counts[1]}?by=centres&format=md").status_code == 200
    # Fewer columns, another value: the page follows.
    two = ",".join(str(report["recordings"][code]) for code in report["codes"][:2])
    counted = rclient.get(f"/studies/{report['study']}/synthesis?recordings={two}&value=count")
    assert counted.status_code == 200 and counted.text.count('<td class="num">') == 2 * 9
    bad = rclient.get(
        f"/studies/{report['study']}/synthesis?recordings=x", headers={"accept": "text/html"}
    )
    assert bad.status_code == 422 and "virgules" in bad.text


def test_the_synthesis_form_as_a_browser_sends_it(rclient: TestClient, report: dict) -> None:
    """Empty fields mean "all": the whole session, every coder."""
    ids = ",".join(str(report["recordings"][code]) for code in report["codes"])
    page = rclient.get(
        f"/studies/{report['study']}/synthesis?recordings={ids}&phase=&coder=&value=duration",
        headers={"accept": "text/html"},
    )
    assert page.status_code == 200, page.text
    assert "0’40" in page.text  # a 40-second segment, written as the researchers write it
    bad = rclient.get(
        f"/studies/{report['study']}/synthesis?phase=abc", headers={"accept": "text/html"}
    )
    assert bad.status_code == 422 and "phase" in bad.text


def test_cross_tables_by_counsellor_structure_and_code(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    apec = rclient.post(f"/api/v1/studies/{sid}/structures", json={"code": "APEC"}).json()
    ml = rclient.post(f"/api/v1/studies/{sid}/structures", json={"code": "ML"}).json()
    a4 = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A4", "structure_id": apec["id"]}
    ).json()
    a8 = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A8", "structure_id": ml["id"]}
    ).json()
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    listen, ask = schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]
    plan = {
        ("A4 - 1", a4["id"]): [(listen, 0, 10), (ask, 5, 15)],
        ("A8 - 1", a8["id"]): [(listen, 0, 4)],
    }
    for (code, counsellor), segments in plan.items():
        rec = factories.upload(rclient, sid, code, TINY, filename="a.mp4", counsellor_id=counsellor)
        for scheme, start, end in segments:
            rclient.post(
                f"/api/v1/recordings/{rec.json()['id']}/annotations",
                json={"start_ms": start * 1000, "end_ms": end * 1000, "code_ids": [scheme]},
            )
    books = {b["kind"]: b["id"] for b in rclient.get(f"/api/v1/studies/{sid}/codebooks").json()}
    url = f"/api/v1/codebooks/{books['schemes']}/crosstab"

    def row(table: dict, label: str) -> list:
        return next(r[1:] for r in table["rows"] if r[0] == label)

    by_counsellor = rclient.get(f"{url}?by=counsellors").json()
    assert by_counsellor["header"][1:] == ["A4", "A8"]
    assert row(by_counsellor, "Écouter / reformuler") == [1, 1]
    by_structure = rclient.get(f"{url}?by=structures&value=duration").json()
    assert by_structure["header"][1:] == ["APEC", "ML"]
    assert row(by_structure, "Écouter / reformuler") == [10.0, 4.0]
    together = rclient.get(f"{url}?by=codes&value=duration").json()
    assert (
        row(together, "Écouter / reformuler")[
            together["header"].index("Questionner / vérifier") - 1
        ]
        == 5.0
    )
    assert rclient.get(f"{url}?by=recordings").json()["header"][1:] == ["A4 - 1", "A8 - 1"]
    sheet = rclient.get(f"{url}?by=structures&format=xlsx")
    assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
    other = rclient.post("/api/v1/studies", json={"name": "Autre"}).json()
    elsewhere = next(
        b["id"] for b in rclient.get(f"/api/v1/studies/{other['id']}/codebooks").json()
    )
    refused = rclient.get(f"{url}?by=codes&other={elsewhere}")
    assert refused.status_code == 422 and "cette étude" in refused.json()["detail"]
    assert rclient.get(f"{url}?by=planets").status_code == 422


def test_segments_grouped_by_code_with_their_links(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    rec = factories.upload(rclient, sid, "A8 - 1", TINY, filename="a.mp4").json()
    categories = factories.codes_by_path(rclient, sid, "categories")
    cv, stage = categories["ACCOMPAGNEMENT/Actions/CV"], categories["ACCOMPAGNEMENT/Actions/Stage"]
    url = f"/api/v1/recordings/{rec['id']}/annotations"
    rclient.post(
        url,
        json={
            "start_ms": 602_000,
            "end_ms": 615_000,
            "code_ids": [cv, stage],
            "note": "Elle propose de <refaire> le CV",
            "fields": {"but": "Valoriser les compétences"},
            "verbatims": [
                {"text": "Je n'ai jamais fait de CV", "speaker": "Bénéficiaire", "ms": 603_000}
            ],
        },
    )
    rclient.post(url, json={"start_ms": 1000, "end_ms": 2000, "code_ids": [stage]})
    rclient.post(url, json={"start_ms": 3000, "origin": "prepared", "code_ids": [cv]})  # private
    books = {b["kind"]: b["id"] for b in rclient.get(f"/api/v1/studies/{sid}/codebooks").json()}
    # Quotes are what the recording says: none exported before its consent is recorded.
    withheld = rclient.get(f"/api/v1/codebooks/{books['categories']}/segments?format=html")
    assert "Elle propose de" in withheld.text and "jamais fait de CV" not in withheld.text
    factories.consent_all(rclient, rec["id"])
    report = rclient.get(f"/api/v1/codebooks/{books['categories']}/segments").json()
    by_path = {group["path"]: group["segments"] for group in report}
    assert len(by_path["ACCOMPAGNEMENT/Actions"]) == 2  # the parent gathers both, once each
    assert [s["time"] for s in by_path["ACCOMPAGNEMENT/Actions/Stage"]] == [
        "0’01 – 0’02",
        "10’02 – 10’15",
    ]
    first = by_path["ACCOMPAGNEMENT/Actions/CV"][0]
    assert first["recording"] == "A8 - 1" and first["url"].endswith(
        f"/recordings/{rec['id']}#t=602000"
    )
    html = rclient.get(f"/api/v1/codebooks/{books['categories']}/segments?format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    page = html.text
    assert "Elle propose de &lt;refaire&gt; le CV" in page  # escaped
    assert "But / sous-but" in page and "Je n&#x27;ai jamais fait de CV" in page
    assert f'href="http://testserver/recordings/{rec["id"]}#t=602000"' in page
    docx = rclient.get(f"/api/v1/codebooks/{books['categories']}/segments?format=docx")
    document = Document(io.BytesIO(docx.content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "ACCOMPAGNEMENT/Actions/CV (1)" in text and "Elle propose de <refaire> le CV" in text
    links = [rel.target_ref for rel in document.part.rels.values() if rel.is_external]
    assert f"http://testserver/recordings/{rec['id']}#t=602000" in links


def test_counts_per_structure_centre_and_researcher(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    apec = rclient.post(
        f"/api/v1/studies/{sid}/structures",
        json={"code": "APEC", "name": "Apec Lyon", "centre": "Part-Dieu", "city": "Lyon"},
    ).json()
    a4 = rclient.post(
        f"/api/v1/studies/{sid}/counsellors", json={"code": "A4", "structure_id": apec["id"]}
    ).json()
    a8 = rclient.post(f"/api/v1/studies/{sid}/counsellors", json={"code": "A8"}).json()
    recs = [
        factories.upload(rclient, sid, code, TINY, filename="a.mp4", counsellor_id=who).json()["id"]
        for code, who in (("A4 - 1", a4["id"]), ("A4 - 2", a4["id"]), ("A8 - 1", a8["id"]))
    ]
    rclient.post(
        f"/api/v1/studies/{sid}/interviews",
        json={"code": "A4", "counsellor_id": a4["id"], "recording_ids": recs[:2]},
    )
    by_structure = rclient.get(f"/api/v1/studies/{sid}/counts?by=structures").json()
    assert by_structure["header"] == [
        "Structure",
        "Séances enregistrées",
        "Conseillers",
        "Auto-confrontations",
    ]
    assert by_structure["rows"] == [
        ["APEC", 2, 1, 1],  # pseudonymised: the code, not the name
        ["—", 1, 1, 0],
        ["Total", 3, 2, 1],
    ]
    by_centre = rclient.get(f"/api/v1/studies/{sid}/counts?by=centres").json()
    assert by_centre["rows"][0] == ["Part-Dieu, Lyon", 2, 1, 1]
    by_researcher = rclient.get(f"/api/v1/studies/{sid}/counts?by=researchers").json()
    assert by_researcher["rows"][0] == ["Chercheur·e A", 3, 2, 1]  # never a user name
    as_csv = rclient.get(f"/api/v1/studies/{sid}/counts?format=csv").content
    assert spreadsheet(as_csv, ";")[-1] == ["Total", "3", "2", "1"]


def test_the_consensus_is_its_own_coder(rclient: TestClient, study: dict) -> None:
    """The agreed coding lives on the consensus layer: counted with coder=consensus only,
    never added to the coders' own coding."""
    sid = study["id"]
    rec = factories.upload(rclient, sid, "A4", TINY, filename="a.mp4").json()
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    listen, inform = schemes["Écouter / reformuler"], schemes["Informer / expliquer"]
    url = f"/api/v1/recordings/{rec['id']}/annotations"
    rclient.post(url, json={"start_ms": 0, "end_ms": 5000, "code_ids": [listen]})
    agreed = rclient.post(
        url, json={"start_ms": 0, "end_ms": 5000, "code_ids": [inform], "layer": "consensus"}
    )
    assert agreed.status_code == 201 and agreed.json()["layer"] == "consensus"
    synthesis_url = f"/api/v1/studies/{sid}/synthesis?value=count"

    def counts(table: dict) -> dict[str, int]:
        return {row["label"]: row["cells"][0] for row in table["rows"] if row["cells"][0]}

    assert counts(rclient.get(synthesis_url).json()) == {"Écouter / reformuler": 1}
    consensus = rclient.get(f"{synthesis_url}&coder=consensus").json()
    assert counts(consensus) == {"Informer / expliquer": 1}
    # Phases frame everyone's coding, the consensus too: one agreed on the consensus layer.
    phases = factories.codes_by_path(rclient, sid, "phases")
    rclient.post(
        url,
        json={
            "start_ms": 0,
            "end_ms": 9000,
            "code_ids": [phases["Diagnostic"]],
            "layer": "consensus",
        },
    )
    in_phase = rclient.get(f"{synthesis_url}&coder=consensus&phase={phases['Diagnostic']}").json()
    assert counts(in_phase) == {"Informer / expliquer": 1}
    rclient.patch(f"/api/v1/codes/{phases['3ème partie']}", json={"archived": True})
    archived = rclient.get(f"{synthesis_url}&phase={phases['3ème partie']}")
    assert archived.status_code == 422 and "archivée" in archived.json()["detail"]
    marked = rclient.get(f"/api/v1/studies/{sid}/synthesis?coder=consensus").json()
    assert [row["label"] for row in marked["rows"] if row["cells"] == ["X"]] == [
        "Informer / expliquer"
    ]


def test_odd_input_is_refused_or_exported_safely(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    for query in ("coder=%C2%B2", "recordings=%C2%B2"):
        assert rclient.get(f"/api/v1/studies/{sid}/synthesis?{query}").status_code == 422, query
    page = rclient.get(f"/studies/{sid}/synthesis?phase=%C2%B2", headers={"accept": "text/html"})
    assert page.status_code == 422
    # A vertical tab pasted from Word in a code and a recording code: every format still works.
    books = {b["kind"]: b for b in rclient.get(f"/api/v1/studies/{sid}/codebooks").json()}
    first = books["schemes"]["codes"][0]
    assert rclient.patch(
        f"/api/v1/codes/{first['id']}", json={"label": "Se\x0bprésenter"}
    ).is_success
    rec = factories.upload(rclient, sid, "A\x0b1", TINY, filename="a.mp4").json()
    rclient.post(
        f"/api/v1/recordings/{rec['id']}/annotations",
        json={"start_ms": 0, "end_ms": 1000, "code_ids": [first["id"]], "note": "un\x0bdeux"},
    )
    for fmt in ("csv", "xlsx", "ods", "docx", "html", "md", "tex"):
        response = rclient.get(f"/api/v1/studies/{sid}/synthesis?format={fmt}")
        assert response.status_code == 200, fmt
    for fmt in ("xlsx", "docx"):
        sources = rclient.get(f"/api/v1/codebooks/{books['schemes']['id']}/sources?format={fmt}")
        assert sources.status_code == 200, fmt
    segments = rclient.get(f"/api/v1/codebooks/{books['schemes']['id']}/segments?format=docx")
    assert segments.status_code == 200
    assert "Seprésenter" in "\n".join(
        p.text for p in Document(io.BytesIO(segments.content)).paragraphs
    )
    # No column: the page says so instead of bringing every recording back.
    empty = rclient.get(f"/studies/{sid}/synthesis?recordings=,", headers={"accept": "text/html"})
    assert empty.status_code == 200 and "Aucune situation en colonne" in empty.text


def speak(engine: Engine, who: factories.Account, language: str) -> None:
    with session_scope(engine) as session:
        accounts.get_user(session, who.username).language = language


def _sources_url(rclient: TestClient, sid: int, **params: str) -> str:
    books = {b["kind"]: b["id"] for b in rclient.get(f"/api/v1/studies/{sid}/codebooks").json()}
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/codebooks/{books['categories']}/sources?{query}"


FRENCH_SHARE = re.compile("\\d+,\\d\u202f%")  # 7,4 %: what a French spreadsheet reads as 7.4 %
ENGLISH_SHARE = re.compile("\\d+\\.\\d%")


def test_a_french_reader_gets_semicolons_decimal_commas_and_french_words(
    rclient: TestClient, report: dict
) -> None:
    phase = str(report["phase"])
    response = rclient.get(_url(report, phase=phase, value="share", format="csv"))
    assert response.status_code == 200, response.text
    rows = spreadsheet(response.content, ";")
    assert rows[0] == ["Schèmes d'action", *report["codes"]]
    assert {len(row) for row in rows} == {len(report["codes"]) + 1}  # no comma split a cell
    shares = [cell for row in rows[1:] for cell in row[1:]]
    assert shares and all(FRENCH_SHARE.fullmatch(cell) for cell in shares), shares
    assert "7,4\u202f%" in shares  # 40 s of the 540 s of the phase
    assert 'filename="synthese-schemes-etude-' in response.headers["content-disposition"]
    sources = rclient.get(_sources_url(rclient, report["study"], format="csv"))
    assert spreadsheet(sources.content, ";")[0] == ["Code", "Description", "Sources", "Références"]
    assert (
        'filename="sources-references-categories-etude-' in sources.headers["content-disposition"]
    )
    # The same numbers in the other text formats a French reader opens.
    for fmt in ("html", "md", "docx"):
        content = rclient.get(_url(report, phase=phase, value="share", format=fmt)).content
        if fmt == "docx":
            grid = Document(io.BytesIO(content)).tables[0]
            content = "\n".join(cell.text for row in grid.rows for cell in row.cells).encode()
        assert "7,4\u202f%".encode() in content and b"7.4" not in content, fmt
    tex = rclient.get(_url(report, phase=phase, format="tex")).text
    assert tex.startswith("% Synthèse des schèmes d'action (autoconf). Avec pdflatex, ajoutez")
    assert '<html lang="fr">' in rclient.get(_url(report, format="html")).text
    page = rclient.get(
        f"/studies/{report['study']}/synthesis?value=share&phase={phase}",
        headers={"accept": "text/html"},
    ).text
    assert ">7,4\u202f%</td>" in page
    # Spreadsheets get numbers, whatever the language.
    sheet = load_workbook(
        io.BytesIO(rclient.get(_url(report, phase=phase, value="share", format="xlsx")).content)
    ).active
    assert sheet is not None
    assert all(
        isinstance(cell, int | float) and not isinstance(cell, bool)
        for row in sheet.iter_rows(min_row=2, min_col=2, values_only=True)
        for cell in row
    )


def test_an_english_reader_gets_commas_decimal_points_and_english_words(
    rclient: TestClient, engine: Engine, researcher: factories.Account, report: dict
) -> None:
    speak(engine, researcher, "en")
    phase = str(report["phase"])
    response = rclient.get(_url(report, phase=phase, value="share", format="csv"))
    rows = spreadsheet(response.content, ",")
    assert rows[0] == ["Action schemes", *report["codes"]]
    shares = [cell for row in rows[1:] for cell in row[1:]]
    assert shares and all(ENGLISH_SHARE.fullmatch(cell) for cell in shares), shares
    assert 'filename="synthesis-schemes-study-' in response.headers["content-disposition"]
    sources = rclient.get(_sources_url(rclient, report["study"], format="csv"))
    assert spreadsheet(sources.content, ",")[0] == ["Code", "Description", "Sources", "References"]
    assert (
        'filename="sources-references-categories-study-' in sources.headers["content-disposition"]
    )
    tex = rclient.get(_url(report, phase=phase, format="tex")).text
    assert tex.startswith("% Synthesis of the action schemes (autoconf). Needs \\usepackage")
    assert '<html lang="en">' in rclient.get(_url(report, format="html")).text
    page = rclient.get(
        f"/studies/{report['study']}/synthesis?value=share&phase={phase}",
        headers={"accept": "text/html"},
    ).text
    assert ">7.4%</td>" in page and "7,4" not in page


def test_the_reader_chooses_the_separator(rclient: TestClient, report: dict) -> None:
    phase = str(report["phase"])
    for sep, separator in (("comma", ","), ("tab", "\t"), ("semicolon", ";")):
        response = rclient.get(_url(report, phase=phase, value="share", format="csv", sep=sep))
        assert response.status_code == 200, sep
        rows = spreadsheet(response.content, separator)
        assert {len(row) for row in rows} == {len(report["codes"]) + 1}, sep
        # Still a French reader's numbers: a comma separator quotes them.
        assert "7,4\u202f%" in [cell for row in rows for cell in row], sep
    with_comma = rclient.get(_url(report, phase=phase, value="share", format="csv", sep="comma"))
    assert '"7,4\u202f%"'.encode() in with_comma.content
    # Formats other than CSV take no notice of it.
    html = rclient.get(_url(report, phase=phase, value="share", format="html", sep="tab"))
    assert html.status_code == 200 and "7,4\u202f%".encode() in html.content


@pytest.mark.parametrize("sep", ["pipe", ";", "%3B", "SEMICOLON", ""])
def test_an_unknown_separator_is_refused_clearly(
    rclient: TestClient, study: dict, sep: str
) -> None:
    sid = study["id"]
    for url in (
        f"/api/v1/studies/{sid}/synthesis?format=csv&sep={sep}",
        _sources_url(rclient, sid, format="csv", sep=sep),
        f"/api/v1/studies/{sid}/counts?format=csv&sep={sep}",
    ):
        response = rclient.get(url)
        assert response.status_code == 422, url
        [issue] = response.json()["detail"]
        assert issue["loc"] == ["query", "sep"]
        assert all(name in issue["msg"] for name in ("semicolon", "comma", "tab")), issue


def test_the_separator_is_documented(rclient: TestClient) -> None:
    schema = rclient.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/studies/{study_id}/synthesis",
        "/api/v1/codebooks/{codebook_id}/sources",
        "/api/v1/codebooks/{codebook_id}/crosstab",
        "/api/v1/studies/{study_id}/counts",
        "/api/v1/interviews/{interview_id}/report",
        "/api/v1/audit.csv",
    ):
        [sep] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "sep"]
        assert "semicolon" in str(sep["schema"]) and "French" in sep["description"], path


def test_cross_tables_and_counts_are_named_in_the_readers_language(
    rclient: TestClient, engine: Engine, researcher: factories.Account, study: dict
) -> None:
    sid = study["id"]
    factories.upload(rclient, sid, "A4 - 1", TINY, filename="a.mp4")
    books = {b["kind"]: b["id"] for b in rclient.get(f"/api/v1/studies/{sid}/codebooks").json()}
    crosstab = f"/api/v1/codebooks/{books['schemes']}/crosstab?format=xlsx"
    counts = f"/api/v1/studies/{sid}/counts?by=researchers&format=csv"

    def names(separator: str) -> tuple[str, str, str, list[str]]:
        sheet = rclient.get(crosstab)
        counted = rclient.get(counts)
        return (
            sheet.headers["content-disposition"],
            load_workbook(io.BytesIO(sheet.content)).sheetnames[0],
            counted.headers["content-disposition"],
            spreadsheet(counted.content, separator)[0],
        )

    disposition, sheet, counted, header = names(";")
    assert f'"croisement-schemes-enregistrements-etude-{sid}.xlsx"' in disposition
    assert sheet == "Schèmes d'action × enregistreme"  # cut at 31 characters
    assert f'"effectifs-chercheurs-etude-{sid}.csv"' in counted
    assert header == ["Chercheur·e", "Séances enregistrées", "Conseillers", "Auto-confrontations"]
    speak(engine, researcher, "en")
    disposition, sheet, counted, header = names(",")
    assert f'"crosstab-schemes-recordings-study-{sid}.xlsx"' in disposition
    assert sheet.endswith("× recordings")
    assert f'"counts-researchers-study-{sid}.csv"' in counted
    assert header == [
        "Researcher",
        "Recorded sessions",
        "Counsellors",
        "Self-confrontation interviews",
    ]
