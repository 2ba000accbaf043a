"""The chronogram through the API: SVG and PNG of the study's recordings, researchers only."""

import io
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from tests import factories

# Once (the SQLite pass): SVG and PNG drawing; the counts behind them run on both passes
# in test_synthesis.
pytestmark = pytest.mark.once

SVG = "{http://www.w3.org/2000/svg}"
TINY = b"not processed in these tests"  # the chronogram needs no media


@pytest.fixture
def coded(rclient: TestClient, study: dict) -> dict:
    """Two recordings with phases, scheme segments (one on a child code) and a moment."""
    sid = study["id"]
    ids = {}
    for code in ("A8 - 1", "A4"):
        response = factories.upload(rclient, sid, code, TINY, filename="beneficiaire-dupont.mp4")
        assert response.status_code == 201, response.text
        ids[code] = response.json()["id"]
    schemes = factories.codes_by_path(rclient, sid, "schemes")
    phases = factories.codes_by_path(rclient, sid, "phases")
    books = rclient.get(f"/api/v1/studies/{sid}/codebooks").json()
    book = next(b for b in books if b["kind"] == "schemes")
    child = rclient.post(
        f"/api/v1/codebooks/{book['id']}/codes",
        json={"label": "Résumer <vite>", "parent_id": schemes["Écouter / reformuler"]},
    )
    assert child.status_code == 201, child.text
    segments = {
        "A4": [
            (0, 300_000, phases["Diagnostic"]),
            (300_000, 900_000, phases["1ère partie"]),
            (10_000, 70_000, schemes["Se présenter"]),
            (400_000, 460_000, child.json()["id"]),
            (500_000, None, schemes["Informer / expliquer"]),
        ],
        "A8 - 1": [
            (0, 600_000, phases["Diagnostic"]),
            (120_000, 240_000, schemes["Informer / expliquer"]),
        ],
    }
    for code, rows in segments.items():
        for start, end, code_id in rows:
            body = {"start_ms": start, "end_ms": end, "code_ids": [code_id]}
            created = rclient.post(f"/api/v1/recordings/{ids[code]}/annotations", json=body)
            assert created.status_code == 201, created.text
    return {"study": sid, "recordings": ids}


def _svg(content: bytes) -> ET.Element:
    return ET.fromstring(content)


def _texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{SVG}text")]


def test_the_svg_shows_every_recording_by_code_with_its_schemes(
    rclient: TestClient, coded: dict
) -> None:
    response = rclient.get(f"/api/v1/studies/{coded['study']}/chronogram")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"].startswith("inline;")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    words = _texts(_svg(response.content))
    assert words.index("A4") < words.index("A8 - 1")  # by code
    for label in ("Se présenter", "Écouter / reformuler", "Informer / expliquer"):
        assert label in words
    assert "Résumer <vite>" not in words  # drawn in its parent's row
    assert {"Diagnostic", "1ère partie", "Phases", "Schèmes d'action"} <= set(words)
    assert "Questionner / vérifier" not in words  # coded nowhere: no row
    tips = [t.text or "" for t in _svg(response.content).iter(f"{SVG}title")]
    assert "A4 · Écouter / reformuler · 6’40 – 7’40" in tips
    assert "A4 · Informer / expliquer · 8’20" in tips  # the moment
    # Pseudonymised: codes only, no file name, no user.
    assert b"dupont" not in response.content and b"claire" not in response.content


def test_recordings_chosen_in_order_and_as_a_download(rclient: TestClient, coded: dict) -> None:
    ids = coded["recordings"]
    url = f"/api/v1/studies/{coded['study']}/chronogram?recordings={ids['A8 - 1']}"
    words = _texts(_svg(rclient.get(url).content))
    assert "A8 - 1" in words and "A4" not in words
    assert "Se présenter" not in words  # only A4 uses it
    both = rclient.get(f"{url},{ids['A4']}&download=true")
    words = _texts(_svg(both.content))
    assert words.index("A8 - 1") < words.index("A4")
    disposition = both.headers["content-disposition"]
    assert disposition == f'attachment; filename="chronogramme-etude-{coded["study"]}.svg"'


def test_the_png_opens_at_a_readable_size(rclient: TestClient, coded: dict) -> None:
    response = rclient.get(f"/api/v1/studies/{coded['study']}/chronogram?format=png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    width, height = image.size
    assert width == 2400 and 600 < height < 2400
    svg = _svg(rclient.get(f"/api/v1/studies/{coded['study']}/chronogram").content)
    assert (int(svg.get("width", "")) * 2, int(svg.get("height", "")) * 2) == image.size


def test_a_study_without_recordings_or_segments_still_draws(
    rclient: TestClient, study: dict
) -> None:
    response = rclient.get(f"/api/v1/studies/{study['id']}/chronogram")
    assert response.status_code == 200
    assert _svg(response.content).tag == f"{SVG}svg"
    png = rclient.get(f"/api/v1/studies/{study['id']}/chronogram?format=png")
    assert Image.open(io.BytesIO(png.content)).size[0] == 2400
    # A recording not processed yet (no length) and not coded: its code, the scheme rows.
    assert factories.upload(rclient, study["id"], "B1", TINY, filename="a.mp4").is_success
    for fmt in ("svg", "png"):
        response = rclient.get(f"/api/v1/studies/{study['id']}/chronogram?format={fmt}")
        assert response.status_code == 200, fmt
    words = _texts(_svg(rclient.get(f"/api/v1/studies/{study['id']}/chronogram").content))
    assert {"B1", "Se présenter", "Prendre des notes"} <= set(words)


def test_bad_parameters_are_refused_in_french(rclient: TestClient, coded: dict) -> None:
    sid = coded["study"]
    for query, words in (
        ("recordings=1,x", "virgules"),
        ("recordings=0", "hors limites"),
        ("recordings=999999", "inconnu"),
        ("format=pdf", None),
    ):
        response = rclient.get(f"/api/v1/studies/{sid}/chronogram?{query}")
        assert response.status_code == 422, query
        if words:
            assert words in str(response.json()["detail"]), query


def test_at_most_forty_recordings_at_once(rclient: TestClient, study: dict) -> None:
    sid = study["id"]
    for number in range(41):
        assert factories.upload(rclient, sid, f"R{number:02d}", TINY, filename="a.mp4").is_success
    response = rclient.get(f"/api/v1/studies/{sid}/chronogram")
    assert response.status_code == 422
    assert "au plus 40" in response.json()["detail"]
    listed = rclient.get(f"/api/v1/studies/{sid}/recordings").json()
    some = ",".join(str(r["id"]) for r in listed[:3])
    assert rclient.get(f"/api/v1/studies/{sid}/chronogram?recordings={some}").status_code == 200


def test_only_the_studys_researchers_get_the_chronogram(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict
) -> None:
    who, _ = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    factories.login(client, who)
    assert client.get(f"/api/v1/studies/{study['id']}/chronogram").status_code == 403
    assert client.get(f"/api/v1/studies/{study['id']}/chronogram?format=png").status_code == 403
