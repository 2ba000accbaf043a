"""Clips for training through the API: researchers only, when both parties' consents cover
training use; the clip named after the code and the times, its temporary file removed."""

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.media.clips import CLIPS_FOLDER
from autoconf.models import AuditEvent
from autoconf.settings import Settings
from tests import factories
from tests.mediafiles import VARIANTS, duration_s, make_media, streams

# Once (the SQLite pass): ffmpeg's cuts and the file's name; the consent checks before them
# run on both passes in test_consents.
pytestmark = pytest.mark.once


@pytest.fixture
def ready(rclient: TestClient, engine: Engine, settings: Settings, study: dict) -> dict:
    """Processed, with no consent yet."""
    recording = factories.processed(rclient, engine, settings, study["id"], "A8 - 1", consent=False)
    assert recording["status"] == "ready", recording["error"]
    return recording


def consent(
    client: TestClient, recording: dict, party: str, scopes: list[str], **kw: object
) -> Any:
    return client.post(
        f"/api/v1/recordings/{recording['id']}/consents",
        json={"party": party, "scopes": scopes, "given_on": "2025-02-01"},
        **kw,
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
    rclient: TestClient, engine: Engine, ready: dict, settings: Settings, tmp_path: Path
) -> None:
    assert ready["consent"]["training"] is False and ready["media_url"] is None
    factories.consent_all(rclient, ready["id"])
    view = rclient.get(f"/api/v1/recordings/{ready['id']}").json()
    assert view["consent"]["training"] is True and view["media_url"]

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
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEvent).where(AuditEvent.action == "download")).all()
    assert (entry.recording_id, entry.object_type, entry.object_id) == (
        ready["id"],
        "annotation",
        annotation_id,
    )
    assert entry.detail == {"what": "clip", "start_ms": 12_400, "end_ms": 17_600}


def test_no_clip_without_training_consent_from_both(rclient: TestClient, ready: dict) -> None:
    annotation_id = annotate(rclient, ready, 1000, 5000)
    assert consent(rclient, ready, "counsellor", ["research", "training"]).status_code == 201
    beneficiary = consent(rclient, ready, "beneficiary", ["research"])
    assert beneficiary.status_code == 201
    refused = rclient.get(clip_url(annotation_id))
    assert refused.status_code == 403
    detail = refused.json()["detail"]
    assert "consentement du bénéficiaire" in detail and "formation" in detail
    assert "conseiller" not in detail
    # Research consent from both: it plays, though it makes no clip.
    assert rclient.get(f"/api/v1/recordings/{ready['id']}/media").status_code == 200
    # The beneficiary's consent replaced by one that covers training: the clip is made.
    withdrawn = rclient.post(f"/api/v1/consents/{beneficiary.json()['id']}/withdraw")
    assert withdrawn.status_code == 200
    assert consent(rclient, ready, "beneficiary", ["training", "research"]).status_code == 201
    assert rclient.get(f"/api/v1/recordings/{ready['id']}").json()["consent"]["training"] is True
    counsellor = rclient.get(f"/api/v1/recordings/{ready['id']}/consents").json()[0]
    assert rclient.post(f"/api/v1/consents/{counsellor['id']}/withdraw").status_code == 200
    again = rclient.get(clip_url(annotation_id))
    assert again.status_code == 403 and "conseiller" in again.json()["detail"]


def test_training_consent_without_research_gives_no_clip_where_research_is_required(
    rclient: TestClient, ready: dict
) -> None:
    factories.consent_all(rclient, ready["id"], scopes=("training",))
    refused = rclient.get(clip_url(annotate(rclient, ready, 1000, 5000)))
    assert refused.status_code == 403 and "recherche" in refused.json()["detail"]


def test_a_moment_has_no_clip(rclient: TestClient, ready: dict) -> None:
    factories.consent_all(rclient, ready["id"])
    refused = rclient.get(clip_url(annotate(rclient, ready, 10_000, None)))
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("Un moment n'a pas de durée")


def test_sound_only_recordings_give_a_sound_clip(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    recording = factories.processed(
        rclient, engine, settings, study["id"], "A3", VARIANTS / "audio.m4a"
    )
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
    refused = rclient.get(clip_url(annotate(rclient, recording, 0, 10 * 60_000 + 1000)))
    assert refused.status_code == 422
    assert "10\u201900" in refused.json()["detail"]


def test_an_unprocessed_recording_conflicts(rclient: TestClient, recording: dict) -> None:
    factories.consent_all(rclient, recording["id"])  # uploaded, never processed
    waiting = rclient.get(clip_url(annotate(rclient, recording, 1000, 2000)))
    assert waiting.status_code == 409
    assert "traité" in waiting.json()["detail"]


def test_a_missing_original_conflicts(rclient: TestClient, ready: dict, settings: Settings) -> None:
    factories.consent_all(rclient, ready["id"])
    annotation_id = annotate(rclient, ready, 1000, 2000)
    (original,) = (settings.media_dir / "recordings").glob("*/original.*")
    original.unlink()
    missing = rclient.get(clip_url(annotation_id))
    assert missing.status_code == 409
    assert "introuvable" in missing.json()["detail"]
    assert str(settings.data_dir) not in missing.text


def test_counsellors_neither_export_nor_record_consent(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    me, counsellor_id = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    mine = factories.upload(rclient, study["id"], "A8 - 2", counsellor_id=counsellor_id).json()
    factories.consent_all(rclient, mine["id"])
    headers = factories.token(engine, me)
    # Their own mark on their recording: they read it, and the consents, but may not export
    # nor record or withdraw a consent.
    created = client.post(
        factories.annotations_url(mine),
        json={"start_ms": 1000, "end_ms": 3000, "layer": "prepared", "origin": "prepared"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    annotation_id = created.json()["id"]
    refused = client.get(clip_url(annotation_id), headers=headers)
    assert refused.status_code == 403
    assert "chercheurs" in refused.json()["detail"]
    listed = client.get(f"/api/v1/recordings/{mine['id']}/consents", headers=headers)
    assert listed.status_code == 200 and len(listed.json()) == 2
    withdraw = client.post(f"/api/v1/consents/{listed.json()[0]['id']}/withdraw", headers=headers)
    assert withdraw.status_code == 403
    assert all(c["active"] for c in rclient.get(f"/api/v1/recordings/{mine['id']}/consents").json())


def test_the_old_flag_is_gone(rclient: TestClient, recording: dict) -> None:
    url = f"/api/v1/recordings/{recording['id']}"
    assert rclient.patch(url, json={"training_consent": True}).status_code == 422
    assert "training_consent" not in rclient.get(url).json()
    assert rclient.post(f"/recordings/{recording['id']}/training-consent").status_code in (404, 405)


def test_strangers_and_unknown_annotations(
    client: TestClient, engine: Engine, rclient: TestClient, ready: dict
) -> None:
    factories.consent_all(rclient, ready["id"])
    annotation_id = annotate(rclient, ready, 1000, 2000)
    other = factories.account(engine, "bruno", "researcher")
    headers = factories.token(engine, other)
    assert client.get(clip_url(annotation_id), headers=headers).status_code == 404
    assert rclient.get(clip_url(999_999)).status_code == 404
    client.cookies.clear()
    assert client.get(clip_url(annotation_id)).status_code == 401
