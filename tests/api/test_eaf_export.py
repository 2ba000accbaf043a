"""A recording's annotations as an ELAN file: valid against EAF 3.0, a tier per layer and
author, codebooks as controlled vocabularies, notes and fields under their segment."""

from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.interop.eaf import MOMENT_MS
from autoconf.models import AuditEvent
from tests import factories

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data/schemas/EAFv3.0.xsd")))


def _eaf(client: TestClient, recording_id: int) -> etree._Element:
    answer = client.get(f"/api/v1/recordings/{recording_id}/export.eaf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert ".eaf" in answer.headers["content-disposition"]
    root = etree.fromstring(answer.content)
    assert SCHEMA.validate(root), SCHEMA.error_log
    return root


def test_the_export_is_valid_eaf_with_a_tier_per_layer_and_author(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    rid = recording["id"]
    schemes = factories.codes_by_path(rclient, recording["study_id"], "schemes")
    listen, ask = schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]
    url = factories.annotations_url(recording)
    made = [
        rclient.post(
            url,
            json={
                "start_ms": 1_000,
                "end_ms": 4_000,
                "code_ids": [listen, ask],
                "note": "il <reformule> & vérifie",
                "fields": {"but": "Faire préciser"},
            },
        ),
        rclient.post(url, json={"start_ms": 3_000, "end_ms": 6_000, "code_ids": [listen]}),
        rclient.post(url, json={"start_ms": 2_000, "origin": "prepared", "note": "ici"}),
        rclient.post(url, json={"start_ms": 5_000, "code_ids": [ask]}),  # a coded moment
    ]
    assert all(answer.status_code == 201 for answer in made), [a.text for a in made]
    imported = rclient.post(
        f"/api/v1/recordings/{rid}/transcript",
        files={"file": ("t.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert imported.status_code in (200, 201), imported.text

    # Without the consents the study asks, the transcript (the recording's content) is not
    # in the file; with them it is.
    without = _eaf(rclient, rid)
    assert not [t for t in without.iter("TIER") if t.get("TIER_ID").startswith("Transcription")]
    factories.consent_all(rclient, rid)
    root = _eaf(rclient, rid)
    # Time slots: unique ids, in time order; every annotation's slots exist, start < end.
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    values = [int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")]
    assert values == sorted(values) and len(set(values)) == len(values)
    ids = [a.get("ANNOTATION_ID") for a in root.iter("ALIGNABLE_ANNOTATION", "REF_ANNOTATION")]
    assert len(ids) == len(set(ids))
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    for tier in tiers.values():
        ends = []
        for aligned in tier.iter("ALIGNABLE_ANNOTATION"):
            start, end = slots[aligned.get("TIME_SLOT_REF1")], slots[aligned.get("TIME_SLOT_REF2")]
            assert start < end
            ends.append((start, end))
        # ELAN's rule: nothing overlaps on one tier.
        assert all(a[1] <= b[0] for a, b in zip(sorted(ends), sorted(ends)[1:], strict=False))

    def values_of(name: str) -> list[tuple[int, int, str, str | None]]:
        return [
            (
                slots[a.get("TIME_SLOT_REF1")],
                slots[a.get("TIME_SLOT_REF2")],
                a.findtext("ANNOTATION_VALUE"),
                a.get("CVE_REF"),
            )
            for a in tiers[name].iter("ALIGNABLE_ANNOTATION")
        ]

    # The two codes of one segment and the overlapping segment: three annotations, no overlap.
    assert values_of("Schèmes — claire") == [(1_000, 4_000, "Écouter / reformuler", f"c{listen}")]
    assert values_of("Schèmes — claire (2)") == [
        (1_000, 4_000, "Questionner / vérifier", f"c{ask}")
    ]
    assert values_of("Schèmes — claire (3)") == [
        (3_000, 6_000, "Écouter / reformuler", f"c{listen}")
    ]
    # A prepared moment: a short interval on a tier of moments.
    assert values_of("Moments préparés — claire") == [(2_000, 2_000 + MOMENT_MS, "", None)]
    assert tiers["Moments préparés — claire"].get("LINGUISTIC_TYPE_REF") == "moment"
    # A moment coded on the schemes layer: on a tier of moments of its own.
    assert values_of("Schèmes — claire · moments") == [
        (5_000, 5_000 + MOMENT_MS, "Questionner / vérifier", f"c{ask}")
    ]
    assert tiers["Schèmes — claire · moments"].get("LINGUISTIC_TYPE_REF").startswith("moment")
    # Note and structured field: reference annotations under the segment, text as typed.
    parent = tiers["Schèmes — claire"].find(".//ALIGNABLE_ANNOTATION").get("ANNOTATION_ID")
    for name, text in (("note", "il <reformule> & vérifie"), ("but", "Faire préciser")):
        child = tiers[f"Schèmes — claire — {name}"]
        assert child.get("PARENT_REF") == "Schèmes — claire"
        [reference] = child.iter("REF_ANNOTATION")
        assert reference.get("ANNOTATION_REF") == parent
        assert reference.findtext("ANNOTATION_VALUE") == text
    # The transcript: a tier per speaker, the words as values.
    assert {"Transcription — Conseillère", "Transcription — Bénéficiaire"} <= set(tiers)
    assert values_of("Transcription — Conseillère")[0][2].startswith("Bonjour monsieur Durand")
    # Vocabularies: each tier's type names its codebook, whose entries hold every CVE_REF.
    types = {t.get("LINGUISTIC_TYPE_ID"): t for t in root.iter("LINGUISTIC_TYPE")}
    entries = {
        cv.get("CV_ID"): {e.get("CVE_ID"): e.findtext("CVE_VALUE") for e in cv.iter("CV_ENTRY_ML")}
        for cv in root.iter("CONTROLLED_VOCABULARY")
    }
    for tier in tiers.values():
        kind = types[tier.get("LINGUISTIC_TYPE_REF")]
        for aligned in tier.iter("ALIGNABLE_ANNOTATION"):
            if aligned.get("CVE_REF"):
                vocabulary = entries[kind.get("CONTROLLED_VOCABULARY_REF")]
                assert vocabulary[aligned.get("CVE_REF")] == aligned.findtext("ANNOTATION_VALUE")
    # The media descriptor names the recording's file.
    assert root.find("HEADER/MEDIA_DESCRIPTOR").get("MEDIA_URL") == "seance.mp4"
    with Session(engine) as session:
        logged = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [e.detail.get("format") for e in logged] == ["eaf", "eaf"]


def test_the_export_holds_only_what_its_reader_may_see(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    """A colleague's private prepared mark is not in my file."""
    colleague = factories.account(engine, "marc", "researcher")
    added = rclient.post(
        f"/api/v1/studies/{recording['study_id']}/members",
        json={"username": "marc", "role": "researcher"},
    )
    assert added.status_code == 201, added.text
    them = factories.PageClient(rclient.app)
    factories.login(them, colleague)
    url = factories.annotations_url(recording)
    private = them.post(url, json={"start_ms": 9_000, "origin": "prepared", "note": "à moi"})
    assert private.status_code == 201 and private.json()["shared"] is False
    mine = _eaf(rclient, recording["id"])
    assert "à moi" not in etree.tostring(mine, encoding="unicode")
    theirs = _eaf(them, recording["id"])
    assert "Moments préparés — marc" in [t.get("TIER_ID") for t in theirs.iter("TIER")]


def test_a_reader_of_elan_files_finds_the_tiers_and_their_annotations(
    rclient: TestClient, recording: dict, tmp_path: Path
) -> None:
    """pympi (the Python reader of ELAN files) loads the export as ELAN would: the tiers,
    their intervals, the reference annotations under their parent, the vocabularies."""
    from pympi.Elan import Eaf

    schemes = factories.codes_by_path(rclient, recording["study_id"], "schemes")
    listen = schemes["Écouter / reformuler"]
    made = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 1_500, "end_ms": 2_500, "code_ids": [listen], "note": "une note"},
    )
    assert made.status_code == 201, made.text
    path = tmp_path / "a.eaf"
    path.write_bytes(rclient.get(f"/api/v1/recordings/{recording['id']}/export.eaf").content)
    eaf = Eaf(str(path))
    assert eaf.get_annotation_data_for_tier("Schèmes — claire") == [
        (1_500, 2_500, "Écouter / reformuler")
    ]
    assert eaf.get_parameters_for_tier("Schèmes — claire — note")["PARENT_REF"] == (
        "Schèmes — claire"
    )
    assert [v[2] for v in eaf.get_ref_annotation_data_for_tier("Schèmes — claire — note")] == [
        "une note"
    ]
    assert "Schèmes d'action" in eaf.get_controlled_vocabulary_names()
    assert eaf.media_descriptors[0]["MEDIA_URL"] == "seance.mp4"


def test_characters_xml_cannot_hold_are_left_out() -> None:
    """Found by the fuzz: a control character in a note made the export fail."""
    from autoconf.interop.eaf import Entry, Item, write_eaf

    document = write_eaf(
        [Item(0, 1_000, "schemes", "cl\x01aire", [1], note="a\x00b\x1fc", fields={"but": "\x0bx"})],
        [Entry(1, "Schèmes\x02", "Écouter\x03", "déf\x04")],
        "séance\x05.mp4",
    )
    root = etree.fromstring(document)
    assert SCHEMA.validate(root), SCHEMA.error_log
    text = document.decode()
    assert "abc" in text and "Écouter" in text and "Schèmes — claire" in text
