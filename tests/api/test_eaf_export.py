"""A recording's annotations as an ELAN file: valid against EAF 3.0, a tier per layer and
author, codebooks as controlled vocabularies (French and English), notes and fields under
their segment, what was said at the stops of a live session under each stop."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.interop.eaf import MOMENT_MS
from autoconf.models import AuditEvent, User
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


def _vocabulary(root: etree._Element, name: str) -> etree._Element:
    return next(cv for cv in root.iter("CONTROLLED_VOCABULARY") if cv.get("CV_ID") == name)


def test_vocabularies_are_in_french_and_in_english(rclient: TestClient, recording: dict) -> None:
    """Each codebook is a multilingual vocabulary: the French path and description, and the
    English ones where the code has an English label (a parent without one keeps its French
    label in the English path); each vocabulary is described in both languages."""
    study_id = recording["study_id"]
    categories = factories.codes_by_path(rclient, study_id, "categories")
    schemes = factories.codes_by_path(rclient, study_id, "schemes")
    books = {b["kind"]: b for b in rclient.get(f"/api/v1/studies/{study_id}/codebooks").json()}
    # A code of our own under "AUTONOMIE/Echelle", which the defaults leave without English.
    made = rclient.post(
        f"/api/v1/codebooks/{books['categories']['id']}/codes",
        json={
            "label": "Graduée",
            "parent_id": categories["AUTONOMIE/Echelle"],
            "description": "Échelle graduée",
            "label_en": "Graded",
            "description_en": "A graded scale",
        },
    )
    assert made.status_code == 201, made.text
    untranslated = rclient.patch(
        f"/api/v1/codes/{schemes['Prendre des notes']}", json={"label_en": ""}
    )
    assert untranslated.status_code == 200, untranslated.text
    root = _eaf(rclient, recording["id"])
    languages = {lang.get("LANG_ID"): lang for lang in root.iter("LANGUAGE")}
    assert set(languages) == {"fra", "eng"}
    assert languages["eng"].get("LANG_DEF") == "http://cdb.iso.org/lg/CDB-00138502-001"
    assert languages["eng"].get("LANG_LABEL") == "English"

    def values(name: str) -> dict[str, dict[str, tuple[str | None, str | None]]]:
        return {
            entry.get("CVE_ID"): {
                value.get("LANG_REF"): (value.text, value.get("DESCRIPTION"))
                for value in entry.iter("CVE_VALUE")
            }
            for entry in _vocabulary(root, name).iter("CV_ENTRY_ML")
        }

    scheme_values = values("Schèmes d'action")
    assert scheme_values[f"c{schemes['Écouter / reformuler']}"] == {
        "fra": ("Écouter / reformuler", None),
        "eng": ("Listen / rephrase", None),
    }
    assert scheme_values[f"c{schemes['Prendre des notes']}"] == {"fra": ("Prendre des notes", None)}
    category_values = values("Catégories d'analyse")
    assert category_values[f"c{categories['ACCOMPAGNEMENT/Actions/CV']}"] == {
        "fra": ("ACCOMPAGNEMENT/Actions/CV", "Faire son CV, valoriser ses compétences"),
        "eng": ("SUPPORT/Actions/CV", "Writing one's CV, highlighting one's skills"),
    }
    assert category_values[f"c{made.json()['id']}"] == {
        "fra": ("AUTONOMIE/Echelle/Graduée", "Échelle graduée"),
        "eng": ("AUTONOMY/Echelle/Graded", "A graded scale"),
    }
    descriptions = {
        d.get("LANG_REF"): d.text for d in _vocabulary(root, "Schèmes d'action").iter("DESCRIPTION")
    }
    assert descriptions == {"fra": "Schèmes d'action", "eng": "Action schemes"}
    principles = _vocabulary(root, "Principes à questionner")
    assert [d.text for d in principles.iter("DESCRIPTION")] == [
        "Principes à questionner",
        "Principles to question",
    ]


def _live_stop_with_comments(
    rclient: TestClient, recording: dict, engine: Engine, app: Any
) -> tuple[TestClient, dict[str, Any]]:
    """A live session on the recording (its counsellor: "a8", a woman), a stop at 0'02 and
    three comments: the counsellor's words typed by herself, a researcher's note, and the
    counsellor's words typed by the researcher. The counsellor's client and the stop."""
    study_id = recording["study_id"]
    counsellor, counsellor_id = factories.counsellor_member(engine, rclient, study_id, "a8", "A8")
    linked = rclient.patch(
        f"/api/v1/recordings/{recording['id']}", json={"counsellor_id": counsellor_id}
    )
    assert linked.status_code == 200, linked.text
    with Session(engine) as session:
        for user in session.exec(select(User).where(col(User.username).in_(["a8", "claire"]))):
            user.gender = "feminine" if user.username == "a8" else "masculine"
            session.add(user)
        session.commit()
    started = rclient.post(f"/api/v1/recordings/{recording['id']}/live")
    assert started.status_code == 201, started.text
    stop = rclient.post(f"/api/v1/live/{started.json()['id']}/stops", json={"position_ms": 2_000})
    assert stop.status_code == 201, stop.text
    them = factories.PageClient(app)
    factories.login(them, counsellor)
    comments = f"/api/v1/live/stops/{stop.json()['id']}/comments"
    for client, speaker, text in (
        (them, "counsellor", "Là, j'hésite & je <reformule>."),
        (rclient, "researcher", "Elle reformule pour vérifier."),
        (rclient, "counsellor", "Je voulais qu'il le dise lui-même."),
    ):
        said = client.post(comments, json={"speaker": speaker, "text": text})
        assert said.status_code == 201, said.text
    return them, stop.json()


def test_what_was_said_at_a_stop_is_under_it(
    rclient: TestClient, recording: dict, engine: Engine, app: Any, tmp_path: Path
) -> None:
    """Each stop of a live session holds its comments on a child tier (symbolic subdivision:
    several per stop, chained in the order they were typed), each value naming its speaker;
    ELAN's reader (pympi) finds them under the stop. The counsellor's own file holds her
    words only; without the consents the study asks (the session report's rule), none."""
    counsellor, _ = _live_stop_with_comments(rclient, recording, engine, app)
    tier_name = "Arrêts — claire — commentaires"

    without = _eaf(rclient, recording["id"])
    assert tier_name not in [t.get("TIER_ID") for t in without.iter("TIER")]

    factories.consent_all(rclient, recording["id"])
    root = _eaf(rclient, recording["id"])
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    child = tiers[tier_name]
    assert child.get("PARENT_REF") == "Arrêts — claire"
    [parent] = tiers["Arrêts — claire"].iter("ALIGNABLE_ANNOTATION")
    references = list(child.iter("REF_ANNOTATION"))
    assert [r.findtext("ANNOTATION_VALUE") for r in references] == [
        "Conseillère : Là, j'hésite & je <reformule>.",
        "Chercheur : Elle reformule pour vérifier.",
        "Conseillère : Je voulais qu'il le dise lui-même.",
    ]
    assert {r.get("ANNOTATION_REF") for r in references} == {parent.get("ANNOTATION_ID")}
    assert [r.get("PREVIOUS_ANNOTATION") for r in references] == [
        None,
        references[0].get("ANNOTATION_ID"),
        references[1].get("ANNOTATION_ID"),
    ]
    types = {t.get("LINGUISTIC_TYPE_ID"): t for t in root.iter("LINGUISTIC_TYPE")}
    kind = types[child.get("LINGUISTIC_TYPE_REF")]
    assert kind.get("CONSTRAINTS") == "Symbolic_Subdivision"
    assert kind.get("TIME_ALIGNABLE") == "false"
    last = int(root.findtext("HEADER/PROPERTY[@NAME='lastUsedAnnotationId']"))
    ids = [a.get("ANNOTATION_ID") for a in root.iter("ALIGNABLE_ANNOTATION", "REF_ANNOTATION")]
    assert last == len(ids) and f"a{last}" in ids

    from pympi.Elan import Eaf

    path = tmp_path / "live.eaf"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    eaf = Eaf(str(path))
    assert eaf.get_parameters_for_tier(tier_name)["PARENT_REF"] == "Arrêts — claire"
    said = eaf.get_ref_annotation_data_for_tier(tier_name)
    assert [s[:2] for s in said] == [(2_000, 2_000 + MOMENT_MS)] * 3
    assert sorted(s[2] for s in said)[0].startswith("Chercheur : ")

    # The counsellor's file: her words (whoever typed them), not the researcher's note.
    mine = _eaf(counsellor, recording["id"])
    [child] = [t for t in mine.iter("TIER") if t.get("TIER_ID") == tier_name]
    assert [r.findtext("ANNOTATION_VALUE") for r in child.iter("REF_ANNOTATION")] == [
        "Conseillère : Là, j'hésite & je <reformule>.",
        "Conseillère : Je voulais qu'il le dise lui-même.",
    ]
