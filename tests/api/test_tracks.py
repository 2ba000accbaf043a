"""The player's WebVTT tracks of a recording: prepared moments as chapters, coding segments
as metadata; escaped so that no note can break a cue; only what their reader may see."""

import io
import json
from html import unescape
from typing import Any

import webvtt
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.db import session_scope
from autoconf.models import AuditEvent, Recording
from autoconf.schemes import tracks
from tests import factories

HOSTILE = "avant --> après <b>gras</b> & co\n\nsuite"


def _track(client: TestClient, recording_id: int, name: str, **kw: Any) -> list[webvtt.Caption]:
    answer = client.get(f"/api/v1/recordings/{recording_id}/{name}.vtt", **kw)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/vtt; charset=utf-8"
    assert answer.headers["content-disposition"].startswith("inline;")
    assert answer.headers["cache-control"] == "no-store"
    text = answer.text
    # Every "-->" is a cue's timing line; no payload opens a tag.
    for block in text.split("\n\n")[1:]:
        timing, *payload = block.strip("\n").split("\n")
        assert "-->" in timing and not any("-->" in line for line in payload), block
        assert not any("<" in line for line in payload), block
    return list(webvtt.from_buffer(io.StringIO(text)).captions)


def _times(captions: list[webvtt.Caption]) -> list[tuple[int, int]]:
    return [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds()) for c in captions]


def _set_duration(engine: Engine, recording_id: int, duration_ms: int | None) -> None:
    with session_scope(engine) as session:
        row = session.get(Recording, recording_id)
        assert row is not None
        row.duration_ms = duration_ms
        session.add(row)


def test_prepared_moments_are_chapters_until_the_next(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    rid = recording["id"]
    url = factories.annotations_url(recording)
    for body in (
        {"start_ms": 12_000, "origin": "prepared", "note": HOSTILE},
        {"start_ms": 2_000, "origin": "prepared", "note": "  il reformule\nsans vérifier "},
        {"start_ms": 30_000, "origin": "prepared"},  # no note
        {"start_ms": 30_000, "origin": "prepared", "note": "même instant"},
        {"start_ms": 45_000, "origin": "prepared"},
        {"start_ms": 5_000, "end_ms": 8_000, "note": "un segment, pas un chapitre"},
    ):
        assert rclient.post(url, json=body).status_code == 201

    captions = _track(rclient, rid, "chapters")  # duration unknown: a minute for the last
    assert _times(captions) == [
        (2_000, 12_000),
        (12_000, 30_000),
        (30_000, 45_000),
        (45_000, 45_000 + tracks.LAST_CHAPTER_MS),
    ]
    titles = [unescape(c.text) for c in captions]
    assert titles == [
        "il reformule sans vérifier",
        "avant --> après <b>gras</b> & co suite",
        "même instant",
        "Moment préparé 4",
    ]
    # The escapes, as written in the file.
    assert captions[1].raw_text == "avant --&gt; après &lt;b&gt;gras&lt;/b&gt; &amp; co suite"

    _set_duration(engine, rid, 50_000)
    assert _times(_track(rclient, rid, "chapters"))[-1] == (45_000, 50_000)


def test_coding_segments_are_a_metadata_track_of_json(
    rclient: TestClient, recording: dict, researcher: factories.Account
) -> None:
    rid, study_id = recording["id"], recording["study_id"]
    schemes = factories.codes_by_path(rclient, study_id, "schemes")
    phases = factories.codes_by_path(rclient, study_id, "phases")
    listen, ask = schemes["Écouter / reformuler"], schemes["Questionner / vérifier"]
    url = factories.annotations_url(recording)
    made = [
        rclient.post(
            url,
            json={"start_ms": 4_000, "end_ms": 9_000, "code_ids": [listen, ask], "note": HOSTILE},
        ),
        rclient.post(url, json={"start_ms": 1_000, "end_ms": 3_000, "layer": "consensus"}),
        rclient.post(url, json={"start_ms": 5_000, "code_ids": [listen]}),  # a moment
        rclient.post(
            url,
            json={"start_ms": 1_000, "end_ms": 2_000, "code_ids": [next(iter(phases.values()))]},
        ),  # a phase
        rclient.post(url, json={"start_ms": 6_000, "origin": "prepared", "note": "chapitre"}),
    ]
    assert all(answer.status_code == 201 for answer in made), [a.text for a in made]

    captions = _track(rclient, rid, "segments")
    assert _times(captions) == [(1_000, 3_000), (4_000, 9_000)]
    payloads = [json.loads(c.raw_text) for c in captions]
    assert payloads == [
        {
            "id": made[1].json()["id"],
            "layer": "consensus",
            "codes": [],
            "author": researcher.username,
            "note": "",
        },
        {
            "id": made[0].json()["id"],
            "layer": "schemes",
            "codes": ["Écouter / reformuler", "Questionner / vérifier"],
            "author": researcher.username,
            "note": HOSTILE,  # line breaks and all, as typed
        },
    ]
    assert "\\u003cb\\u003e" in captions[1].raw_text and "\\u0026" in captions[1].raw_text


def test_a_counsellor_gets_only_what_they_may_see(
    client: TestClient, rclient: TestClient, engine: Engine, study: dict
) -> None:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "bea", "A9"
    )
    recording = factories.upload(rclient, study["id"], "A9 - 1", counsellor_id=counsellor_id)
    rid = recording.json()["id"]
    url = f"/api/v1/recordings/{rid}/annotations"
    listen = factories.codes_by_path(rclient, study["id"], "schemes")["Écouter / reformuler"]
    segment = rclient.post(
        url, json={"start_ms": 1_000, "end_ms": 5_000, "code_ids": [listen], "note": "codage"}
    ).json()
    rclient.post(url, json={"start_ms": 2_000, "origin": "prepared", "note": "marque privée"})
    rclient.post(
        url,
        json={
            "start_ms": 3_000,
            "origin": "prepared",
            "note": "montrée",
            "shown_to_counsellor": True,
        },
    )
    headers = factories.token(engine, counsellor)
    mine = client.post(
        url, json={"start_ms": 4_000, "origin": "prepared", "note": "la mienne"}, headers=headers
    )
    assert mine.status_code == 201, mine.text

    chapters = _track(client, rid, "chapters", headers=headers)
    assert [unescape(c.text) for c in chapters] == ["montrée", "la mienne"]
    assert _track(client, rid, "segments", headers=headers) == []
    # With co-validation, the segments shown to them (and only those).
    turned = rclient.patch(f"/api/v1/studies/{study['id']}", json={"co_validation": True})
    assert turned.status_code == 200
    assert _track(client, rid, "segments", headers=headers) == []
    shown = rclient.patch(
        f"/api/v1/annotations/{segment['id']}",
        json={"version": segment["version"], "shown_to_counsellor": True},
    )
    assert shown.status_code == 200
    [cue] = _track(client, rid, "segments", headers=headers)
    assert json.loads(cue.raw_text)["codes"] == ["Écouter / reformuler"]
    # The researcher's: their private mark, not the counsellor's (theirs until shared).
    titles = [unescape(c.text) for c in _track(rclient, rid, "chapters")]
    assert titles == ["marque privée", "montrée"]
    # Someone outside the study: as if the recording did not exist.
    outsider = factories.account(engine, "olga", "researcher")
    hidden = client.get(
        f"/api/v1/recordings/{rid}/chapters.vtt", headers=factories.token(engine, outsider)
    )
    assert hidden.status_code == 404


def test_each_track_is_logged_once_per_login_session(
    rclient: TestClient, recording: dict, engine: Engine
) -> None:
    """The player asks for its tracks on every page and after every save: the audit log
    keeps the first of each per login session, as it keeps the first play."""
    rid = recording["id"]
    for _ in range(3):
        _track(rclient, rid, "chapters")
        _track(rclient, rid, "segments")
    with Session(engine) as session:
        logged = session.exec(
            select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.recording_id == rid)
        ).all()
    assert sorted(e.detail["what"] for e in logged) == ["chapters", "segments"]
    assert {e.detail["format"] for e in logged} == {"vtt"}


def test_the_recording_page_gives_its_player_the_tracks(
    rclient: TestClient, engine: Engine, settings: Any, study: dict
) -> None:
    recording = factories.processed(rclient, engine, settings, study["id"])
    rid = recording["id"]
    page = rclient.get(f"/recordings/{rid}").text
    chapters = (
        '<track kind="chapters" srclang="fr" label="Moments préparés" '
        f'src="/api/v1/recordings/{rid}/chapters.vtt" data-track="chapters">'
    )
    assert chapters in page
    # The annotator draws the coding itself: no segments track there.
    assert "segments.vtt" not in page and "data-segment-line" not in page
    assert "data-chapter-list" in page
