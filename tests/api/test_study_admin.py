"""A study set up from the browser: members (added, invited with a one-time password, role
changed), structures and counsellors with their accounts, interviews, and uploads that join
an interview. Forms that are refused come back with their message and what was typed."""

import html
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from autoconf.db import session_scope
from autoconf.models import AuditEvent, Counsellor, Membership, User
from tests import factories

PAGE = {"Accept": "text/html"}


def shown(answer: Any) -> str:
    """A page's text as the user reads it (entities decoded)."""
    return html.unescape(answer.text)


def one_time_password(html: str) -> str:
    found = re.search(r"data-one-time-password>([^<]+)<", html)
    assert found, "no one-time password on the page"
    return found.group(1)


def admin_url(study: dict[str, Any], path: str = "") -> str:
    return f"/studies/{study['id']}{path}"


def add_counsellor(rclient: TestClient, study: dict[str, Any], **form: str) -> Any:
    return rclient.post(admin_url(study, "/counsellors"), data=form, headers=PAGE)


def test_a_researcher_invites_a_colleague_who_signs_in_once_then_chooses_a_password(
    rclient: TestClient, study: dict[str, Any], engine: Engine, app: Any
) -> None:
    answer = rclient.post(
        admin_url(study, "/members"),
        data={
            "account": "new",
            "username": "m.durand",
            "display_name": "Marie Durand",
            "role": "researcher",
            "gender": "feminine",
        },
        headers=PAGE,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    password = one_time_password(answer.text)
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", password)
    assert "Compte créé pour Marie Durand" in shown(answer)
    # The member list says "chercheuse": the labels follow the person.
    assert "chercheuse" in shown(answer)
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "m.durand")).one()
        assert user.must_change_password and user.gender == "feminine"
        assert password not in user.password_hash
        actions = session.exec(select(AuditEvent.action)).all()
        assert "account_created" in actions and "member_added" in actions
    # The page shows the password once: the next visit does not.
    assert password not in rclient.get(admin_url(study, "/admin"), headers=PAGE).text

    with factories.PageClient(app) as colleague:
        signed_in = colleague.post(
            "/login",
            data={"username": "m.durand", "password": password, "next": "/studies"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/account?first=1"
        account = colleague.get("/account?first=1", headers=PAGE).text
        assert "choisissez maintenant le vôtre" in account
        assert "Étude CEP" in colleague.get("/studies", headers=PAGE).text
        changed = colleague.post(
            "/account/password",
            data={
                "current_password": password,
                "new_password": "my own long password",
                "confirmation": "my own long password",
            },
            headers=PAGE,
        )
        assert changed.status_code == 200, changed.text
        assert "mot de passe à usage unique" not in colleague.get("/studies", headers=PAGE).text
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "m.durand")).one()
        assert not user.must_change_password


def test_adding_a_member_twice_is_refused_and_keeps_what_was_typed(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    factories.account(engine, "robin", "researcher")
    form = {"account": "existing", "username": "robin", "role": "researcher"}
    first = rclient.post(admin_url(study, "/members"), data=form, headers=PAGE)
    assert first.status_code == 200 and "Membre ajouté" in shown(first)
    again = rclient.post(admin_url(study, "/members"), data=form, headers=PAGE)
    assert again.status_code == 409
    assert "est déjà membre de l'étude" in shown(again)
    assert 'value="robin"' in shown(again)  # what was typed is still in the field
    unknown = rclient.post(
        admin_url(study, "/members"),
        data={**form, "username": "nobody"},
        headers=PAGE,
    )
    assert unknown.status_code == 422
    assert "Aucun utilisateur « nobody »" in shown(unknown) and 'value="nobody"' in shown(unknown)
    empty = rclient.post(admin_url(study, "/members"), data={**form, "username": " "}, headers=PAGE)
    assert empty.status_code == 422 and "Indiquez l'identifiant" in shown(empty)


def test_a_role_changes_but_the_study_keeps_a_researcher(
    rclient: TestClient, study: dict[str, Any], engine: Engine, researcher: factories.Account
) -> None:
    robin = factories.account(engine, "robin", "researcher")
    rclient.post(
        admin_url(study, "/members"),
        data={"account": "existing", "username": "robin", "role": "researcher"},
        headers=PAGE,
    )
    changed = rclient.post(
        admin_url(study, f"/members/{robin.id}/role"), data={"role": "counsellor"}, headers=PAGE
    )
    assert changed.status_code == 200 and "Rôle changé" in shown(changed)
    with session_scope(engine) as session:
        role = session.exec(select(Membership.role).where(Membership.user_id == robin.id)).one()
        assert role == "counsellor"
    # The last researcher cannot be made a counsellor (here, by an admin: a researcher
    # does not see a role menu for themselves).
    admin = factories.account(engine, "root", "admin")
    factories.login(rclient, admin)
    last = rclient.post(
        admin_url(study, f"/members/{researcher.id}/role"),
        data={"role": "counsellor"},
        headers=PAGE,
    )
    assert last.status_code == 409
    assert "L'étude doit garder au moins un chercheur" in shown(last)
    nonsense = rclient.post(
        admin_url(study, f"/members/{robin.id}/role"), data={"role": "boss"}, headers=PAGE
    )
    assert nonsense.status_code == 422 and "Choix inconnu" in shown(nonsense)


def test_a_counsellor_and_their_account_are_made_in_one_step(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    structure = rclient.post(
        admin_url(study, "/structures"),
        data={"code": "APEC", "name": "Apec Lyon", "city": "Lyon"},
        headers=PAGE,
    )
    assert structure.status_code == 200 and "Apec Lyon" in shown(structure)
    page = rclient.get(admin_url(study, "/admin"), headers=PAGE).text
    found = re.search(r'<option value="(\d+)"[^>]*>Apec Lyon<', page)
    assert found
    structure_id = found.group(1)
    answer = add_counsellor(
        rclient,
        study,
        code="A8",
        structure_id=structure_id,
        account="new",
        username="a8",
        display_name="Conseillère A8",
        gender="feminine",
    )
    assert answer.status_code == 200, answer.text
    password = one_time_password(answer.text)
    with session_scope(engine) as session:
        counsellor = session.exec(select(Counsellor).where(Counsellor.code == "A8")).one()
        user = session.get(User, counsellor.user_id)
        assert user is not None and user.role == "counsellor" and user.gender == "feminine"
        assert counsellor.structure_id == int(structure_id)
        membership = session.exec(select(Membership).where(Membership.user_id == user.id)).one()
        assert membership.role == "counsellor" and membership.study_id == study["id"]
    assert password
    # The same code again: refused, nothing created, what was typed kept.
    again = add_counsellor(
        rclient, study, code="A8", account="new", username="a8bis", display_name="Autre"
    )
    assert again.status_code == 409 and "déjà pris" in shown(again)
    assert 'value="a8bis"' in shown(again) and 'value="Autre"' in shown(again)
    with session_scope(engine) as session:
        assert session.exec(select(User).where(User.username == "a8bis")).first() is None


def test_the_code_rule_is_shown_and_enforced(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    settings = rclient.post(
        admin_url(study, "/settings"),
        data={"consent_required": "true", "code_pattern": r"A\d+", "code_example": "A8"},
        headers=PAGE,
    )
    assert settings.status_code == 200
    page = rclient.get(admin_url(study, "/admin"), headers=PAGE).text
    assert "motif « A\\d+ »" in page and "par exemple « A8 »" in page
    refused = add_counsellor(rclient, study, code="Marie", account="none")
    assert refused.status_code == 422
    assert "A8" in shown(refused) and 'value="Marie"' in shown(refused)
    with session_scope(engine) as session:
        assert session.exec(select(Counsellor)).first() is None


def test_an_account_linked_as_counsellor_must_be_a_counsellor_account(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    factories.account(engine, "robin", "researcher")
    refused = add_counsellor(rclient, study, code="A9", account="existing", username="robin")
    assert refused.status_code == 422 and "n'est pas un compte de conseiller" in shown(refused)
    factories.account(engine, "a9", "counsellor")
    linked = add_counsellor(rclient, study, code="A9", account="existing", username="a9")
    assert linked.status_code == 200 and "Conseiller ajouté" in shown(linked)
    twice = add_counsellor(rclient, study, code="A10", account="existing", username="a9")
    assert twice.status_code == 409 and "est déjà celui du conseiller A9" in shown(twice)


def counsellor_id(engine: Engine, code: str) -> int:
    with session_scope(engine) as session:
        found = session.exec(select(Counsellor.id).where(Counsellor.code == code)).one()
        assert found is not None
        return found


def test_interviews_are_created_for_a_counsellor_and_take_sessions_later(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    add_counsellor(rclient, study, code="A8", account="none")
    add_counsellor(rclient, study, code="A9", account="none")
    a8, a9 = counsellor_id(engine, "A8"), counsellor_id(engine, "A9")
    first = factories.upload(rclient, study["id"], "A8 - 1", counsellor_id=a8).json()
    second = factories.upload(rclient, study["id"], "A8 - 2", counsellor_id=a8).json()
    other = factories.upload(rclient, study["id"], "A9 - 1", counsellor_id=a9).json()

    no_counsellor = rclient.post(
        admin_url(study, "/interviews"), data={"code": "E-A8"}, headers=PAGE
    )
    assert no_counsellor.status_code == 422
    assert "Choisissez le conseiller de l" in shown(no_counsellor)
    assert 'value="E-A8"' in shown(no_counsellor)
    mixed = rclient.post(
        admin_url(study, "/interviews"),
        data={"code": "E-A8", "counsellor_id": a8, "recording_ids": [first["id"], other["id"]]},
        headers=PAGE,
    )
    assert mixed.status_code == 422 and "A9 - 1" in shown(mixed)
    created = rclient.post(
        admin_url(study, "/interviews"),
        data={"code": "E-A8", "counsellor_id": a8, "recording_ids": [first["id"]]},
        headers=PAGE,
    )
    assert created.status_code == 200 and "Entretien créé" in shown(created)
    interview = rclient.get(f"/api/v1/studies/{study['id']}/interviews").json()[0]
    assert interview["recording_ids"] == [first["id"]]

    attach = f"/interviews/{interview['id']}/recordings"
    added = rclient.post(
        admin_url(study, attach), data={"recording_id": second["id"]}, headers=PAGE
    )
    assert added.status_code == 200 and "Séance ajoutée" in shown(added)
    refused = rclient.post(
        admin_url(study, attach), data={"recording_id": other["id"]}, headers=PAGE
    )
    assert refused.status_code == 422
    assert "n'est pas un enregistrement du conseiller" in shown(refused)
    again = rclient.post(
        admin_url(study, attach), data={"recording_id": second["id"]}, headers=PAGE
    )
    assert again.status_code == 409
    got = rclient.get(f"/api/v1/interviews/{interview['id']}").json()
    assert got["recording_ids"] == [first["id"], second["id"]]


def test_an_upload_joins_or_creates_its_interview(
    rclient: TestClient, study: dict[str, Any], engine: Engine, settings: Any
) -> None:
    add_counsellor(rclient, study, code="A8", account="none")
    add_counsellor(rclient, study, code="A9", account="none")
    a8, a9 = counsellor_id(engine, "A8"), counsellor_id(engine, "A9")
    created = factories.upload(
        rclient, study["id"], "A8 - 1", counsellor_id=a8, interview_code="E-A8"
    )
    assert created.status_code == 201, created.text
    interviews = rclient.get(f"/api/v1/studies/{study['id']}/interviews").json()
    assert [(i["code"], i["recording_ids"]) for i in interviews] == [
        ("E-A8", [created.json()["id"]])
    ]
    interview_id = interviews[0]["id"]
    # The page form: an existing interview joined.
    joined = rclient.post(
        f"/studies/{study['id']}/recordings",
        data={"code": "A8 - 2", "counsellor_id": str(a8), "interview": str(interview_id)},
        files={"file": ("seance.mp4", factories.DEMO_MEDIA.read_bytes(), "video/mp4")},
        headers=PAGE,
    )
    assert joined.status_code == 200, joined.text
    got = rclient.get(f"/api/v1/interviews/{interview_id}").json()
    assert len(got["recording_ids"]) == 2

    originals = settings.media_dir / "recordings"
    before = sorted(originals.iterdir())
    # Refused before any byte is kept: another counsellor's interview, a new interview
    # without a counsellor, a taken interview code.
    for form, message in (
        ({"counsellor_id": a9, "interview_id": interview_id}, "est celui d'un autre conseiller"),
        ({"interview_code": "E-X"}, "choisissez-le d'abord"),
        ({"counsellor_id": a8, "interview_code": "E-A8"}, "déjà pris"),
    ):
        refused = factories.upload(rclient, study["id"], "A8 - 3", **form)
        assert refused.status_code in (409, 422), refused.text
        assert message in refused.json()["detail"].replace("&#39;", "'")
    assert sorted(originals.iterdir()) == before
    codes = [r["code"] for r in rclient.get(f"/api/v1/studies/{study['id']}/recordings").json()]
    assert "A8 - 3" not in codes


def test_a_counsellor_cannot_open_the_administration(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    counsellor, _ = factories.counsellor_member(engine, rclient, study["id"], "a8", "A8")
    factories.login(rclient, counsellor)
    answer = rclient.get(admin_url(study, "/admin"), headers=PAGE)
    assert answer.status_code == 403
    assert "Ajouter un membre" not in shown(answer)


def test_a_counsellor_without_an_account_is_given_one_later(
    rclient: TestClient, study: dict[str, Any], engine: Engine
) -> None:
    add_counsellor(rclient, study, code="A8", account="none")
    a8 = counsellor_id(engine, "A8")
    url = admin_url(study, f"/counsellors/{a8}/account")
    empty = rclient.post(url, data={"account": "new", "username": ""}, headers=PAGE)
    assert empty.status_code == 422 and "Indiquez l'identifiant" in shown(empty)
    given = rclient.post(
        url,
        data={"account": "new", "username": "a8", "display_name": "Conseiller A8"},
        headers=PAGE,
    )
    assert given.status_code == 200, given.text
    assert one_time_password(given.text)
    with session_scope(engine) as session:
        counsellor = session.get(Counsellor, a8)
        assert counsellor is not None and counsellor.user_id is not None
    again = rclient.post(url, data={"account": "existing", "username": "a8"}, headers=PAGE)
    assert again.status_code == 409 and "a déjà un compte" in shown(again)
