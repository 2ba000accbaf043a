"""Clips for training through the API: researchers only, when the recording's consent covers
training use; the clip named after the code and the times, its temporary file removed."""

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.media.clips import CLIPS_FOLDER
from autoconf.settings import Settings
from tests import factories
from tests.mediafiles import VARIANTS, duration_s, make_media, streams


@pytest.fixture
def ready(rclient: TestClient, engine: Engine, settings: Settings, study: dict) -> dict:
    recording = factories.processed(rclient, engine, settings, study["id"], "A8 - 1")
    assert recording["status"] == "ready", recording["error"]
    return recording


def consent(client: TestClient, recording: dict, value: object = True, **kw: object) -> object:
    return client.patch(
        f"/api/v1/recordings/{recording['id']}", json={"training_consent": value}, **kw
    )


def annotate(client: TestClient, recording: dict, start_ms: int, end_ms: int | None) -> int:
    created = client.post(
        factories.annotations_url(recording), json={"start_ms": start_ms, "end_ms": end_ms}
    )
    assert created.status_code == 201, created.text
    annotation_id: int = created.json()["id"]
    return annotation_id


def clip_url(annotation_id: int) -> str:
    return f"/api/v1/annotations/{annotation_id}/clip"


def leftover_clips(settings: Settings) -> list[Path]:
    return list((settings.data_dir / CLIPS_FOLDER).glob("*"))


def test_a_segment_becomes_a_named_clip(
    rclient: TestClient, ready: dict, settings: Settings, tmp_path: Path
) -> None:
    assert ready["training_consent"] is False
    changed = consent(rclient, ready)
    assert changed.status_code == 200, changed.text
    assert changed.json()["training_consent"] is True
    assert changed.json()["media_url"]  # the whole recording's view, as GET gives it
    assert rclient.get(f"/api/v1/recordings/{ready['id']}").json()["training_consent"] is True

    annotation_id = annotate(rclient, ready, 12_400, 17_600)
    response = rclient.get(clip_url(annotation_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    name = "A8 - 1 — 0\u201912-0\u201917.mp4"
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"A8 - 1 - 0'12-0'17.mp4\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    assert "no-store" in response.headers["cache-control"]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(response.content)
    assert abs(duration_s(clip) - 5.2) <= 0.1
    assert [s["codec_name"] for s in streams(clip, "video")] == ["h264"]
    assert leftover_clips(settings) == []  # the temporary file went with the response


def test_no_clip_without_consent_for_training(rclient: TestClient, ready: dict) -> None:
    annotation_id = annotate(rclient, ready, 1000, 5000)
    refused = rclient.get(clip_url(annotation_id))
    assert refused.status_code == 403
    assert "consentement" in refused.json()["detail"]
    assert "formation" in refused.json()["detail"]
    # Withdrawn after being given: refused again.
    assert consent(rclient, ready).status_code == 200
    assert consent(rclient, ready, False).json()["training_consent"] is False
    assert rclient.get(clip_url(annotation_id)).status_code == 403


def test_a_moment_has_no_clip(rclient: TestClient, ready: dict) -> None:
    consent(rclient, ready)
    refused = rclient.get(clip_url(annotate(rclient, ready, 10_000, None)))
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("Un moment n'a pas de durée")


def test_sound_only_recordings_give_a_sound_clip(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    recording = factories.processed(
        rclient, engine, settings, study["id"], "A3", VARIANTS / "audio.m4a"
    )
    consent(rclient, recording)
    response = rclient.get(clip_url(annotate(rclient, recording, 1000, 4000)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mp4"
    assert quote("A3 — 0\u201901-0\u201904.m4a", safe="") in response.headers["content-disposition"]
    clip = tmp_path / "clip.m4a"
    clip.write_bytes(response.content)
    assert streams(clip, "video") == []
    assert [s["codec_name"] for s in streams(clip, "audio")] == ["aac"]
    assert abs(duration_s(clip) - 3.0) <= 0.1


def test_segments_over_ten_minutes_are_refused(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    long = make_media(
        tmp_path / "long.m4a",
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=8000:duration=660",
        "-c:a", "aac", "-b:a", "12k",
    )  # fmt: skip
    recording = factories.processed(rclient, engine, settings, study["id"], "A4", long)
    assert recording["status"] == "ready", recording["error"]
    consent(rclient, recording)
    refused = rclient.get(clip_url(annotate(rclient, recording, 0, 10 * 60_000 + 1000)))
    assert refused.status_code == 422
    assert "10\u201900" in refused.json()["detail"]


def test_an_unprocessed_recording_conflicts(rclient: TestClient, recording: dict) -> None:
    consent(rclient, recording)  # uploaded, never processed (jobs run when a test says so)
    waiting = rclient.get(clip_url(annotate(rclient, recording, 1000, 2000)))
    assert waiting.status_code == 409
    assert "traité" in waiting.json()["detail"]


def test_a_missing_original_conflicts(rclient: TestClient, ready: dict, settings: Settings) -> None:
    consent(rclient, ready)
    annotation_id = annotate(rclient, ready, 1000, 2000)
    (original,) = (settings.media_dir / "recordings").glob("*/original.*")
    original.unlink()
    missing = rclient.get(clip_url(annotation_id))
    assert missing.status_code == 409
    assert "introuvable" in missing.json()["detail"]
    assert str(settings.data_dir) not in missing.text


def test_counsellors_neither_export_nor_consent(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    me, counsellor_id = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    mine = factories.upload(rclient, study["id"], "A8 - 2", counsellor_id=counsellor_id).json()
    assert consent(rclient, mine).status_code == 200
    annotation_id = annotate(rclient, mine, 1000, 3000)
    headers = factories.token(engine, me)
    # They read their recording's annotation, but may not export it nor change consent.
    assert client.get(f"/api/v1/annotations/{annotation_id}", headers=headers).status_code == 200
    refused = client.get(clip_url(annotation_id), headers=headers)
    assert refused.status_code == 403
    assert "chercheurs" in refused.json()["detail"]
    patched = consent(client, mine, False, headers=headers)
    assert patched.status_code == 403
    assert rclient.get(f"/api/v1/recordings/{mine['id']}").json()["training_consent"] is True


def test_consent_must_be_a_boolean(rclient: TestClient, recording: dict) -> None:
    url = f"/api/v1/recordings/{recording['id']}"
    for body in ({"training_consent": "yes"}, {"training_consent": None}, {"code": "B1"}):
        assert rclient.patch(url, json=body).status_code == 422, body
    unchanged = rclient.patch(url, json={})
    assert unchanged.status_code == 200 and unchanged.json()["training_consent"] is False
    assert rclient.patch("/api/v1/recordings/999999", json={}).status_code == 404


def test_strangers_and_unknown_annotations(
    client: TestClient, engine: Engine, rclient: TestClient, ready: dict
) -> None:
    consent(rclient, ready)
    annotation_id = annotate(rclient, ready, 1000, 2000)
    other = factories.account(engine, "bruno", "researcher")
    headers = factories.token(engine, other)
    assert client.get(clip_url(annotation_id), headers=headers).status_code == 403
    assert rclient.get(clip_url(999_999)).status_code == 404
    client.cookies.clear()
    assert client.get(clip_url(annotation_id)).status_code == 401


def test_the_recording_page_switches_the_training_consent(rclient: TestClient, study: dict) -> None:
    rec = factories.upload(rclient, study["id"], "A8 - 1").json()
    page = rclient.get(f"/recordings/{rec['id']}", headers={"accept": "text/html"})
    assert "non couvert par le consentement" in page.text
    switched = rclient.post(
        f"/recordings/{rec['id']}/training-consent",
        data={"training_consent": "true"},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert rclient.get(f"/api/v1/recordings/{rec['id']}").json()["training_consent"] is True
    bad = rclient.post(
        f"/recordings/{rec['id']}/training-consent", data={"training_consent": "oui"}
    )
    assert bad.status_code == 422
