"""Consent per recording: recorded, listed and withdrawn through the API and the recording
page; without research consent from both parties (when the study requires it) nothing of the
recording is played, downloaded or exported, a withdrawal takes effect at the next request;
the audit log keeps each consent change, the first play per login session and each export."""

import html
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from autoconf.api.media import MediaFiles, MediaGrants
from autoconf.models import AuditEvent, Consent, Study
from autoconf.settings import Settings
from tests import factories
from tests.factories import DEMO_TRANSCRIPT

TODAY = date.today().isoformat()


def consents_url(recording_id: int) -> str:
    return f"/api/v1/recordings/{recording_id}/consents"


def give(client: TestClient, recording_id: int, **body: Any) -> Any:
    payload = {"party": "counsellor", "scopes": ["research"], "given_on": "2025-01-15"} | body
    return client.post(consents_url(recording_id), json=payload)


def withdraw_url(consent_id: int) -> str:
    return f"/api/v1/consents/{consent_id}/withdraw"


def audit(engine: Engine, action: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            ).all()
        )


def stored(engine: Engine) -> list[Consent]:
    with Session(engine) as session:
        return list(session.exec(select(Consent).order_by(col(Consent.id))).all())


@pytest.fixture
def ready(rclient: TestClient, engine: Engine, settings: Settings, study: dict) -> dict:
    """Processed, with no consent yet."""
    recording = factories.processed(rclient, engine, settings, study["id"], consent=False)
    assert recording["status"] == "ready", recording["error"]
    return recording


def media_urls(recording_id: int) -> list[str]:
    base = f"/api/v1/recordings/{recording_id}"
    return [f"{base}/media", f"{base}/poster", f"{base}/waveform", f"{base}/thumbnails.vtt"]


# Recording, listing, withdrawing.


def test_record_list_and_withdraw(
    rclient: TestClient, engine: Engine, researcher: factories.Account, recording: dict
) -> None:
    rid = recording["id"]
    given = give(rclient, rid, scopes=["training", "research"])
    assert given.status_code == 201, given.text
    body = given.json()
    assert body["party"] == "counsellor" and body["scopes"] == ["research", "training"]
    assert body["given_on"] == "2025-01-15" and body["recorded_by"] == researcher.id
    assert body["active"] is True and body["withdrawn_on"] is None
    other = give(rclient, rid, party="beneficiary", given_on=TODAY)
    assert other.status_code == 201
    listed = rclient.get(consents_url(rid))
    assert listed.status_code == 200
    assert [(c["party"], c["active"]) for c in listed.json()] == [
        ("counsellor", True),
        ("beneficiary", True),
    ]
    view = rclient.get(f"/api/v1/recordings/{rid}").json()["consent"]
    assert view["research"] is True and view["training"] is False
    assert view["missing_training"] == ["beneficiary"] and view["playable"] is True

    withdrawn = rclient.post(withdraw_url(body["id"]))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_on"] == TODAY and withdrawn.json()["active"] is False
    assert withdrawn.json()["withdrawn_by"] == researcher.id
    assert [c["active"] for c in rclient.get(consents_url(rid)).json()] == [False, True]
    view = rclient.get(f"/api/v1/recordings/{rid}").json()["consent"]
    assert view["missing_research"] == ["counsellor"] and view["withdrawn"] is True
    assert view["playable"] is False and "conseiller" in view["message"]

    given_entries = audit(engine, "consent_given")
    assert [(e.recording_id, e.object_type, e.detail["party"]) for e in given_entries] == [
        (rid, "consent", "counsellor"),
        (rid, "consent", "beneficiary"),
    ]
    assert given_entries[0].detail == {
        "party": "counsellor",
        "scopes": ["research", "training"],
        "given_on": "2025-01-15",
    }
    assert given_entries[0].user_id == researcher.id and given_entries[0].credential
    (entry,) = audit(engine, "consent_withdrawn")
    assert (entry.object_id, entry.study_id, entry.detail) == (
        body["id"],
        recording["study_id"],
        {"party": "counsellor", "withdrawn_on": TODAY},
    )


def test_a_withdrawal_may_be_dated(rclient: TestClient, recording: dict) -> None:
    given = give(rclient, recording["id"]).json()
    early = rclient.post(withdraw_url(given["id"]), json={"withdrawn_on": "2025-01-14"})
    assert early.status_code == 422 and "précéder" in early.json()["detail"]
    dated = rclient.post(withdraw_url(given["id"]), json={"withdrawn_on": "2025-02-01"})
    assert dated.status_code == 200 and dated.json()["withdrawn_on"] == "2025-02-01"


TOMORROW = (date.today() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"party": "spouse"}, "Partie inconnue"),
        ({"scopes": ["research", "marketing"]}, "Usage inconnu"),
        ({"scopes": []}, "au moins un usage"),
        ({"given_on": TOMORROW}, "pas encore arrivé"),
        ({"given_on": "15/01/2025"}, "une date AAAA-MM-JJ est attendue"),
        ({"given_on": "2025-02-30"}, "une date AAAA-MM-JJ est attendue"),
        ({"given_on": 1736899200}, "une date AAAA-MM-JJ est attendue"),
        ({"party": None}, "un texte est attendu"),
        ({"extra": 1}, "ce champ n'est pas prévu"),
    ],
)
def test_bad_input_is_refused_in_french_and_changes_nothing(
    rclient: TestClient, engine: Engine, recording: dict, body: dict, words: str
) -> None:
    refused = give(rclient, recording["id"], **body)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(issue["msg"] for issue in detail)
    assert words in text
    assert stored(engine) == [] and audit(engine, "consent_given") == []


def test_a_missing_date_or_party_is_refused(rclient: TestClient, recording: dict) -> None:
    refused = rclient.post(consents_url(recording["id"]), json={"scopes": ["research"]})
    assert refused.status_code == 422
    assert {tuple(i["loc"]) for i in refused.json()["detail"]} == {
        ("body", "party"),
        ("body", "given_on"),
    }
    assert all(i["msg"] == "ce champ est obligatoire" for i in refused.json()["detail"])


def test_one_consent_in_force_per_party(
    rclient: TestClient, engine: Engine, recording: dict
) -> None:
    first = give(rclient, recording["id"]).json()
    again = give(rclient, recording["id"], scopes=["research", "training"])
    assert again.status_code == 409
    assert "retirez-le d'abord" in again.json()["detail"]
    assert f"n° {first['id']}" in again.json()["detail"]
    assert len(stored(engine)) == 1 and len(audit(engine, "consent_given")) == 1
    # Withdrawn, another may be recorded.
    assert rclient.post(withdraw_url(first["id"])).status_code == 200
    assert give(rclient, recording["id"], scopes=["research", "training"]).status_code == 201


def test_withdrawing_twice_conflicts_and_changes_nothing(
    rclient: TestClient, engine: Engine, recording: dict
) -> None:
    given = give(rclient, recording["id"]).json()
    assert rclient.post(withdraw_url(given["id"]), json={"withdrawn_on": "2025-02-01"}).is_success
    twice = rclient.post(withdraw_url(given["id"]))
    assert twice.status_code == 409
    assert "déjà été retiré le 01/02/2025" in twice.json()["detail"]
    (consent,) = stored(engine)
    assert consent.withdrawn_on == date(2025, 2, 1)
    assert len(audit(engine, "consent_withdrawn")) == 1
    future = give(rclient, recording["id"]).json()
    refused = rclient.post(withdraw_url(future["id"]), json={"withdrawn_on": TOMORROW})
    assert refused.status_code == 422 and "pas encore arrivé" in refused.json()["detail"]
    assert stored(engine)[1].withdrawn_on is None


def test_unknown_consent(rclient: TestClient) -> None:
    unknown = rclient.post(withdraw_url(999))
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "Aucun consentement n° 999."


def test_who_may_record_see_and_withdraw(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    mine = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    given = give(rclient, mine["id"]).json()
    theirs = factories.token(engine, counsellor)
    outsider = factories.token(engine, factories.account(engine, "zoe", "researcher"))
    # The counsellor sees the consents of their own recording, records and withdraws none.
    seen = client.get(consents_url(mine["id"]), headers=theirs)
    assert seen.status_code == 200 and [c["id"] for c in seen.json()] == [given["id"]]
    body = {"party": "beneficiary", "scopes": ["research"], "given_on": "2025-01-15"}
    refused = client.post(consents_url(mine["id"]), json=body, headers=theirs)
    assert refused.status_code == 403 and "chercheurs" in refused.json()["detail"]
    assert client.post(withdraw_url(given["id"]), headers=theirs).status_code == 403
    # Someone outside the study: as if nothing existed.
    assert client.get(consents_url(mine["id"]), headers=outsider).status_code == 404
    assert client.post(consents_url(mine["id"]), json=body, headers=outsider).status_code == 404
    hidden = client.post(withdraw_url(given["id"]), headers=outsider)
    assert hidden.status_code == 404
    assert hidden.json()["detail"] == f"Aucun consentement n° {given['id']}."
    assert len(stored(engine)) == 1 and stored(engine)[0].withdrawn_on is None
    client.cookies.clear()
    assert client.get(consents_url(mine["id"])).status_code == 401


# The gates.


def test_no_media_without_research_consent_from_both(
    rclient: TestClient, engine: Engine, ready: dict
) -> None:
    rid = ready["id"]
    assert ready["media_url"] is None and ready["poster_url"] is None
    assert ready["consent"]["missing_research"] == ["counsellor", "beneficiary"]
    for url in media_urls(rid):
        refused = rclient.get(url, headers={"Range": "bytes=0-99"})
        assert refused.status_code == 403, url
        detail = refused.json()["detail"]
        assert "consentement du conseiller et le consentement du bénéficiaire" in detail
        assert rclient.head(url).status_code == 403, url
    assert give(rclient, rid, scopes=["training"]).status_code == 201  # not research
    give(rclient, rid, party="beneficiary")
    refused = rclient.get(f"/api/v1/recordings/{rid}/media").json()["detail"]
    assert "du conseiller pour la recherche manque" in refused and "bénéficiaire" not in refused
    assert audit(engine, "play") == []


def test_a_withdrawal_stops_the_media_at_the_next_request(
    app: FastAPI, rclient: TestClient, ready: dict, settings: Settings
) -> None:
    rid = ready["id"]
    factories.consent_all(rclient, rid)
    view = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert view["media_url"] and view["consent"]["playable"] is True
    grants: MediaGrants = app.state.media_grants
    cookie = f"session:{rclient.cookies.get('autoconf_session')}"
    for start in (0, 1000):  # the first is checked, the second served from the grant
        part = rclient.get(view["media_url"], headers={"Range": f"bytes={start}-{start + 99}"})
        assert part.status_code == 206
    assert grants.get(cookie, rid) is not None
    beneficiary = rclient.get(consents_url(rid)).json()[1]
    assert rclient.post(withdraw_url(beneficiary["id"])).status_code == 200
    assert grants.get(cookie, rid) is None
    refused = rclient.get(view["media_url"], headers={"Range": "bytes=2000-2099"})
    assert refused.status_code == 403 and "bénéficiaire" in refused.json()["detail"]
    assert rclient.get(view["poster_url"]).status_code == 403
    assert grants.get(cookie, rid) is None  # a "no" is never remembered
    after = rclient.get(f"/api/v1/recordings/{rid}").json()
    assert after["media_url"] is None and after["consent"]["withdrawn"] is True


def test_a_withdrawal_during_a_check_leaves_no_grant() -> None:
    grants = MediaGrants()
    files = MediaFiles("A1", "ready", "recordings/x/proxy.mp4", "video", {})
    since = grants.epoch  # a request's check begins…
    grants.forget(7)  # …a consent is withdrawn meanwhile…
    grants.remember("session:abc", 7, files, since)  # …its grant must not be kept
    assert grants.get("session:abc", 7) is None
    grants.remember("session:abc", 7, files, grants.epoch)
    assert grants.get("session:abc", 7) == files


def test_a_study_without_required_consent_plays_without_consents(
    rclient: TestClient, engine: Engine, ready: dict
) -> None:
    with Session(engine) as session:
        study = session.get(Study, ready["study_id"])
        assert study is not None and study.consent_required  # new studies require it
        study.consent_required = False
        session.add(study)
        session.commit()
    view = rclient.get(f"/api/v1/recordings/{ready['id']}").json()
    assert view["consent"]["required"] is False and view["consent"]["playable"] is True
    assert view["consent"]["missing_research"] == ["counsellor", "beneficiary"]
    assert rclient.get(view["media_url"], headers={"Range": "bytes=0-9"}).status_code == 206
    # Clips still need training consent from both.
    segment = rclient.post(
        factories.annotations_url(view), json={"start_ms": 1000, "end_ms": 2000}
    ).json()
    clip = rclient.get(f"/api/v1/annotations/{segment['id']}/clip")
    assert clip.status_code == 403 and "formation" in clip.json()["detail"]


# The audit log.


def test_one_play_entry_per_recording_and_login_session(
    rclient: TestClient,
    engine: Engine,
    researcher: factories.Account,
    ready: dict,
) -> None:
    rid = ready["id"]
    factories.consent_all(rclient, rid)
    media = f"/api/v1/recordings/{rid}/media"
    assert rclient.get(media, headers={"Range": "bytes=0-99"}).status_code == 206
    assert rclient.get(media, headers={"Range": "bytes=100-199"}).status_code == 206
    assert rclient.get(f"/api/v1/recordings/{rid}/poster").status_code == 200
    (play,) = audit(engine, "play")
    assert (play.user_id, play.recording_id, play.study_id) == (
        researcher.id,
        rid,
        ready["study_id"],
    )
    assert play.credential and play.detail == {}
    factories.login(rclient, researcher)  # a second login session
    assert rclient.get(media, headers={"Range": "bytes=0-99"}).status_code == 206
    plays = audit(engine, "play")
    assert len(plays) == 2 and plays[0].credential != plays[1].credential


def test_the_transcript_export_needs_consent_and_is_logged(
    rclient: TestClient, engine: Engine, ready: dict
) -> None:
    rid = ready["id"]
    imported = rclient.post(
        f"/api/v1/recordings/{rid}/transcript",
        files={"file": ("s.vtt", DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert imported.status_code == 200
    url = f"/api/v1/recordings/{rid}/transcript.vtt"
    refused = rclient.get(url)
    assert refused.status_code == 403 and "exporté" in refused.json()["detail"]
    assert audit(engine, "export") == []
    factories.consent_all(rclient, rid)
    assert rclient.get(url).status_code == 200
    assert rclient.get(url).status_code == 200
    exports = audit(engine, "export")
    assert len(exports) == 2  # every export
    assert (exports[0].recording_id, exports[0].detail) == (
        rid,
        {"what": "transcript", "format": "vtt"},
    )


def test_the_session_report_needs_consent_and_its_files_are_logged(
    rclient: TestClient, engine: Engine, study: dict, recording: dict
) -> None:
    interview = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A8", "recording_ids": [recording["id"]]},
    ).json()
    live = rclient.post(f"/api/v1/recordings/{recording['id']}/live").json()
    assert rclient.post(f"/api/v1/live/{live['id']}/stops", json={"position_ms": 1000}).is_success
    url = f"/api/v1/interviews/{interview['id']}/report"
    for fmt in ("json", "csv", "html", "docx"):
        refused = rclient.get(url, params={"format": fmt})
        assert refused.status_code == 403 and "A8" in refused.json()["detail"], fmt
    factories.consent_all(rclient, recording["id"])
    assert rclient.get(url).status_code == 200
    assert audit(engine, "export") == []  # the JSON the page shows is not a file
    assert rclient.get(url, params={"format": "csv"}).status_code == 200
    (entry,) = audit(engine, "export")
    assert (entry.object_type, entry.object_id, entry.detail) == (
        "interview",
        interview["id"],
        {"what": "report", "format": "csv"},
    )


# The recording page.


def page(client: TestClient, recording_id: int) -> str:
    response = client.get(f"/recordings/{recording_id}", headers={"accept": "text/html"})
    assert response.status_code == 200
    return html.unescape(response.text)


def test_the_page_records_and_withdraws_consents(
    rclient: TestClient, engine: Engine, ready: dict
) -> None:
    rid = ready["id"]
    text = page(rclient, rid)
    assert "Aucun consentement enregistré" in text
    assert "Ce média ne peut pas être lu" in text and "data-player-media" not in text
    assert "Il manque le consentement pour la recherche du conseiller et du bénéficiaire" in text
    assert f'href="/recordings/{rid}#consentements"' in text
    for party in ("counsellor", "beneficiary"):
        sent = rclient.post(
            f"/recordings/{rid}/consents",
            data={"party": party, "scopes": ["research", "training"], "given_on": "15/01/2025"},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == f"/recordings/{rid}#consentements"
    text = page(rclient, rid)
    assert "data-player-media" in text and "Ce média ne peut pas être lu" not in text
    assert "Bénéficiaire" in text and "15/01/2025" in text and "recherche, formation" in text
    assert "Extrait vidéo pour la formation" in text
    consent = stored(engine)[0]
    withdrawn = rclient.post(f"/consents/{consent.id}/withdraw", follow_redirects=False)
    assert withdrawn.status_code == 303
    text = page(rclient, rid)
    assert "ce média n'est plus lisible" in text and "data-player-media" not in text
    assert f'href="/recordings/{rid}/erase"' in text
    assert rclient.get(f"/api/v1/recordings/{rid}/media").status_code == 403


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"party": "spouse", "scopes": ["research"], "given_on": TODAY}, "Partie inconnue"),
        ({"party": "counsellor", "given_on": TODAY}, "au moins un usage"),
        ({"party": "counsellor", "scopes": ["research"], "given_on": TOMORROW}, "pas encore"),
        ({"party": "counsellor", "scopes": ["research"], "given_on": "hier"}, "une date est"),
    ],
)
def test_the_page_form_refuses_in_french(
    rclient: TestClient, engine: Engine, recording: dict, form: dict, words: str
) -> None:
    refused = rclient.post(
        f"/recordings/{recording['id']}/consents", data=form, headers={"accept": "text/html"}
    )
    assert refused.status_code == 422
    assert words in html.unescape(refused.text) and "Traceback" not in refused.text
    assert stored(engine) == []
    assert rclient.get("/api/v1/me").status_code == 200  # still serving


def test_counsellors_see_the_consents_without_the_forms(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    mine = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    give(rclient, mine["id"])
    rclient.cookies.clear()
    factories.login(client, counsellor)
    text = page(client, mine["id"])
    assert "Consentements" in text and "Conseiller" in text
    assert "Enregistrer un consentement" not in text and "/withdraw" not in text


def test_the_live_page_says_why_there_is_no_player(rclient: TestClient, ready: dict) -> None:
    interview = {"code": "E1", "recording_ids": [ready["id"]]}
    created = rclient.post(f"/api/v1/studies/{ready['study_id']}/interviews", json=interview)
    assert created.status_code == 201, created.text
    started = rclient.post(f"/api/v1/recordings/{ready['id']}/live")
    assert started.status_code == 201, started.text
    response = rclient.get(f"/live/{started.json()['id']}", headers={"accept": "text/html"})
    text = html.unescape(response.text)
    assert response.status_code == 200 and "data-player-media" not in text
    assert "Ce média ne peut pas être lu" in text and "pas encore prête" not in text
