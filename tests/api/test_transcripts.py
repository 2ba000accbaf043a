"""Importing a recording's transcript (WebVTT or SRT) replaces the previous one; it comes
back out as WebVTT with its voices; only researchers import."""

import html

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.schemes.transcripts import parse_transcript
from autoconf.settings import Settings
from tests import factories
from tests.factories import DEMO_TRANSCRIPT


def send(client: TestClient, recording_id: int, content: bytes, name: str) -> object:
    return client.post(
        f"/api/v1/recordings/{recording_id}/transcript", files={"file": (name, content, "text/vtt")}
    )


def test_import_replaces_and_exports_with_voices(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    recording = factories.processed(rclient, engine, settings, study["id"])
    rid = recording["id"]
    url = f"/api/v1/recordings/{rid}/annotations"
    coding = rclient.post(url, json={"start_ms": 1000, "note": "moment"})
    assert coding.status_code == 201

    first = send(rclient, rid, DEMO_TRANSCRIPT.read_bytes(), "seance-demo.vtt")
    assert first.status_code == 200 and first.json() == {"cues": 20}
    again = send(rclient, rid, b"1\n00:00:02,000 --> 00:00:03,000\nEncore\n", "court.srt")
    assert again.json() == {"cues": 1}
    listed = rclient.get(url).json()
    cues = [a for a in listed if a["origin"] == "transcript"]
    assert [(c["start_ms"], c["end_ms"], c["note"]) for c in cues] == [(2000, 3000, "Encore")]
    assert [a["note"] for a in listed if a["origin"] == "coding"] == ["moment"]  # untouched

    send(rclient, rid, DEMO_TRANSCRIPT.read_bytes(), "seance-demo.vtt")
    exported = rclient.get(f"/api/v1/recordings/{rid}/transcript.vtt")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/vtt")
    assert "attachment" in exported.headers["content-disposition"]
    original = parse_transcript(DEMO_TRANSCRIPT.read_bytes(), "a.vtt")
    assert parse_transcript(exported.content, "b.vtt") == original

    page = html.unescape(rclient.get(f"/recordings/{rid}").text)
    assert "Bonjour monsieur Durand" in page and "Importer une transcription" in page


def test_bad_transcripts_are_refused_in_french(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    recording = factories.processed(rclient, engine, settings, study["id"])
    rid = recording["id"]
    wrong = send(rclient, rid, b"%PDF-1.4", "transcription.vtt")
    assert wrong.status_code == 422 and "lisible" in wrong.json()["detail"]
    late = b"WEBVTT\n\n01:00:00.000 --> 01:00:05.000\n<v A>Trop tard\n"
    beyond = send(rclient, rid, late, "autre.vtt")
    assert beyond.status_code == 422 and "dépasse la durée" in beyond.json()["detail"]
    form = rclient.post(
        f"/recordings/{rid}/transcript", files={"file": ("autre.vtt", late, "text/vtt")}
    )
    assert form.status_code == 422 and "dépasse la durée" in html.unescape(form.text)
    ok = rclient.post(
        f"/recordings/{rid}/transcript",
        files={"file": ("demo.vtt", DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"].endswith("#transcription")


def test_only_researchers_import(rclient: TestClient, engine: Engine, study: dict) -> None:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "bea", "A9"
    )
    rid = factories.upload(rclient, study["id"], "A9 - 1", counsellor_id=counsellor_id).json()["id"]
    factories.consent_all(rclient, rid)  # the export needs it
    factories.login(rclient, counsellor)
    refused = send(rclient, rid, DEMO_TRANSCRIPT.read_bytes(), "seance-demo.vtt")
    assert refused.status_code == 403
    assert rclient.get(f"/api/v1/recordings/{rid}/transcript.vtt").status_code == 200
