"""The draft of an automatic transcription, corrected through the API: a cue's text,
speaker and times (a stale version refused), a cue split at a word and two cues merged, the
speakers swapped in one action, the draft validated into the transcript or thrown away; the
recording's counsellor never sees it. The draft is written as the job writes it
(`drafts.replace_draft`); tests/integration/test_transcription.py runs the model."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.auth import accounts
from autoconf.db import session_scope
from autoconf.transcribe.drafts import replace_draft
from autoconf.transcribe.recognise import Word
from autoconf.transcribe.turns import Turn
from tests import factories

TURNS = [
    Turn(
        1_000,
        4_200,
        "Conseillère",
        "Bonjour monsieur. Qu'est-ce qui vous amène ?",
        (
            Word(1_000, 1_500, " Bonjour", 0.9),
            Word(1_600, 2_200, " monsieur.", 0.9),
            Word(2_600, 3_000, " Qu'est-ce", 0.9),
            Word(3_000, 3_300, " qui", 0.9),
            Word(3_300, 3_700, " vous", 0.9),
            Word(3_700, 4_200, " amène ?", 0.9),
        ),
    ),
    Turn(5_000, 7_000, "Bénéficiaire", "Je suis fatigué.", ()),
    Turn(7_500, 9_000, "Bénéficiaire", "Vraiment.", ()),
]


def draft(client: TestClient, rid: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/recordings/{rid}/draft")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def with_draft(engine: Engine, recording: dict) -> int:
    factories.set_duration(engine, recording["id"], 60_000)
    with session_scope(engine) as session:
        replace_draft(session, recording["id"], TURNS)
    return int(recording["id"])


def test_a_cue_is_corrected_and_a_stale_version_refused(
    rclient: TestClient, engine: Engine, recording: dict
) -> None:
    rid = with_draft(engine, recording)
    first = draft(rclient, rid)["cues"][0]
    url = f"/api/v1/recordings/{rid}/draft"
    changes = {"cue_id": first["id"], "version": 1, "text": "  Bonjour   monsieur Durand. "}
    fixed = rclient.patch(url, json={**changes, "speaker": "Claire", "end_ms": 4_500})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["text"] == "Bonjour monsieur Durand."
    assert (fixed.json()["speaker"], fixed.json()["end_ms"], fixed.json()["version"]) == (
        "Claire",
        4_500,
        2,
    )
    stale = rclient.patch(url, json={**changes, "text": "autre"})
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    backwards = rclient.patch(url, json={"cue_id": first["id"], "version": 2, "start_ms": 5_000})
    assert backwards.status_code == 422 and "finit après son début" in backwards.json()["detail"]
    empty = rclient.patch(url, json={"cue_id": first["id"], "version": 2, "text": "   "})
    assert empty.status_code == 422 and "ne peut pas être vide" in empty.json()["detail"]
    beyond = rclient.patch(url, json={"cue_id": first["id"], "version": 2, "end_ms": 90_000})
    assert beyond.status_code == 422
    elsewhere = rclient.patch(url, json={"cue_id": 999_999, "version": 1, "text": "x"})
    assert elsewhere.status_code == 404


def test_a_cue_is_split_at_a_word_and_two_cues_merged(
    rclient: TestClient, engine: Engine, recording: dict
) -> None:
    rid = with_draft(engine, recording)
    first = draft(rclient, rid)["cues"][0]
    at = first["text"].index("Qu'est-ce")
    split = rclient.post(
        f"/api/v1/recordings/{rid}/draft/split",
        json={"cue_id": first["id"], "version": 1, "at": at},
    )
    assert split.status_code == 201, split.text
    cues = split.json()["cues"]
    assert [c["text"] for c in cues[:2]] == ["Bonjour monsieur.", "Qu'est-ce qui vous amène ?"]
    # The second part starts at the model's time of its first word; the first ends there.
    assert (cues[0]["start_ms"], cues[0]["end_ms"]) == (1_000, 2_600)
    assert (cues[1]["start_ms"], cues[1]["end_ms"]) == (2_600, 4_200)
    assert cues[1]["speaker"] == "Conseillère" and len(cues[1]["words"]) == 4
    # A cue without the model's words is cut in proportion to its characters.
    third = cues[2]
    cut = rclient.post(
        f"/api/v1/recordings/{rid}/draft/split",
        json={"cue_id": third["id"], "version": 1, "at": 8},
    ).json()["cues"]
    assert [c["text"] for c in cut[2:4]] == ["Je suis", "fatigué."]
    assert cut[3]["start_ms"] == 5_000 + round(2_000 * len("Je suis") / len("Je suis fatigué."))
    nowhere = rclient.post(
        f"/api/v1/recordings/{rid}/draft/split",
        json={"cue_id": cut[4]["id"], "version": 1, "at": 30},
    )
    assert nowhere.status_code == 422 and "curseur" in nowhere.json()["detail"]

    merged = rclient.post(
        f"/api/v1/recordings/{rid}/draft/merge", json={"cue_id": cut[3]["id"], "version": 1}
    )
    assert merged.status_code == 200, merged.text
    cues = merged.json()["cues"]
    assert cues[3]["text"] == "fatigué. Vraiment." and cues[3]["end_ms"] == 9_000
    assert len(cues) == 4
    last = rclient.post(
        f"/api/v1/recordings/{rid}/draft/merge", json={"cue_id": cues[3]["id"], "version": 2}
    )
    assert last.status_code == 422 and "dernière réplique" in last.json()["detail"]


def test_the_speakers_are_swapped_in_one_action_then_the_draft_validated(
    rclient: TestClient, engine: Engine, recording: dict
) -> None:
    rid = with_draft(engine, recording)
    factories.consent_all(rclient, rid)
    swap = {"names": {"Conseillère": "Bénéficiaire", "Bénéficiaire": "Conseillère"}}
    swapped = rclient.post(f"/api/v1/recordings/{rid}/draft/speakers", json=swap)
    assert swapped.status_code == 200, swapped.text
    assert [c["speaker"] for c in swapped.json()["cues"]] == [
        "Bénéficiaire",
        "Conseillère",
        "Conseillère",
    ]
    assert swapped.json()["speakers"] == ["Bénéficiaire", "Conseillère"]
    renamed = rclient.post(
        f"/api/v1/recordings/{rid}/draft/speakers", json={"names": {"Conseillère": "M. Durand"}}
    )
    assert [c["speaker"] for c in renamed.json()["cues"]][1:] == ["M. Durand", "M. Durand"]

    validated = rclient.post(f"/api/v1/recordings/{rid}/draft/validate")
    assert validated.status_code == 200 and validated.json() == {"cues": 3}
    assert draft(rclient, rid)["cues"] == []
    vtt = rclient.get(f"/api/v1/recordings/{rid}/transcript.vtt").text
    assert "<v Bénéficiaire>Bonjour monsieur. Qu'est-ce qui vous amène ?" in vtt
    assert "00:00:05.000 --> 00:00:07.000\n<v M. Durand>Je suis fatigué." in vtt
    annotations = rclient.get(f"/api/v1/recordings/{rid}/annotations").json()
    cues = [a for a in annotations if a["origin"] == "transcript"]
    assert [(a["start_ms"], a["speaker"]) for a in cues] == [
        (1_000, "Bénéficiaire"),
        (5_000, "M. Durand"),
        (7_500, "M. Durand"),
    ]
    again = rclient.post(f"/api/v1/recordings/{rid}/draft/validate")
    assert again.status_code == 422 and "aucune réplique" in again.json()["detail"]


def test_a_draft_is_thrown_away_and_never_shown_to_the_counsellor(
    rclient: TestClient, engine: Engine, study: dict
) -> None:
    who, counsellor_id = factories.counsellor_member(engine, rclient, study["id"], "a8", "C8")
    uploaded = factories.upload(rclient, study["id"], "A8", counsellor_id=counsellor_id).json()
    rid = with_draft(engine, uploaded)
    with factories.PageClient(rclient.app) as theirs:
        factories.login(theirs, who)
        for url in ("draft", "transcription"):
            assert theirs.get(f"/api/v1/recordings/{rid}/{url}").status_code == 403
        swap = {"names": {"Conseillère": "X"}}
        refused = theirs.post(f"/api/v1/recordings/{rid}/draft/speakers", json=swap)
        assert refused.status_code == 403
    assert rclient.delete(f"/api/v1/recordings/{rid}/draft").status_code == 204
    assert draft(rclient, rid)["cues"] == []


def test_a_researcher_who_chose_english_reads_the_refusals_and_steps_in_english(
    rclient: TestClient, engine: Engine, researcher: factories.Account, recording: dict
) -> None:
    rid = with_draft(engine, recording)
    with session_scope(engine) as session:
        accounts.get_user(session, researcher.username).language = "en"
    first = draft(rclient, rid)["cues"][0]
    url = f"/api/v1/recordings/{rid}/draft"
    rclient.patch(url, json={"cue_id": first["id"], "version": 1, "text": "Bonjour."})
    stale = rclient.patch(url, json={"cue_id": first["id"], "version": 1, "text": "autre"})
    assert stale.status_code == 409
    assert stale.json()["detail"] == (
        "This cue was changed in the meantime (in another window?): reload the draft."
    )
    backwards = rclient.patch(url, json={"cue_id": first["id"], "version": 2, "start_ms": 5_000})
    assert "ends after it starts (0’05 – 0’04)" in backwards.json()["detail"]
    # Not processed yet: the transcription cannot start, said in English too.
    refused = rclient.post(f"/api/v1/recordings/{rid}/transcription")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "The recording must be processed first (playback versions) before it can be transcribed."
    )
    # And the page's card.
    page = rclient.get(f"/recordings/{rid}")
    assert "3 cues to correct" in page.text and "répliques à corriger" not in page.text
