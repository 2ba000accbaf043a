"""A study's administration, from the browser (`/studies/{id}/admin`): its members (added,
invited with a one-time password, role changed, taken out), its structures and counsellors
(with the counsellor's account in the same step), its interviews (created for a counsellor,
a session added later); and the confidentiality settings of the study page.

Each form posts to the study's collection (`/studies/{id}/members`, `/counsellors`,
`/interviews`…). A refused form comes back on the page with its message beside it and what
was typed kept; a one-time password is shown on the answer to the form that made it, once,
never stored in clear.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from autoconf.api.deps import (
    CurrentUser,
    ManagedStudyDep,
    PathId,
    SessionDep,
    actor,
    write,
)
from autoconf.api.rendering import render
from autoconf.api.routing import IndexedRouter
from autoconf.api.studies import remove_member_from, update_study_settings
from autoconf.audit import log as audit_log
from autoconf.errors import Conflict, Invalid, NotFound
from autoconf.i18n import N_, gettext, set_language
from autoconf.models import GENDERS, Interview, Study, User
from autoconf.studies import access, recordings, service

router = IndexedRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=200)]
Code = Annotated[str, Form(max_length=64)]
STUDY_ROLES = (access.RESEARCHER, access.COUNSELLOR)


def _say(request: Request, user: User, message: str) -> str:
    """A message of this page, in the user's language."""
    set_language(user.language or request.app.state.settings.default_language)
    return gettext(message)


def _admin_page(
    request: Request,
    session: Session,
    user: User,
    study: Study,
    status_code: int = 200,
    **context: Any,
) -> Response:
    study_id = study.id or 0
    recording_list = recordings.list_recordings(session, user, study_id)
    counsellors = service.list_counsellors(session, user, study_id)
    accounts = {
        c.user_id: session.get(User, c.user_id) for c in counsellors if c.user_id is not None
    }
    structures = service.list_structures(session, study_id)
    interviews = service.list_interviews(session, user, study_id)
    response = render(
        request,
        "study_admin.html",
        status_code,
        study=study,
        members=service.list_members(session, user, study_id),
        structures=structures,
        structure_names={s.id: s.name or s.code for s in structures},
        counsellors=counsellors,
        counsellor_codes={c.id: c.code for c in counsellors},
        counsellor_accounts=accounts,
        interviews=interviews,
        sessions=[r for r in recording_list if r.category == "session"],
        recording_codes={r.id: r.code for r in recording_list},
        errors=context.pop("errors", {}),
        typed=context.pop("typed", {}),
        done=request.query_params.get("done", ""),
        **context,
    )
    if "password" in context:  # shown once: not kept by the browser nor a proxy
        response.headers["Cache-Control"] = "no-store"
    return response


async def _submit(
    request: Request,
    session: Session,
    user: User,
    study: Study,
    form: str,
    typed: dict[str, Any],
    act: Callable[[], Awaitable[Response]],
) -> Response:
    """Run the form's action; a refusal comes back as the page, the message beside the
    form and what was typed kept."""
    try:
        return await act()
    except (Invalid, Conflict, NotFound) as error:
        status_code = 409 if isinstance(error, Conflict) else 422
        return _admin_page(
            request,
            session,
            user,
            study,
            status_code,
            errors={form: str(error)},
            typed={form: typed},
        )


def _back(study: Study, done: str, anchor: str) -> Response:
    return RedirectResponse(f"/studies/{study.id}/admin?done={done}#{anchor}", status_code=303)


def _required(request: Request, user: User, **fields: str) -> None:
    missing = [name for name, value in fields.items() if not value.strip()]
    if missing:
        names = {
            "username": N_("l'identifiant"),
            "code": N_("le code"),
            "display_name": N_("le nom"),
        }
        what = ", ".join(_say(request, user, names.get(n, n)) for n in missing)
        raise Invalid(_say(request, user, N_("Indiquez %(what)s.")) % {"what": what})


def _choice(value: str, allowed: tuple[str, ...], request: Request, user: User) -> str:
    if value not in allowed:
        raise Invalid(_say(request, user, N_("Choix inconnu : « %(value)s ».")) % {"value": value})
    return value


def _optional_id(value: str, request: Request, user: User) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) > 2**31 - 1:
        raise Invalid(_say(request, user, N_("Choix inconnu : « %(value)s ».")) % {"value": value})
    return int(value)


@router.get("/studies/{study_id}/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, study: ManagedStudyDep, user: CurrentUser, session: SessionDep
) -> Response:
    return _admin_page(request, session, user, study)


# --------------------------------------------------------------------------------------
# Members
# --------------------------------------------------------------------------------------


def _invite(
    session: Session,
    study_id: int,
    username: str,
    role: str,
    display_name: str,
    gender: str,
    who: audit_log.Actor,
) -> tuple[service.Member, str]:
    member, password = service.invite_member(
        session, study_id, username, role, display_name, gender
    )
    audit_log.record(
        session, who, audit_log.ACCOUNT_CREATED, object_type="user", object_id=member.user_id
    )
    audit_log.record(
        session,
        who,
        audit_log.MEMBER_ADDED,
        study_id=study_id,
        object_type="user",
        object_id=member.user_id,
        role=role,
        before=None,
    )
    return member, password


def _add_existing(
    session: Session, study_id: int, username: str, role: str, who: audit_log.Actor
) -> service.Member:
    if access.study_role_of(session, username, study_id) is not None:
        raise Conflict(
            f"« {username} » est déjà membre de l'étude : changez son rôle dans la liste."
        )
    member = service.add_member(session, study_id, username, role)
    audit_log.record(
        session,
        who,
        audit_log.MEMBER_ADDED,
        study_id=study_id,
        object_type="user",
        object_id=member.user_id,
        role=role,
        before=None,
    )
    return member


@router.post("/studies/{study_id}/members", response_class=HTMLResponse)
async def add_member_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    account: Annotated[str, Form(max_length=16)] = "existing",
    username: Code = "",
    display_name: Text = "",
    role: Annotated[str, Form(max_length=16)] = access.RESEARCHER,
    gender: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Add an existing account, or a new one (`account=new`) with a one-time password."""
    typed = {"account": account, "username": username, "display_name": display_name}
    typed |= {"role": role, "gender": gender}
    who = actor(request, user)
    study_id = study.id or 0

    async def act() -> Response:
        _choice(account, ("existing", "new"), request, user)
        _choice(role, STUDY_ROLES, request, user)
        _required(request, user, username=username)
        name = username.strip()
        if account == "existing":
            await write(request, session, _add_existing, session, study_id, name, role, who)
            request.app.state.media_grants.clear()
            return _back(study, "member", "membres")
        _choice(gender, GENDERS, request, user)
        member, password = await write(
            request, session, _invite, session, study_id, name, role, display_name.strip(),
            gender, who,
        )  # fmt: skip
        return _admin_page(
            request, session, user, study, password=password, invited=member, anchor="membres"
        )

    return await _submit(request, session, user, study, "member", typed, act)


def _set_role(
    session: Session, study_id: int, user_id: int, role: str, who: audit_log.Actor
) -> service.Member:
    before = session.get(User, user_id)
    previous = access.study_role_of(session, before.username, study_id) if before else None
    member = service.set_member_role(session, study_id, user_id, role)
    if previous != role:
        audit_log.record(
            session,
            who,
            audit_log.MEMBER_ROLE,
            study_id=study_id,
            object_type="user",
            object_id=user_id,
            role=role,
            before=previous,
        )
    return member


@router.post("/studies/{study_id}/members/{user_id}/role", response_class=HTMLResponse)
async def member_role_form(
    request: Request,
    user_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    role: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    who = actor(request, user)
    study_id = study.id or 0

    async def act() -> Response:
        _choice(role, STUDY_ROLES, request, user)
        await write(request, session, _set_role, session, study_id, user_id, role, who)
        request.app.state.media_grants.clear()
        return _back(study, "role", "membres")

    return await _submit(request, session, user, study, f"role-{user_id}", {"role": role}, act)


@router.post("/studies/{study_id}/members/{user_id}/remove", response_class=HTMLResponse)
async def remove_member_form(
    request: Request,
    user_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    who = actor(request, user)

    async def act() -> Response:
        await remove_member_from(request, session, study.id or 0, user_id, who)
        return _back(study, "removed", "membres")

    return await _submit(request, session, user, study, f"role-{user_id}", {}, act)


# --------------------------------------------------------------------------------------
# Structures and counsellors
# --------------------------------------------------------------------------------------


@router.post("/studies/{study_id}/structures", response_class=HTMLResponse)
async def add_structure_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    code: Code = "",
    name: Text = "",
    city: Text = "",
) -> Response:
    typed = {"code": code, "name": name, "city": city}

    async def act() -> Response:
        _required(request, user, code=code)
        create = service.create_structure
        await write(
            request, session, create, session, study.id or 0, code.strip(), name.strip(),
            city.strip(),
        )  # fmt: skip
        return _back(study, "structure", "conseillers")

    return await _submit(request, session, user, study, "structure", typed, act)


def _counsellor_with_account(
    session: Session,
    study_id: int,
    code: str,
    structure_id: int | None,
    username: str,
    display_name: str,
    gender: str,
    who: audit_log.Actor,
) -> tuple[Any, str]:
    counsellor, password = service.create_counsellor_with_account(
        session, study_id, code, structure_id, username, display_name, gender
    )
    audit_log.record(
        session, who, audit_log.ACCOUNT_CREATED, object_type="user", object_id=counsellor.user_id
    )
    audit_log.record(
        session,
        who,
        audit_log.MEMBER_ADDED,
        study_id=study_id,
        object_type="user",
        object_id=counsellor.user_id,
        role=access.COUNSELLOR,
        before=None,
    )
    return counsellor, password


@router.post("/studies/{study_id}/counsellors", response_class=HTMLResponse)
async def add_counsellor_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    code: Code = "",
    structure_id: Annotated[str, Form(max_length=12)] = "",
    account: Annotated[str, Form(max_length=16)] = "none",
    username: Code = "",
    display_name: Text = "",
    gender: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """A counsellor's code, their structure, and their account: none, an existing one, or
    a new one (`account=new`) with a one-time password."""
    typed = {"code": code, "structure_id": structure_id, "account": account}
    typed |= {"username": username, "display_name": display_name, "gender": gender}
    who = actor(request, user)
    study_id = study.id or 0

    async def act() -> Response:
        _choice(account, ("none", "existing", "new"), request, user)
        _required(request, user, code=code)
        structure = _optional_id(structure_id, request, user)
        if account != "none":
            _required(request, user, username=username)
        if account == "new":
            _choice(gender, GENDERS, request, user)
            counsellor, password = await write(
                request, session, _counsellor_with_account, session, study_id, code.strip(),
                structure, username.strip(), display_name.strip(), gender, who,
            )  # fmt: skip
            return _admin_page(
                request,
                session,
                user,
                study,
                password=password,
                invited=counsellor_account(session, counsellor.user_id),
                anchor="conseillers",
            )
        linked = username.strip() if account == "existing" else None
        create = service.create_counsellor
        await write(request, session, create, session, study_id, code.strip(), structure, linked)
        request.app.state.media_grants.clear()
        return _back(study, "counsellor", "conseillers")

    return await _submit(request, session, user, study, "counsellor", typed, act)


def _link_account(
    session: Session,
    study_id: int,
    counsellor_id: int,
    username: str,
    new: bool,
    display_name: str,
    gender: str,
    who: audit_log.Actor,
) -> tuple[Any, str | None]:
    counsellor, password = service.link_counsellor_account(
        session, study_id, counsellor_id, username, new, display_name, gender
    )
    if new:
        audit_log.record(
            session,
            who,
            audit_log.ACCOUNT_CREATED,
            object_type="user",
            object_id=counsellor.user_id,
        )
    return counsellor, password


@router.post("/studies/{study_id}/counsellors/{counsellor_id}/account", response_class=HTMLResponse)
async def counsellor_account_form(
    request: Request,
    counsellor_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    account: Annotated[str, Form(max_length=16)] = "new",
    username: Code = "",
    display_name: Text = "",
    gender: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Give a counsellor without an account theirs: a new one (one-time password) or an
    existing one."""
    typed = {"account": account, "username": username, "display_name": display_name}
    typed |= {"gender": gender}
    who = actor(request, user)

    async def act() -> Response:
        _choice(account, ("existing", "new"), request, user)
        _required(request, user, username=username)
        if account == "new":
            _choice(gender, GENDERS, request, user)
        counsellor, password = await write(
            request, session, _link_account, session, study.id or 0, counsellor_id,
            username.strip(), account == "new", display_name.strip(), gender, who,
        )  # fmt: skip
        request.app.state.media_grants.clear()
        if password is None:
            return _back(study, "linked", "conseillers")
        return _admin_page(
            request,
            session,
            user,
            study,
            password=password,
            invited=counsellor_account(session, counsellor.user_id),
            anchor="conseillers",
        )

    form = f"account-{counsellor_id}"
    return await _submit(request, session, user, study, form, typed, act)


def counsellor_account(session: Session, user_id: int | None) -> service.Member | None:
    account = session.get(User, user_id or 0)
    if account is None or account.id is None:
        return None
    return service.Member(account.id, account.username, account.display_name, "counsellor")


# --------------------------------------------------------------------------------------
# Interviews
# --------------------------------------------------------------------------------------


@router.post("/studies/{study_id}/interviews", response_class=HTMLResponse)
async def add_interview_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    code: Code = "",
    counsellor_id: Annotated[str, Form(max_length=12)] = "",
    recording_ids: Annotated[list[str] | None, Form(max_length=100)] = None,
    notes: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """An auto-confrontation interview for a counsellor, with the sessions it replays."""
    chosen = recording_ids or []
    typed = {"code": code, "counsellor_id": counsellor_id, "recording_ids": chosen}
    typed |= {"notes": notes}

    async def act() -> Response:
        _required(request, user, code=code)
        counsellor = _optional_id(counsellor_id, request, user)
        if counsellor is None:
            raise Invalid(_say(request, user, N_("Choisissez le conseiller de l'entretien.")))
        ids = [_optional_id(value, request, user) or 0 for value in chosen]
        create = service.create_interview
        await write(
            request, session, create, session, study.id or 0, code.strip(), counsellor, ids,
            notes.strip(),
        )  # fmt: skip
        return _back(study, "interview", "entretiens")

    return await _submit(request, session, user, study, "interview", typed, act)


def _attach(session: Session, study_id: int, interview_id: int, recording_id: int) -> list[int]:
    interview = session.get(Interview, interview_id)
    if interview is None or interview.study_id != study_id:
        raise NotFound(f"Aucun entretien n° {interview_id} dans cette étude.")
    return service.attach_recording(session, interview, recording_id)


@router.post(
    "/studies/{study_id}/interviews/{interview_id}/recordings", response_class=HTMLResponse
)
async def attach_recording_form(
    request: Request,
    interview_id: PathId,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    recording_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Add a session to an interview."""

    async def act() -> Response:
        chosen = _optional_id(recording_id, request, user)
        if chosen is None:
            raise Invalid(_say(request, user, N_("Choisissez la séance à ajouter.")))
        await write(request, session, _attach, session, study.id or 0, interview_id, chosen)
        return _back(study, "attached", "entretiens")

    return await _submit(request, session, user, study, f"attach-{interview_id}", {}, act)


# --------------------------------------------------------------------------------------
# Confidentiality settings (on the study page)
# --------------------------------------------------------------------------------------


@router.post("/studies/{study_id}/settings")
async def settings_form(
    request: Request,
    study: ManagedStudyDep,
    user: CurrentUser,
    session: SessionDep,
    consent_required: Annotated[str, Form()] = "",
    co_validation: Annotated[str, Form()] = "",
    code_pattern: Annotated[str, Form(max_length=200)] = "",
    code_example: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Unchecked boxes are not sent: absent means off."""
    changes = {
        "consent_required": consent_required == "true",
        "co_validation": co_validation == "true",
        "code_pattern": code_pattern.strip(),
        "code_example": code_example.strip(),
    }
    await update_study_settings(request, session, study.id or 0, changes, actor(request, user))
    return RedirectResponse(f"/studies/{study.id}#confidentialite", status_code=303)
