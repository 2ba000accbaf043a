"""Counsellor co-validation (issue 18): the counsellor says of each segment shown to them
that they agree, disagree, or would say it otherwise, in their own words; a researcher may
type it for them; the verdicts are kept with who said what, exported, carried by archives,
erased with their recording; and the coding before and after co-validation is compared like
any two coders, by the researchers only."""

import csv
import io
import zipfile
from dataclasses import dataclass
from typing import Any

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.models import AuditEvent, CoValidation, Recording
from tests import factories

A = "Écouter / reformuler"
B = "Questionner / vérifier"


@dataclass
class Setting:
    """A 10-second recording of counsellor A8 (Paul) in a study with co-validation on, and
    four schemes segments shown to Paul, every two seconds: A, A, B, B (ids in `segments`);
    one more segment, not shown."""

    app: FastAPI
    engine: Engine
    researcher: TestClient  # Claire, signed in (cookie)
    counsellor: TestClient  # Paul, a Bearer token
    paul: factories.Account
    claire: factories.Account
    recording_id: int
    study_id: int
    codes: dict[str, int]
    segments: list[int]
    hidden: int

    def url(self, annotation_id: int | None = None) -> str:
        base = f"/api/v1/recordings/{self.recording_id}/covalidation"
        return base if annotation_id is None else f"{base}/{annotation_id}"


def api_client(app: FastAPI, engine: Engine, who: factories.Account) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.headers.update(factories.token(engine, who))
    return client


def page_client(app: FastAPI, who: factories.Account) -> TestClient:
    client = factories.PageClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.headers["accept"] = "text/html"
    factories.login(client, who)
    return client


@pytest.fixture
def setting(
    app: FastAPI,
    engine: Engine,
    rclient: TestClient,
    researcher: factories.Account,
    recording: dict[str, Any],
) -> Setting:
    study, rid = recording["study_id"], recording["id"]
    factories.set_duration(engine, rid, 10_000)
    paul, a8 = factories.counsellor_member(engine, rclient, study, "paul", "A8")
    patched = rclient.patch(f"/api/v1/recordings/{rid}", json={"counsellor_id": a8})
    assert patched.status_code == 200, patched.text
    on = rclient.patch(f"/api/v1/studies/{study}", json={"co_validation": True})
    assert on.status_code == 200, on.text
    codes = factories.codes_by_path(rclient, study, "schemes")
    url = factories.annotations_url(recording)
    segments = []
    for index, path in enumerate((A, A, B, B)):
        body = {
            "start_ms": 2_000 * index,
            "end_ms": 2_000 * (index + 1),
            "code_ids": [codes[path]],
            "note": f"Segment {index}",
            "shown_to_counsellor": True,
        }
        made = rclient.post(url, json=body)
        assert made.status_code == 201, made.text
        segments.append(made.json()["id"])
    hidden = rclient.post(
        url, json={"start_ms": 8_000, "end_ms": 9_000, "code_ids": [codes[A]], "note": "CACHÉ"}
    ).json()["id"]
    return Setting(
        app,
        engine,
        rclient,
        api_client(app, engine, paul),
        paul,
        researcher,
        rid,
        study,
        codes,
        segments,
        hidden,
    )


def say(client: TestClient, s: Setting, index: int, **body: Any) -> Any:
    return client.put(s.url(s.segments[index]), json=body)


def test_the_counsellor_lists_what_is_shown_to_them_and_answers(setting: Setting) -> None:
    s = setting
    listed = s.counsellor.get(s.url())
    assert listed.status_code == 200, listed.text
    assert [seg["annotation_id"] for seg in listed.json()] == s.segments
    assert [seg["codes"] for seg in listed.json()] == [[A], [A], [B], [B]]
    assert all(seg["verdict"] is None for seg in listed.json())

    answer = say(s.counsellor, s, 1, state="reformulated", words="  Je reformulais, oui.  ")
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["state"] == "reformulated" and verdict["words"] == "Je reformulais, oui."
    assert (verdict["start_ms"], verdict["end_ms"], verdict["codes"]) == (2_000, 4_000, [A])
    assert verdict["said_by_id"] == verdict["recorded_by_id"] == s.paul.id
    assert verdict["by_counsellor"] is True
    again = s.counsellor.get(s.url()).json()
    assert again[1]["verdict"]["words"] == "Je reformulais, oui."
    # The researchers read it, with who said what.
    theirs = s.researcher.get(s.url()).json()
    assert theirs[1]["verdict"]["said_by_name"] == "paul"
    assert theirs[1]["verdict"]["recorded_by_name"] == "paul"


def test_a_researcher_types_the_answer_for_the_counsellor(setting: Setting) -> None:
    s = setting
    body = {"state": "contested", "words": "Là je vérifiais.", "proposed_code_ids": [s.codes[B]]}
    answer = say(s.researcher, s, 0, **body)
    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert verdict["said_by_id"] == s.paul.id
    assert verdict["recorded_by_name"] == "claire" and verdict["by_counsellor"] is False
    assert verdict["proposed_codes"] == [B]
    # The counsellor sees their answer, never the codes read into it.
    seen = s.counsellor.get(s.url()).json()[0]["verdict"]
    assert seen["words"] == "Là je vérifiais."
    assert seen["proposed_code_ids"] == [] and seen["proposed_codes"] == []
    # The counsellor may not set them, and saying it otherwise drops the researchers' reading.
    refused = say(s.counsellor, s, 0, state="contested", words="x", proposed_code_ids=[1])
    assert refused.status_code == 403 and "chercheurs" in refused.json()["detail"]
    changed = say(s.counsellor, s, 0, state="contested", words="Je vérifiais, en fait.")
    assert changed.status_code == 200, changed.text
    assert s.researcher.get(s.url()).json()[0]["verdict"]["proposed_codes"] == []


def test_changing_an_answer_keeps_its_first_date_and_the_coding_it_was_given_on(
    setting: Setting,
) -> None:
    s = setting
    first = say(s.counsellor, s, 2, state="agreed").json()
    # The researchers then change the segment: the answer keeps what it was given on.
    segment = f"/api/v1/annotations/{s.segments[2]}"
    edited = s.researcher.patch(
        segment, json={"version": 1, "end_ms": 5_000, "code_ids": [s.codes[A]]}
    )
    assert edited.status_code == 200, edited.text
    second = say(s.counsellor, s, 2, state="reformulated", words="Plutôt reformuler.").json()
    assert second["id"] == first["id"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]
    assert (second["end_ms"], second["codes"]) == (6_000, [B])
    listed = s.researcher.get(s.url()).json()[2]
    assert listed["changed"] is True and listed["codes"] == [A]
    with Session(s.engine) as session:
        assert len(session.exec(select(CoValidation)).all()) == 1
    # Taken back.
    assert s.counsellor.delete(s.url(s.segments[2])).status_code == 204
    assert s.counsellor.get(s.url()).json()[2]["verdict"] is None
    assert s.counsellor.delete(s.url(s.segments[2])).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"state": "contested"}, 422, "demandent les mots du conseiller"),
        ({"state": "reformulated", "words": "   "}, 422, "demandent les mots du conseiller"),
        ({"state": "peut-être"}, 422, None),
        ({"state": "agreed", "proposed_code_ids": [999_999]}, 422, "pas un code de cette étude"),
    ],
)
def test_answers_that_do_not_hold_are_refused_in_french(
    setting: Setting, body: dict[str, Any], status: int, message: str | None
) -> None:
    answer = say(setting.researcher, setting, 0, **body)
    assert answer.status_code == status, answer.text
    if message:
        assert message in answer.json()["detail"]
    assert setting.researcher.get(setting.url()).json()[0]["verdict"] is None


def test_a_segment_not_shown_is_not_for_co_validation(setting: Setting) -> None:
    s = setting
    # The counsellor does not see it: as if it did not exist.
    theirs = s.counsellor.put(s.url(s.hidden), json={"state": "agreed"})
    unknown = s.counsellor.put(s.url(999_999), json={"state": "agreed"})
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"].replace(str(s.hidden), "#") == unknown.json()["detail"].replace(
        "999999", "#"
    )
    assert s.hidden not in {seg["annotation_id"] for seg in s.counsellor.get(s.url()).json()}
    # A researcher is told to show it first.
    refused = s.researcher.put(s.url(s.hidden), json={"state": "agreed"})
    assert refused.status_code == 409 and "Montrer au conseiller" in refused.json()["detail"]
    # A prepared mark is no coding segment.
    mark = s.researcher.post(
        f"/api/v1/recordings/{s.recording_id}/annotations",
        json={"start_ms": 1_000, "origin": "prepared", "shared": True},
    ).json()["id"]
    assert s.researcher.put(s.url(mark), json={"state": "agreed"}).status_code == 422


def test_without_co_validation_nothing_is_said_nor_listed(setting: Setting) -> None:
    s = setting
    off = s.researcher.patch(f"/api/v1/studies/{s.study_id}", json={"co_validation": False})
    assert off.status_code == 200
    for client in (s.counsellor, s.researcher):
        refused = say(client, s, 0, state="agreed")
        assert refused.status_code == 409 and "pas activée" in refused.json()["detail"]
    assert s.counsellor.get(s.url()).json() == []
    page = page_client(s.app, s.paul).get(f"/recordings/{s.recording_id}")
    assert page.status_code == 200 and 'id="covalidation"' not in page.text


def test_other_counsellors_and_outsiders_get_nothing(setting: Setting) -> None:
    s = setting
    lea, _ = factories.counsellor_member(s.engine, s.researcher, s.study_id, "lea", "A9")
    outsider = factories.account(s.engine, "bruno", "researcher")
    for who in (lea, outsider):
        client = api_client(s.app, s.engine, who)
        for answer in (
            client.get(s.url()),
            say(client, s, 0, state="agreed"),
            client.delete(s.url(s.segments[0])),
        ):
            assert answer.status_code == 404, (who.username, answer.text)
            assert answer.json() == {"detail": f"Aucun enregistrement n° {s.recording_id}."}
    assert s.researcher.get(s.url()).json()[0]["verdict"] is None


def test_the_agreement_between_prior_and_co_validated_coding(setting: Setting) -> None:
    """Over 10 one-second slices: prior A A A A B B B B - -, co-validated A A B B B B - - - -
    (agreed A; contested, read as B; reformulated without codes: B kept; contested, nothing
    read into it: no code). Observed agreement 6/10 = 0.6; the marginals are prior A 4,
    B 4, none 2 and co-validated A 2, B 4, none 4, so chance agreement is
    (4·2 + 4·4 + 2·4) / 100 = 0.32, and kappa = (0.6 − 0.32) / (1 − 0.32) = 0.28 / 0.68."""
    s = setting
    said = [
        say(s.counsellor, s, 0, state="agreed"),
        say(s.counsellor, s, 1, state="contested", words="Je questionnais."),
        say(s.counsellor, s, 2, state="reformulated", words="Je vérifiais autrement."),
        say(s.counsellor, s, 3, state="contested", words="Ce n'était pas ça."),
    ]
    assert all(answer.status_code == 200 for answer in said), [a.text for a in said]
    read = say(
        s.researcher,
        s,
        1,
        state="contested",
        words="Je questionnais.",
        proposed_code_ids=[s.codes[B]],
    )
    assert read.status_code == 200, read.text
    figures = s.researcher.get(
        f"/api/v1/recordings/{s.recording_id}/agreement?coders=prior,covalidated"
    )
    assert figures.status_code == 200, figures.text
    result = figures.json()
    assert result["coders"] == ["prior", "covalidated"] and result["slices"] == 10
    assert result["percent"]["value"] == pytest.approx(60.0)
    assert result["kappa"]["value"] == pytest.approx(0.28 / 0.68)
    study = s.researcher.get(f"/api/v1/studies/{s.study_id}/agreement?coders=prior,covalidated")
    assert study.status_code == 200, study.text
    assert study.json()["kappa"]["value"] == pytest.approx(0.28 / 0.68)
    # The agreement report offers the pair, named for a researcher, the counsellor as her
    # account says (feminine).
    assert s.counsellor.patch("/api/v1/me", json={"gender": "feminine"}).status_code == 200
    report = page_client(s.app, s.claire).get(
        f"/studies/{s.study_id}/agreement?coder_a=prior&coder_b=covalidated"
        f"&recordings={s.recording_id}"
    )
    assert report.status_code == 200, report.text
    assert '<option value="covalidated" selected>' in report.text
    assert "Codage co-validé avec la conseillère" in report.text and "0,412" in report.text
    assert (
        "Accord entre le codage d&#39;avant la co-validation et le codage co-validé avec la "
        "conseillère</h2>"
    ) in report.text
    assert "réponse par réponse" in report.text  # what the sliced figures count, said
    # The counsellor never gets a figure about themselves.
    mine = s.counsellor.get(
        f"/api/v1/recordings/{s.recording_id}/agreement?coders=prior,covalidated"
    )
    assert mine.status_code == 403
    theirs = s.counsellor.get(f"/api/v1/studies/{s.study_id}/agreement?coders=prior,covalidated")
    assert theirs.status_code == 403
    paul = page_client(s.app, s.paul)
    assert paul.get(f"/studies/{s.study_id}/agreement").status_code == 403
    page = paul.get(f"/recordings/{s.recording_id}")
    assert page.status_code == 200
    assert "covalidated" not in page.text and "kappa" not in page.text.lower()
    assert "Codes lus dans ses mots" not in page.text


def _csv_rows(content: bytes) -> list[list[str]]:
    text = content.decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_the_study_export_says_who_said_what(setting: Setting) -> None:
    s = setting
    factories.consent_all(s.researcher, s.recording_id)
    say(s.counsellor, s, 0, state="agreed")
    say(
        s.researcher,
        s,
        1,
        state="contested",
        words="=Je questionnais.",
        proposed_code_ids=[s.codes[B]],
    )
    answer = s.researcher.get(f"/api/v1/studies/{s.study_id}/covalidation.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "co-validation-etude" in answer.headers["content-disposition"]
    header, *rows = _csv_rows(answer.content)
    assert header[:6] == [
        "Enregistrement",
        "Couche",
        "Début",
        "Fin",
        "Codes lors de l'avis",
        "Avis",
    ]
    assert [row[:10] for row in rows] == [
        ["A8 - 1", "Schèmes", "0’00", "0’02", A, "d'accord", "", "", "A8", "A8"],
        [
            "A8 - 1",
            "Schèmes",
            "0’02",
            "0’04",
            A,
            "contesté",
            "'=Je questionnais.",  # a spreadsheet does not run it
            B,
            "A8",
            "Chercheur·e A",
        ],
    ]
    assert all(row[10] and row[11] for row in rows)
    xlsx = s.researcher.get(f"/api/v1/studies/{s.study_id}/covalidation.xlsx")
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert ["A8 - 1", "Schèmes", "0’00", "0’02", A, "d'accord"] in [v[:6] for v in values]
    with Session(s.engine) as session:
        entries = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "export", AuditEvent.study_id == s.study_id
            )
        ).all()
    formats = [e.detail["format"] for e in entries if e.detail.get("what") == "covalidation"]
    assert sorted(formats) == ["csv", "xlsx"]
    # Researchers only.
    assert s.counsellor.get(f"/api/v1/studies/{s.study_id}/covalidation.csv").status_code == 403


def test_the_words_stay_out_of_the_export_without_consent(setting: Setting) -> None:
    s = setting
    say(s.counsellor, s, 1, state="contested", words="Paroles sans consentement.")
    rows = _csv_rows(s.researcher.get(f"/api/v1/studies/{s.study_id}/covalidation.csv").content)
    assert rows[1][5] == "contesté" and rows[1][6] == ""


def test_the_form_on_the_recording_page(setting: Setting) -> None:
    s = setting
    paul = page_client(s.app, s.paul)
    page = paul.get(f"/recordings/{s.recording_id}")
    assert page.status_code == 200
    assert 'id="covalidation"' in page.text and "Je le dirais autrement" in page.text
    assert "CACHÉ" not in page.text and "covalidation.csv" not in page.text
    url = f"/recordings/{s.recording_id}/covalidation/{s.segments[3]}"
    sent = paul.post(url, data={"state": "reformulated", "words": "Je reformulais."})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/recordings/{s.recording_id}#covalidation"
    verdict = s.researcher.get(s.url()).json()[3]["verdict"]
    assert (verdict["state"], verdict["words"]) == ("reformulated", "Je reformulais.")
    missing = paul.post(url, data={"state": "contested", "words": ""})
    assert missing.status_code == 422 and "demandent vos mots" in missing.text
    # The researchers' form: their reading of the words, with an empty marker for none.
    claire = page_client(s.app, s.claire)
    theirs = claire.get(f"/recordings/{s.recording_id}")
    assert "covalidation.csv" in theirs.text and "Je reformulais." in theirs.text
    # The counsellor named by their grammatical gender (none chosen: neutral, then feminine).
    assert "Les segments montrés au·à la conseiller·e et sa réponse" in theirs.text
    assert s.counsellor.patch("/api/v1/me", json={"gender": "feminine"}).status_code == 200
    theirs = claire.get(f"/recordings/{s.recording_id}")
    assert "Les segments montrés à la conseillère et sa réponse" in theirs.text
    assert "au conseiller" not in theirs.text and "ce qu&#39;il en dit" not in theirs.text
    read = claire.post(
        url,
        data={
            "state": "reformulated",
            "words": "Je reformulais.",
            "proposed_code_ids": ["", str(s.codes[A])],
        },
    )
    assert read.status_code == 303, read.text
    assert s.researcher.get(s.url()).json()[3]["verdict"]["proposed_codes"] == [A]
    # Typed by a researcher, outside any live session: "notée par", no "pendant l'entretien".
    mine = paul.get(f"/recordings/{s.recording_id}").text
    assert "notée par " in mine and "pendant l&#39;entretien" not in mine
    cleared = claire.post(
        url, data={"state": "reformulated", "words": "Je reformulais.", "proposed_code_ids": [""]}
    )
    assert cleared.status_code == 303
    assert s.researcher.get(s.url()).json()[3]["verdict"]["proposed_codes"] == []
    # Taken back from the page: the moment waits for an answer again.
    assert f"{url}/delete" in paul.get(f"/recordings/{s.recording_id}").text
    removed = paul.post(f"{url}/delete")
    assert removed.status_code == 303
    assert removed.headers["location"] == f"/recordings/{s.recording_id}#covalidation"
    assert s.researcher.get(s.url()).json()[3]["verdict"] is None
    assert paul.post(f"{url}/delete").status_code == 404


def test_erasing_the_recording_erases_its_verdicts(setting: Setting) -> None:
    s = setting
    say(s.counsellor, s, 0, state="agreed")
    page = s.researcher.get(f"/recordings/{s.recording_id}/erase")
    assert "Réponses des conseillers en co-validation</dt><dd>1</dd>" in page.text
    erased = s.researcher.post(f"/api/v1/recordings/{s.recording_id}/erase")
    assert erased.status_code == 200, erased.text
    assert erased.json()["covalidations"] == 1
    with Session(s.engine) as session:
        assert session.exec(select(CoValidation)).all() == []
        assert session.get(Recording, s.recording_id) is None


def test_an_archive_carries_the_verdicts(setting: Setting) -> None:
    s = setting
    say(s.counsellor, s, 0, state="agreed")
    say(s.researcher, s, 1, state="contested", words="Non.", proposed_code_ids=[s.codes[B]])
    # A consensus decision too: its sources (JSON) come back checked.
    decided = s.researcher.post(
        f"/api/v1/recordings/{s.recording_id}/consensus",
        json={"kind": "accept", "source_ids": [s.segments[3]]},
    )
    assert decided.status_code == 201, decided.text
    archive = s.researcher.get(f"/api/v1/studies/{s.study_id}/archive.zip?media=none")
    assert archive.status_code == 200, archive.text
    assert "tables/co_validation.jsonl" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    imported = s.researcher.post(
        "/api/v1/studies/import", files={"file": ("etude.zip", archive.content, "application/zip")}
    )
    assert imported.status_code == 201, imported.text
    study = imported.json()["study_id"]
    with Session(s.engine) as session:
        new_recording = session.exec(select(Recording.id).where(Recording.study_id == study)).one()
    codes = factories.codes_by_path(s.researcher, study, "schemes")
    listed = s.researcher.get(f"/api/v1/recordings/{new_recording}/covalidation").json()
    verdicts = [seg["verdict"] for seg in listed if seg["verdict"]]
    assert [(v["state"], v["words"], v["codes"]) for v in verdicts] == [
        ("agreed", "", [A]),
        ("contested", "Non.", [A]),
    ]
    assert verdicts[1]["proposed_code_ids"] == [codes[B]] != [s.codes[B]]
    assert verdicts[1]["said_by_name"] == "paul" and verdicts[1]["recorded_by_name"] == "claire"
    with Session(s.engine) as session:
        assert len(session.exec(select(CoValidation).where(col(CoValidation.id) > 0)).all()) == 4
    decisions = s.researcher.get(f"/api/v1/recordings/{new_recording}/consensus").json()
    assert [d["sources"][0]["codes"] for d in decisions] == [[B]]


def test_another_counsellors_words_stay_theirs(setting: Setting, engine: Engine) -> None:
    """The recording given to another counsellor (Marc): Paul's answer is neither shown to
    Marc nor overwritten by him; the researchers still read it and may take it back."""
    s = setting
    assert say(s.counsellor, s, 0, state="contested", words="Je vérifiais.").status_code == 200
    marc, m1 = factories.counsellor_member(engine, s.researcher, s.study_id, "marc", "M1")
    moved = s.researcher.patch(f"/api/v1/recordings/{s.recording_id}", json={"counsellor_id": m1})
    assert moved.status_code == 200, moved.text
    as_marc = api_client(s.app, engine, marc)
    listed = as_marc.get(s.url())
    assert listed.status_code == 200, listed.text
    assert s.segments[0] not in [seg["annotation_id"] for seg in listed.json()]
    assert "Je vérifiais" not in listed.text
    overwrite = say(as_marc, s, 0, state="agreed")
    assert overwrite.status_code == 409 and "autre conseiller" in overwrite.json()["detail"]
    assert s.researcher.get(s.url()).json()[0]["verdict"]["words"] == "Je vérifiais."
    assert s.researcher.delete(s.url(s.segments[0])).status_code == 204


def test_an_answer_after_the_segment_was_recoded_is_about_the_new_codes(
    setting: Setting,
) -> None:
    """Paul contests A on [0, 2 s); the researchers recode it B; Paul then agrees: the
    coding before co-validation said A there, the co-validated one says B."""
    s = setting
    assert say(s.counsellor, s, 0, state="contested", words="Je questionnais.").status_code == 200
    segment = s.researcher.get(f"/api/v1/annotations/{s.segments[0]}").json()
    recoded = s.researcher.patch(
        f"/api/v1/annotations/{s.segments[0]}",
        json={"version": segment["version"], "code_ids": [s.codes[B]]},
    )
    assert recoded.status_code == 200, recoded.text
    assert say(s.counsellor, s, 0, state="agreed").status_code == 200
    figures = s.researcher.get(
        f"/api/v1/recordings/{s.recording_id}/agreement?coders=prior,covalidated"
    ).json()
    # Slices 0-1 differ (A before, B after); the 8 others agree (no code).
    assert figures["percent"]["value"] == pytest.approx(80.0)
    assert figures["confusion"][A][B] == 2


def test_an_answered_segment_is_not_deleted_by_accident(setting: Setting) -> None:
    s = setting
    assert say(s.counsellor, s, 2, state="agreed").status_code == 200
    segment = s.researcher.get(f"/api/v1/annotations/{s.segments[2]}").json()
    refused = s.researcher.delete(
        f"/api/v1/annotations/{s.segments[2]}", params={"version": segment["version"]}
    )
    assert refused.status_code == 409 and "retirez d'abord sa réponse" in refused.json()["detail"]
    assert s.researcher.get(f"/api/v1/annotations/{s.segments[2]}").status_code == 200
    # Taken back first (the segment no longer shown: a researcher still may), then deleted.
    hide = s.researcher.patch(
        f"/api/v1/annotations/{s.segments[2]}",
        json={"version": segment["version"], "shown_to_counsellor": False},
    )
    assert hide.status_code == 200, hide.text
    assert s.researcher.delete(s.url(s.segments[2])).status_code == 204
    gone = s.researcher.delete(f"/api/v1/annotations/{s.segments[2]}")
    assert gone.status_code == 204, gone.text
