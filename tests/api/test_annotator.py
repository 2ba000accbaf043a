"""What the annotator needs from the API: layers, private prepared marks, verbatims, the
user's reaction offset, keys reserved for the annotator, the printable preparation notes."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.media import jobs
from autoconf.settings import Settings
from tests import factories

HTML = {"accept": "text/html"}


def _colleague(engine: Engine, rclient: TestClient, study: dict) -> factories.Account:
    """Another researcher of the study."""
    colleague = factories.account(engine, "collegue", "researcher")
    added = rclient.post(
        f"/api/v1/studies/{study['id']}/members",
        json={"username": "collegue", "role": "researcher"},
    )
    assert added.status_code == 201, added.text
    return colleague


def test_layer_follows_origin_and_codes_unless_given(
    rclient: TestClient, study: dict, recording: dict
) -> None:
    phases = factories.codes_by_path(rclient, study["id"], "phases")
    schemes = factories.codes_by_path(rclient, study["id"], "schemes")
    cases = [
        ({"start_ms": 0, "origin": "prepared"}, "prepared", False),
        ({"start_ms": 0, "origin": "stop"}, "stops", True),
        ({"start_ms": 0, "end_ms": 9000, "code_ids": [phases["Diagnostic"]]}, "phases", True),
        (
            {
                "start_ms": 0,
                "end_ms": 9000,
                "code_ids": [phases["Diagnostic"], schemes["Se présenter"]],
            },
            "schemes",
            True,
        ),
        ({"start_ms": 0, "end_ms": 500}, "schemes", True),
        ({"start_ms": 0, "end_ms": 500, "layer": "categories"}, "categories", True),
        ({"start_ms": 0, "origin": "prepared", "shared": True}, "prepared", True),
    ]
    for body, layer, shared in cases:
        created = rclient.post(factories.annotations_url(recording), json=body)
        assert created.status_code == 201, created.text
        assert (created.json()["layer"], created.json()["shared"]) == (layer, shared), body
    bad = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 0, "layer": "nowhere"}
    )
    assert bad.status_code == 422


def test_verbatims_are_kept_and_checked(rclient: TestClient, recording: dict) -> None:
    quote = {"text": "Je suis fatiguée de ce métier", "speaker": "Bénéficiaire", "ms": 12_000}
    created = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 10_000, "end_ms": 20_000, "verbatims": [quote]},
    )
    assert created.status_code == 201, created.text
    assert created.json()["verbatims"] == [quote]
    second = {"text": "On y va", "speaker": "", "ms": None}
    changed = rclient.patch(
        f"/api/v1/annotations/{created.json()['id']}",
        json={"version": 1, "verbatims": [quote, second]},
    )
    assert changed.status_code == 200
    stored = rclient.get(f"/api/v1/annotations/{created.json()['id']}").json()
    assert stored["verbatims"] == [quote, second]
    for bad in ({"text": ""}, {"text": "x", "who": "y"}, {"speaker": "x"}):
        refused = rclient.post(
            factories.annotations_url(recording), json={"start_ms": 0, "verbatims": [bad]}
        )
        assert refused.status_code == 422, bad


def test_private_marks_are_their_authors_until_shared(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict, recording: dict
) -> None:
    colleague = _colleague(engine, rclient, study)
    headers = factories.token(engine, colleague)
    private = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 602_000 % 60_000, "origin": "prepared", "note": "à moi"},
    ).json()
    shared = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 3000, "origin": "prepared", "note": "pour tous", "shared": True},
    ).json()
    theirs = client.get(factories.annotations_url(recording), headers=headers).json()
    assert [a["id"] for a in theirs] == [shared["id"]]
    assert client.get(f"/api/v1/annotations/{private['id']}", headers=headers).status_code == 404
    gone = client.delete(f"/api/v1/annotations/{private['id']}", headers=headers)
    assert gone.status_code == 404
    study_page = client.get(f"/studies/{study['id']}", headers=headers | HTML)
    assert study_page.status_code == 200
    rclient.patch(f"/api/v1/annotations/{private['id']}", json={"version": 1, "shared": True})
    assert len(client.get(factories.annotations_url(recording), headers=headers).json()) == 2


def test_preferences_of_the_signed_in_user(rclient: TestClient) -> None:
    me = rclient.get("/api/v1/me").json()
    assert me["reaction_offset_ms"] == 0 and me["language"] is None
    changed = rclient.patch("/api/v1/me", json={"reaction_offset_ms": 2500, "language": "en"})
    assert changed.status_code == 200, changed.text
    assert rclient.get("/api/v1/me").json()["reaction_offset_ms"] == 2500
    assert rclient.get("/api/v1/me").json()["language"] == "en"
    back = rclient.patch("/api/v1/me", json={"language": None})
    assert back.json()["language"] is None and back.json()["reaction_offset_ms"] == 2500
    for bad in ({"reaction_offset_ms": -1}, {"reaction_offset_ms": 60_000}, {"language": "de"}):
        assert rclient.patch("/api/v1/me", json=bad).status_code == 422, bad
    assert rclient.patch("/api/v1/me", json={"reaction_offset_ms": None}).status_code == 422


@pytest.mark.parametrize("key", ["m", "M", "k", "?", "z", "<"])
def test_keys_of_the_annotator_cannot_be_code_hotkeys(
    rclient: TestClient, study: dict, key: str
) -> None:
    books = rclient.get(f"/api/v1/studies/{study['id']}/codebooks").json()
    schemes = next(b for b in books if b["kind"] == "schemes")
    refused = rclient.post(
        f"/api/v1/codebooks/{schemes['id']}/codes", json={"label": "Nouveau", "hotkey": key}
    )
    assert refused.status_code == 422
    assert "annotateur" in refused.json()["detail"]
    accepted = rclient.post(
        f"/api/v1/codebooks/{schemes['id']}/codes", json={"label": "Nouveau", "hotkey": "q"}
    )
    assert accepted.status_code == 201


def test_preparation_notes_read_like_the_researchers_notes(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict, recording: dict
) -> None:
    principles = factories.codes_by_path(rclient, study["id"], "principles")
    autonomy = next(cid for path, cid in principles.items() if path.startswith("Autonomie"))
    rclient.post(
        factories.annotations_url(recording),
        json={
            "start_ms": 62_000,
            "origin": "prepared",
            "note": "il reformule sans vérifier",
            "code_ids": [autonomy],
        },
    )
    rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 5_000, "end_ms": 9_000, "note": "codage"},
    )
    page = rclient.get(f"/recordings/{recording['id']}/preparation", headers=HTML)
    assert page.status_code == 200
    assert "1’02</a>\n        — il reformule sans vérifier" in page.text
    assert "Autonomie" in page.text and "privé" in page.text
    assert "codage" not in page.text  # only prepared moments
    colleague = _colleague(engine, rclient, study)
    factories.login(client, colleague)
    theirs = client.get(f"/recordings/{recording['id']}/preparation", headers=HTML)
    assert theirs.status_code == 200 and "il reformule" not in theirs.text
    assert "Aucun moment préparé" in theirs.text


def test_only_the_author_shares_and_only_prepared_marks_are_private(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict, recording: dict
) -> None:
    colleague = _colleague(engine, rclient, study)
    headers = factories.token(engine, colleague)
    mark = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 1000, "origin": "prepared", "shared": True},
    ).json()
    hidden = client.patch(
        f"/api/v1/annotations/{mark['id']}", json={"version": 1, "shared": False}, headers=headers
    )
    assert hidden.status_code == 403 and "auteur" in hidden.json()["detail"]
    # A colleague may still correct its note; it stays shared.
    noted = client.patch(
        f"/api/v1/annotations/{mark['id']}", json={"version": 1, "note": "vu"}, headers=headers
    )
    assert noted.status_code == 200 and noted.json()["shared"] is True
    refused = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 0, "end_ms": 900, "shared": False}
    )
    assert refused.status_code == 422 and "privé" in refused.json()["detail"]
    # A private mark moved to the schemes layer is shared with the team from then on.
    private = rclient.post(
        factories.annotations_url(recording), json={"start_ms": 2000, "origin": "prepared"}
    ).json()
    moved = rclient.patch(
        f"/api/v1/annotations/{private['id']}", json={"version": 1, "layer": "schemes"}
    )
    assert moved.status_code == 200 and moved.json()["shared"] is True
    assert private["id"] in [
        a["id"] for a in client.get(factories.annotations_url(recording), headers=headers).json()
    ]


def test_the_transcript_is_imported_not_annotated(rclient: TestClient, recording: dict) -> None:
    factories.consent_all(rclient, recording["id"])  # its cues are what the recording says
    for body in ({"start_ms": 0, "origin": "transcript"}, {"start_ms": 0, "layer": "transcript"}):
        assert rclient.post(factories.annotations_url(recording), json=body).status_code == 422, (
            body
        )
    imported = rclient.post(
        f"/api/v1/recordings/{recording['id']}/transcript",
        files={"file": ("t.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert imported.status_code == 200, imported.text
    cue = next(
        a
        for a in rclient.get(factories.annotations_url(recording)).json()
        if a["origin"] == "transcript"
    )
    edit = rclient.patch(f"/api/v1/annotations/{cue['id']}", json={"version": 1, "note": "x"})
    assert edit.status_code == 422 and "importez" in edit.json()["detail"]
    assert rclient.delete(f"/api/v1/annotations/{cue['id']}").status_code == 422


def test_a_create_sent_twice_is_stored_once_and_ids_are_never_reused(
    rclient: TestClient, recording: dict
) -> None:
    body = {"start_ms": 4000, "origin": "prepared", "client_key": "k1abc-def_9"}
    first = rclient.post(factories.annotations_url(recording), json=body)
    again = rclient.post(factories.annotations_url(recording), json=body)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert len(rclient.get(factories.annotations_url(recording)).json()) == 1
    assert (
        rclient.post(
            factories.annotations_url(recording), json={**body, "client_key": "no"}
        ).status_code
        == 422
    )
    # Deleting the newest annotation never frees its id for the next one.
    newest = rclient.post(factories.annotations_url(recording), json={"start_ms": 5000}).json()
    assert rclient.delete(f"/api/v1/annotations/{newest['id']}").status_code == 204
    after = rclient.post(factories.annotations_url(recording), json={"start_ms": 5000}).json()
    assert after["id"] > newest["id"]


def test_hotkeys_differ_whatever_the_case(rclient: TestClient, study: dict) -> None:
    books = rclient.get(f"/api/v1/studies/{study['id']}/codebooks").json()
    schemes = next(b for b in books if b["kind"] == "schemes")
    url = f"/api/v1/codebooks/{schemes['id']}/codes"
    assert rclient.post(url, json={"label": "Un", "hotkey": "a"}).status_code == 201
    clash = rclient.post(url, json={"label": "Deux", "hotkey": "A"})
    assert clash.status_code == 409 and "Un" in clash.json()["detail"]


def test_the_annotator_page_as_a_counsellor_sees_it(
    engine: Engine, client: TestClient, rclient: TestClient, study: dict, settings: Settings
) -> None:
    counsellor, counsellor_id = factories.counsellor_member(
        engine, rclient, study["id"], "a8", "A8"
    )
    uploaded = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=counsellor_id)
    assert uploaded.status_code == 201, uploaded.text
    jobs.run_until_idle(engine, settings)
    factories.consent_all(rclient, uploaded.json()["id"])  # the player needs them
    recording = rclient.get(f"/api/v1/recordings/{uploaded.json()['id']}").json()
    assert recording["status"] == "ready"
    secret = rclient.post(
        factories.annotations_url(recording),
        json={"start_ms": 1000, "origin": "prepared", "note": "secret-du-chercheur"},
    )
    assert secret.status_code == 201
    mine = rclient.get(f"/recordings/{recording['id']}", headers=HTML)
    assert 'data-can-manage="1"' in mine.text and "secret-du-chercheur" in mine.text
    assert "data-transcript-import" in mine.text
    factories.login(client, counsellor)
    page = client.get(f"/recordings/{recording['id']}", headers=HTML)
    assert page.status_code == 200
    assert "data-annotator" in page.text and 'data-can-manage="0"' in page.text
    assert "secret-du-chercheur" not in page.text
    assert "data-transcript-import" not in page.text
