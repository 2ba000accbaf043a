from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import factories


def test_moments_and_segments_in_time_order(
    rclient: TestClient, study: dict, recording: dict
) -> None:
    schemes = factories.codes_by_path(rclient, study["id"], "schemes")
    listen = schemes["Écouter / reformuler"]
    segment = rclient.post(
        factories.annotations_url(recording),
        json={
            "start_ms": 34_878,
            "end_ms": 41_245,
            "code_ids": [listen, listen],
            "note": "Reformule",
            "fields": {"but": " Faire préciser ", "regret": ""},
        },
    )
    assert segment.status_code == 201, segment.text
    body = segment.json()
    assert body["code_ids"] == [listen]
    assert body["fields"] == {"but": "Faire préciser"}
    assert body["origin"] == "coding" and body["version"] == 1
    moment = rclient.post(
        factories.annotations_url(recording),
        json={
            "start_ms": 2_000,
            "origin": "prepared",
            "note": "10’02 — il reformule sans vérifier",
        },
    )
    assert moment.status_code == 201 and moment.json()["end_ms"] is None
    same = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 5_000, "end_ms": 5_000}
    )
    assert same.json()["end_ms"] is None
    listed = rclient.get(factories.annotations_url(recording)).json()
    assert [a["start_ms"] for a in listed] == [2_000, 5_000, 34_878]
    assert listed[2]["author_id"] is not None


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"start_ms": 5000, "end_ms": 4000}, 422, "avant le début"),
        ({"start_ms": -1}, 422, None),
        ({"start_ms": "début"}, 422, None),
        ({"end_ms": 10}, 422, None),
        ({"start_ms": 0, "fields": {"humeur": "x"}}, 422, "Champ(s) inconnu(s)"),
        ({"start_ms": 0, "origin": "magic"}, 422, None),
        ({"start_ms": 0, "code_ids": [987654]}, 422, "n'existe pas"),
        ({"start_ms": 0, "colour": "x"}, 422, None),
    ],
)
def test_bad_annotations_are_refused_clearly(
    rclient: TestClient, recording: dict, body: dict, status: int, words: str | None
) -> None:
    response = rclient.post(factories.annotations_url(recording), json=body)
    assert response.status_code == status
    if words:
        assert words in response.json()["detail"]
    assert rclient.get(factories.annotations_url(recording)).json() == []


def test_codes_of_another_study_are_refused(rclient: TestClient, recording: dict) -> None:
    other = rclient.post("/api/v1/studies", json={"name": "Autre"}).json()
    foreign = next(iter(factories.codes_by_path(rclient, other["id"], "schemes").values()))
    response = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 0, "code_ids": [foreign]}
    )
    assert response.status_code == 422 and "autre étude" in response.json()["detail"]


def test_archived_codes_cannot_be_applied(
    rclient: TestClient, study: dict, recording: dict
) -> None:
    code = next(iter(factories.codes_by_path(rclient, study["id"], "schemes").values()))
    rclient.patch(f"/api/v1/codes/{code}", json={"archived": True})
    response = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 0, "code_ids": [code]}
    )
    assert response.status_code == 422 and "archivé" in response.json()["detail"]


def test_patch_with_version_and_conflict(rclient: TestClient, study: dict, recording: dict) -> None:
    schemes = factories.codes_by_path(rclient, study["id"], "schemes")
    created = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 1000, "end_ms": 2000}
    ).json()
    url = f"/api/v1/annotations/{created['id']}"
    first = rclient.patch(
        url,
        json={
            "version": 1,
            "end_ms": 3000,
            "note": "plus long",
            "code_ids": [schemes["Se présenter"]],
        },
    )
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 2 and first.json()["end_ms"] == 3000
    assert first.json()["code_ids"] == [schemes["Se présenter"]]
    stale = rclient.patch(url, json={"version": 1, "note": "écrase ?"})
    assert stale.status_code == 409
    assert stale.json()["current"]["note"] == "plus long"
    assert stale.json()["current"]["version"] == 2
    # The largest version the API takes is stale too (on PostgreSQL, version + 1 from the
    # request overflowed its integer: a 500, found by the suite's PostgreSQL pass).
    largest = rclient.patch(url, json={"version": 2**31 - 1, "note": "écrase ?"})
    assert largest.status_code == 409, largest.text
    to_moment = rclient.patch(url, json={"version": 2, "end_ms": None})
    assert to_moment.json()["end_ms"] is None and to_moment.json()["note"] == "plus long"
    backwards = rclient.patch(url, json={"version": 3, "start_ms": 900, "end_ms": 100})
    assert backwards.status_code == 422
    missing_version = rclient.patch(url, json={"note": "x"})
    assert missing_version.status_code == 422
    final = rclient.get(url).json()
    assert final["version"] == 3 and final["note"] == "plus long"


def test_delete_with_optional_version(rclient: TestClient, recording: dict) -> None:
    created = rclient.post(factories.annotations_url(recording), json={"start_ms": 0}).json()
    url = f"/api/v1/annotations/{created['id']}"
    assert rclient.delete(f"{url}?version=7").status_code == 409
    assert rclient.delete(f"{url}?version=1").status_code == 204
    assert rclient.delete(url).status_code == 404
    assert rclient.get(url).status_code == 404
    assert rclient.patch(url, json={"version": 1}).status_code == 404


def test_counsellor_annotates_own_recording_but_edits_only_own_annotations(
    client: TestClient, engine: Engine, rclient: TestClient, study: dict
) -> None:
    sid = study["id"]
    me, cid = factories.counsellor_member(engine, rclient, sid, "a8", "A8")
    rec = factories.upload(rclient, sid, "A8 - 2", counsellor_id=cid).json()
    other = factories.upload(rclient, sid, "A4").json()
    researchers = rclient.post(
        f"/api/v1/recordings/{rec['id']}/annotations", json={"start_ms": 0}
    ).json()
    headers = factories.token(engine, me)
    mine = client.post(
        f"/api/v1/recordings/{rec['id']}/annotations",
        json={"start_ms": 4000, "origin": "prepared"},
        headers=headers,
    )
    assert mine.status_code == 201
    edit_mine = client.patch(
        f"/api/v1/annotations/{mine.json()['id']}",
        json={"version": 1, "note": "je m'arrête ici"},
        headers=headers,
    )
    assert edit_mine.status_code == 200
    edit_theirs = client.patch(
        f"/api/v1/annotations/{researchers['id']}",
        json={"version": 1, "note": "x"},
        headers=headers,
    )
    # The researchers' coding does not exist for a counsellor: 404, as for an unknown id.
    assert edit_theirs.status_code == 404
    assert (
        client.delete(f"/api/v1/annotations/{researchers['id']}", headers=headers).status_code
        == 404
    )
    elsewhere = client.post(
        f"/api/v1/recordings/{other['id']}/annotations", json={"start_ms": 0}, headers=headers
    )
    assert elsewhere.status_code == 404
    # A prepared mark is private until its author shares it: unknown to the researcher.
    mark = f"/api/v1/annotations/{mine.json()['id']}"
    assert rclient.patch(mark, json={"version": 2, "note": "ok"}).status_code == 404
    listed = rclient.get(f"/api/v1/recordings/{rec['id']}/annotations").json()
    assert mine.json()["id"] not in [a["id"] for a in listed]
    shared = client.patch(mark, json={"version": 2, "shared": True}, headers=headers)
    assert shared.json()["shared"] is True
    # Once shared, the researcher may correct what the counsellor wrote.
    fixed = rclient.patch(mark, json={"version": 3, "note": "ok"})
    assert fixed.status_code == 200


def test_unknown_recording(rclient: TestClient) -> None:
    assert rclient.get("/api/v1/recordings/999/annotations").status_code == 404
    assert (
        rclient.post("/api/v1/recordings/999/annotations", json={"start_ms": 0}).status_code == 404
    )


def test_structured_field_list(rclient: TestClient) -> None:
    fields = rclient.get("/api/v1/fields").json()
    assert fields["regret"].startswith("Regret") and len(fields) == 11


def _live_with_an_answered_moment(
    rclient: TestClient, engine: Engine, study: dict
) -> dict[str, Any]:
    """A recording of interview A8 with a live session, a shared prepared moment at 0'34
    (coded, noted) and the researcher's stop at 0'36, which answers it."""
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    rec = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id).json()
    factories.consent_all(rclient, rec["id"])
    interview = rclient.post(
        f"/api/v1/studies/{study['id']}/interviews",
        json={"code": "A8", "counsellor_id": counsellor_id, "recording_ids": [rec["id"]]},
    )
    assert interview.status_code == 201, interview.text
    live = rclient.post(f"/api/v1/recordings/{rec['id']}/live")
    assert live.status_code == 201, live.text
    principle = next(iter(factories.codes_by_path(rclient, study["id"], "principles").values()))
    prepared = rclient.post(
        factories.annotations_url(rec),
        json={
            "start_ms": 34_000,
            "origin": "prepared",
            "note": "Reformule sans vérifier",
            "shared": True,
            "shown_to_counsellor": True,
            "code_ids": [principle],
        },
    ).json()
    stop = rclient.post(f"/api/v1/live/{live.json()['id']}/stops", json={"position_ms": 36_000})
    assert stop.status_code == 201 and stop.json()["prepared_id"] == prepared["id"]
    return {
        "recording": rec,
        "live": live.json(),
        "interview_id": interview.json()["id"],
        "prepared": prepared,
        "stop": stop.json(),
        "counsellor": counsellor,
        "counsellor_id": counsellor_id,
    }


def _stop_of(rclient: TestClient, live_id: int, stop_id: int) -> dict[str, Any] | None:
    stops = rclient.get(f"/api/v1/live/{live_id}/log").json()["stops"]
    return next((s for s in stops if s["id"] == stop_id), None)


def _again(deleted: dict[str, Any], key: str) -> dict[str, Any]:
    """The create an undo sends: the annotation's content and the links the delete gave."""
    fields = ("start_ms", "end_ms", "code_ids", "note", "speaker", "fields", "origin")
    body = {name: deleted["annotation"][name] for name in fields}
    extra = ("layer", "shared", "shown_to_counsellor", "verbatims")
    return {**body, **{name: deleted["annotation"][name] for name in extra}, "client_key": key}


def test_undoing_a_delete_gives_a_prepared_moment_back_with_its_stops_and_agenda(
    rclient: TestClient, engine: Engine, study: dict
) -> None:
    world = _live_with_an_answered_moment(rclient, engine, study)
    live_id, stop_id = world["live"]["id"], world["stop"]["id"]
    prepared = world["prepared"]
    report_url = f"/api/v1/interviews/{world['interview_id']}/report"
    [row] = rclient.get(report_url).json()["rows"]
    assert row["prepared"] and "Reformule" in row["prepared"]
    # Without asking, a delete answers 204 as always.
    plain = rclient.post(factories.annotations_url(world["recording"]), json={"start_ms": 1})
    assert rclient.delete(f"/api/v1/annotations/{plain.json()['id']}").status_code == 204

    gone = rclient.delete(
        f"/api/v1/annotations/{prepared['id']}?version=1",
        headers={"Prefer": "return=representation"},
    )
    assert gone.status_code == 200, gone.text
    assert gone.headers["preference-applied"] == "return=representation"
    deleted = gone.json()
    assert deleted["annotation"]["note"] == "Reformule sans vérifier"
    assert deleted["annotation"]["shown_to_counsellor"] is True
    assert deleted["links"] == {
        "stop": None,
        "answered_by": [stop_id],
        "agenda": [{"session_id": live_id, "status": "discussed"}],
    }
    # The delete took the link with it: the stop answers nothing, the report says so.
    assert _stop_of(rclient, live_id, stop_id)["prepared_id"] is None  # type: ignore[index]
    assert rclient.get(report_url).json()["rows"][0]["prepared"] is None

    back = rclient.post(
        factories.annotations_url(world["recording"]),
        json={**_again(deleted, "undo-prepared-1"), "links": deleted["links"]},
    )
    assert back.status_code == 201, back.text
    restored = back.json()
    assert restored["id"] != prepared["id"]
    for name in ("start_ms", "note", "code_ids", "layer", "shared", "shown_to_counsellor"):
        assert restored[name] == prepared[name], name
    assert _stop_of(rclient, live_id, stop_id)["prepared_id"] == restored["id"]  # type: ignore[index]
    agenda = rclient.get(f"/api/v1/live/{live_id}/log").json()["agenda"]
    assert {"prepared_id": restored["id"], "status": "discussed"}.items() <= next(
        a for a in agenda if a["prepared_id"] == restored["id"]
    ).items()
    [row] = rclient.get(report_url).json()["rows"]
    assert row["prepared"] and "Reformule" in row["prepared"]
    # Sent again (a lost answer): the same annotation, nothing doubled.
    twice = rclient.post(
        factories.annotations_url(world["recording"]),
        json={**_again(deleted, "undo-prepared-1"), "links": deleted["links"]},
    )
    assert twice.status_code == 201 and twice.json()["id"] == restored["id"]


def test_undoing_the_delete_of_a_stop_gives_the_stop_back(
    rclient: TestClient, engine: Engine, study: dict, app: Any
) -> None:
    world = _live_with_an_answered_moment(rclient, engine, study)
    live_id, stop = world["live"]["id"], world["stop"]
    gone = rclient.delete(
        f"/api/v1/annotations/{stop['id']}", headers={"Prefer": "return=representation"}
    )
    assert gone.status_code == 200, gone.text
    deleted = gone.json()
    link = deleted["links"]["stop"]
    assert link["session_id"] == live_id and link["role"] == "researcher"
    assert link["prepared_id"] == world["prepared"]["id"]
    assert _stop_of(rclient, live_id, stop["id"]) is None

    # A counsellor may not make a stop of an annotation, nor set an agenda status.
    them = factories.PageClient(app)
    factories.login(them, world["counsellor"])
    mark = {"start_ms": 5_000, "origin": "prepared", "client_key": "counsellor-mark-1"}
    refused = them.post(
        factories.annotations_url(world["recording"]),
        json={**mark, "links": {"agenda": [{"session_id": live_id, "status": "skipped"}]}},
    )
    assert refused.status_code == 403
    # Links that do not hold are refused or left out: a moment is not a stop, a session of
    # another recording is not this one's.
    url = factories.annotations_url(world["recording"])
    not_a_stop = rclient.post(url, json={"start_ms": 1_000, "links": {"stop": link}})
    assert not_a_stop.status_code == 422
    other = factories.upload(rclient, study["id"], "A8 - 2", counsellor_id=world["counsellor_id"])
    factories.consent_all(rclient, other.json()["id"])
    started = rclient.post(f"/api/v1/recordings/{other.json()['id']}/live")
    assert started.status_code == 201, started.text
    elsewhere = started.json()
    stray = rclient.post(
        url,
        json={
            "start_ms": 2_000,
            "origin": "stop",
            "links": {"stop": {**link, "session_id": elsewhere["id"]}},
        },
    )
    assert stray.status_code == 201
    assert _stop_of(rclient, elsewhere["id"], stray.json()["id"]) is None
    assert _stop_of(rclient, live_id, stray.json()["id"]) is None

    back = rclient.post(url, json={**_again(deleted, "undo-stop-1"), "links": deleted["links"]})
    assert back.status_code == 201, back.text
    again = _stop_of(rclient, live_id, back.json()["id"])
    assert again is not None
    assert again["role"] == "researcher" and again["position_ms"] == 36_000
    assert again["prepared_id"] == world["prepared"]["id"]
    assert again["stopped_at"] == stop["stopped_at"]
    [row] = rclient.get(f"/api/v1/interviews/{world['interview_id']}/report").json()["rows"]
    assert row["prepared"] and "Reformule" in row["prepared"]
