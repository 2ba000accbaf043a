"""The agreement report page and its files: two coders' known segments on an 11-minute
recording, the figures as the page and the CSV, XLSX and HTML files give them, the
disagreements at their times (`10’02`), and who may see them."""

import csv
import io
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine
from sqlmodel import select

from autoconf.db import session_scope
from autoconf.models import AuditEvent
from tests import factories

# Once (the SQLite pass): the report's figures and files (CSV, XLSX, HTML), computed in
# Python from segments that test_agreement_api and test_synthesis read on both passes.
pytestmark = pytest.mark.once

LISTEN, ASK = "Écouter / reformuler", "Questionner / vérifier"
# Claire: listen [0, 10’02), ask [10’02, 11’00); Inès: listen [0, 10’05), ask [10’05, 10’50).
# On 660 one-second slices: 647 agree; kappa 0.875254 (scikit-learn on the same slices).
KAPPA = 0.875254434428613
HTML = {"accept": "text/html"}


@pytest.fixture
def pair(
    rclient: TestClient, client: TestClient, recording: dict[str, Any], engine: Engine
) -> dict[str, Any]:
    ines = factories.researcher_member(engine, rclient, recording["study_id"], "ines")
    factories.set_duration(engine, recording["id"], 660_000)
    schemes = factories.codes_by_path(rclient, recording["study_id"], "schemes")
    url = factories.annotations_url(recording)
    as_ines = factories.token(engine, ines)
    for who, start, end, code in (
        (None, 0, 602_000, LISTEN),
        (None, 602_000, 660_000, ASK),
        (as_ines, 0, 605_000, LISTEN),
        (as_ines, 605_000, 650_000, ASK),
    ):
        body = {"start_ms": start, "end_ms": end, "code_ids": [schemes[code]]}
        made = (client if who else rclient).post(url, json=body, headers=who or {})
        assert made.status_code == 201, made.text
    claire = rclient.get("/api/v1/me").json()["id"]
    return {
        "study": recording["study_id"],
        "recording": recording["id"],
        "claire": claire,
        "ines": ines,
        "query": f"coder_a={claire}&coder_b={ines.id}&layer=schemes",
    }


def _page(client: TestClient, pair: dict[str, Any], query: str = "", **kw: Any) -> Any:
    return client.get(f"/studies/{pair['study']}/agreement?{query}", headers=HTML, **kw)


def _file(client: TestClient, pair: dict[str, Any], fmt: str, query: str = "") -> Any:
    url = f"/studies/{pair['study']}/agreement/report.{fmt}?{query or pair['query']}"
    return client.get(url)


def _sections(content: bytes, delimiter: str = ";") -> dict[str, list[list[str]]]:
    """The CSV's sections by title: a title line, a header, rows, an empty line between."""
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))
    sections: dict[str, list[list[str]]] = {"": [lines[0]]}
    current = ""
    for index, line in enumerate(lines[1:], start=1):
        if not line:
            current = lines[index + 1][0]
            sections[current] = []
        elif line != [current]:
            sections[current].append(line)
    return sections


def test_the_page_explains_the_figures_and_lists_the_disagreements(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    first = _page(rclient, pair)
    assert first.status_code == 200, first.text
    # Before choosing: the form, the researchers who coded, nothing computed.
    assert 'name="coder_a"' in first.text and ">ines</option>" in first.text
    assert "κ de Cohen" not in first.text
    page = _page(rclient, pair, pair["query"])
    assert page.status_code == 200, page.text
    text = page.text
    assert "Accord entre claire et ines" in text
    assert "98,0\u202f%" in text  # 647 of 660 slices, in the sentences and the table
    assert "κ de Cohen : 0,875 — accord presque parfait selon Landis &amp; Koch." in text
    assert f"{KAPPA:.3f}".replace(".", ",") in text
    # The disagreements, each start linked to the annotator at that millisecond.
    recording = pair["recording"]
    assert f'<a href="/recordings/{recording}#t=602000">10’02</a>' in text
    assert f'<a href="/recordings/{recording}#t=650000">10’50</a>' in text
    assert "<td>(aucun code)</td>" in text  # where Inès coded nothing
    # Lengths with one decimal; "d'ines", not "de ines"; the alphas with their subscripts.
    assert '<td class="num">3,0</td>' in text and '<td class="num">602,0</td>' in text
    assert "Segments seuls d&#x27;ines" in text and "de ines" not in text
    assert "α<sub>u</sub> sur le continuum" in text and "α_" not in text
    # The confusion matrix: agreement marked green where there is some, not on a 0.
    assert '<td class="num diagonal">602</td>' in text
    assert 'diagonal">0<' not in text  # no code × no code: 0 slices
    assert "/<wbr>" in text  # "Écouter / reformuler" may break after its slash
    downloads = [
        f'href="/studies/{pair["study"]}/agreement/report.{fmt}?coder_a={pair["claire"]}'
        for fmt in ("csv", "xlsx", "html")
    ]
    assert all(link in text for link in downloads)


def test_the_csv_holds_every_section_with_full_precision(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    answer = _file(rclient, pair, "csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="accord-etude-' in answer.headers["content-disposition"]
    sections = _sections(answer.content)
    assert list(sections) == [
        "",
        "Paramètres",
        "Indices d'accord",
        "Par code",
        "Matrice de confusion",
        "Désaccords",
    ]
    parameters = {row[0]: row[1] for row in sections["Paramètres"][1:]}
    assert parameters["Codeur A"] == "claire" and parameters["Codeur B"] == "ines"
    assert parameters["Enregistrements"] == "A8 - 1"
    assert parameters["Durée totale"] == "11’00"
    assert parameters["Nombre de tranches"] == "660"
    assert parameters["Seuil de recouvrement des segments"] == "0,6"
    figures = {row[0]: row for row in sections["Indices d'accord"][1:]}
    assert figures["κ de Cohen"][1] == f"{KAPPA:.6f}".replace(".", ",")
    assert figures["Accord observé (pourcentage)"][1] == "98,030303"
    assert figures["κ de Cohen"][2] == "accord presque parfait selon Landis & Koch"
    assert figures["κ de Cohen"][4] == "tranches de 1 s"
    assert sections["Désaccords"] == [
        ["Enregistrement", "Début", "Fin", "Durée (s)", "Codes de claire", "Codes d'ines"],
        ["A8 - 1", "10’02", "10’05", "3", ASK, LISTEN],
        ["A8 - 1", "10’50", "11’00", "10", ASK, "(aucun code)"],
    ]
    # Codes in the order of their paths ("Q" before "É"), "no code" last; slices counted.
    assert sections["Matrice de confusion"] == [
        ["claire \\ ines", ASK, LISTEN, "(aucun code)", "Total"],
        [ASK, "45", "3", "10", "58"],
        [LISTEN, "0", "602", "0", "602"],
        ["(aucun code)", "0", "0", "0", "0"],
        ["Total", "45", "605", "10", "660"],
    ]
    per_code = {row[0]: row for row in sections["Par code"][1:]}
    assert per_code[LISTEN][1:3] == ["602", "605"]  # seconds each coder gave it


def test_the_xlsx_has_a_sheet_per_table_with_numbers(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    answer = _file(rclient, pair, "xlsx")
    assert answer.status_code == 200, answer.text
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == [
        "Paramètres",
        "Indices d'accord",
        "Par code",
        "Matrice de confusion",
        "Désaccords",
    ]
    figures = {row[0]: row for row in book["Indices d'accord"].iter_rows(values_only=True)}
    assert figures["κ de Cohen"][1] == pytest.approx(KAPPA)
    assert figures["Segments appariés"][1] == 2  # listen with listen, ask with ask
    disagreements = list(book["Désaccords"].iter_rows(values_only=True))
    assert disagreements[1] == ("A8 - 1", "10’02", "10’05", 3, ASK, LISTEN)
    assert book["Matrice de confusion"]["E2"].value == 58  # coder A's "ask" slices


def test_the_html_document_is_standalone_with_absolute_links(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    answer = _file(rclient, pair, "html")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    text = answer.text
    assert text.startswith("<!doctype html>") and '<html lang="fr">' in text
    assert "<h2>Désaccords</h2>" in text and "<h2>Matrice de confusion</h2>" in text
    link = f'<a href="http://testserver/recordings/{pair["recording"]}#t=602000">10’02</a>'
    assert link in text
    assert "@media print" in text and "/static/" not in text  # nothing to fetch


def test_an_english_reader_gets_decimal_points_and_commas(
    rclient: TestClient, pair: dict[str, Any], engine: Engine
) -> None:
    from autoconf.auth import accounts

    with session_scope(engine) as session:
        accounts.get_user(session, "claire").language = "en"
    sections = _sections(_file(rclient, pair, "csv").content, ",")
    values = {row[1] for row in sections["Agreement measures"][1:]}  # in English too
    assert f"{KAPPA:.6f}" in values and "98.030303" in values
    page = _page(rclient, pair, pair["query"])
    assert "0.875" in page.text and "98.0%" in page.text
    assert "Inter-coder agreement" in page.text and "almost perfect agreement" in page.text


def test_downloads_are_audited(rclient: TestClient, pair: dict[str, Any], engine: Engine) -> None:
    for fmt in ("csv", "xlsx", "html"):
        assert _file(rclient, pair, fmt).status_code == 200
    with session_scope(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert sorted(e.detail["format"] for e in events if e.detail["what"] == "agreement") == [
            "csv",
            "html",
            "xlsx",
        ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("coder_a={claire}", "Choisissez deux codeurs à comparer."),
        ("coder_a={claire}&coder_b={claire}", "Choisissez deux codeurs différents."),
        ("coder_a={claire}&coder_b=999999", "n'est pas chercheur de cette étude"),
        ("coder_a={claire}&coder_b=tous", "« tous » n'est ni un numéro d'utilisateur"),
        ("coder_a={claire}&coder_b=consensus&layer=transcript", "pas une couche de codage"),
        ("coder_a={claire}&coder_b=consensus&slice_s=abc", "un nombre est attendu"),
        ("coder_a={claire}&coder_b=consensus&slice_s=nan", "un nombre est attendu"),
        ("coder_a={claire}&coder_b=consensus&slice_s=0,01", "de 0,1 à 60 secondes"),
        ("coder_a={claire}&coder_b=consensus&threshold=2", "au plus 1 (ou 100 %)"),
        ("coder_a={claire}&coder_b=consensus&threshold=0", "au plus 1 (ou 100 %)"),
        ("coder_a={claire}&coder_b=consensus&recordings=x", "pas un numéro d'enregistrement"),
        ("coder_a={claire}&coder_b=consensus&recordings=999999", "pas dans cette étude"),
    ],
)
def test_wrong_values_are_said_beside_the_form(
    rclient: TestClient, pair: dict[str, Any], query: str, message: str
) -> None:
    filled = query.format(claire=pair["claire"])
    page = _page(rclient, pair, filled)
    assert page.status_code == 422, page.text
    assert str(escape(message)) in page.text and 'class="error" role="alert"' in page.text
    assert 'name="coder_a"' in page.text  # the form is still there
    download = _file(rclient, pair, "csv", filled)
    assert download.status_code == 422 and message in download.json()["detail"]


def test_slices_and_threshold_as_researchers_type_them(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    query = pair["query"] + "&slice_s=0,5&threshold=60 %25" + f"&recordings={pair['recording']}"
    page = _page(rclient, pair, query)
    assert page.status_code == 200, page.text
    assert "Sur 1320 tranches de 0,5 s (11’00 en tout)" in page.text
    sections = _sections(_file(rclient, pair, "csv", query).content)
    parameters = {row[0]: row[1] for row in sections["Paramètres"][1:]}
    assert parameters["Longueur d'une tranche (s)"] == "0,5"
    assert parameters["Seuil de recouvrement des segments"] == "0,6"


def test_a_blind_round_still_hiding_a_coder_is_said_on_the_page(
    rclient: TestClient, pair: dict[str, Any]
) -> None:
    started = rclient.post(
        f"/api/v1/studies/{pair['study']}/rounds",
        json={
            "name": "Double codage",
            "recording_ids": [pair["recording"]],
            "coder_ids": [pair["claire"], pair["ines"].id],
            "blind": True,
        },
    )
    assert started.status_code == 201, started.text
    page = _page(rclient, pair, pair["query"])
    assert page.status_code == 409
    assert (
        str(escape("Le tour de codage en aveugle « Double codage » n'est pas terminé")) in page.text
    )
    assert 'name="coder_a"' in page.text and "κ de Cohen" not in page.text
    assert _file(rclient, pair, "xlsx").status_code == 409


def test_only_the_studys_researchers_see_the_report(
    rclient: TestClient, client: TestClient, pair: dict[str, Any], engine: Engine
) -> None:
    counsellor, _ = factories.counsellor_member(engine, rclient, pair["study"], "yann", "C1")
    outsider = factories.account(engine, "zoe", "researcher")
    for who, status in ((counsellor, 403), (outsider, 404)):
        other = factories.PageClient(client.app, raise_server_exceptions=False)
        factories.login(other, who)
        assert _page(other, pair, pair["query"]).status_code == status
        for fmt in ("csv", "xlsx", "html"):
            assert _file(other, pair, fmt).status_code == status
