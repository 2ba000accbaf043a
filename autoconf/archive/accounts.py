"""The people of a study archive, as accounts of the importing instance.

A username is the same person in every instance: found here, its account is used. One this
instance does not know becomes a disabled account that cannot sign in (no password; an
administrator's becomes a researcher's), so that annotations keep their authors and the
study its members. An account that does not fit what the archive makes of it (a researcher
of the study who is a counsellor account here, a counsellor's account that is not one)
refuses the import, naming it.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from autoconf.archive import tables
from autoconf.archive.contents import Contents
from autoconf.audit import log as audit_log
from autoconf.errors import Invalid
from autoconf.models import User, utcnow
from autoconf.studies.access import ADMIN, COUNSELLOR, RESEARCHER

# What an account made for the archive holds as its password hash: no argon2 hash, so no
# password ever matches it (and the account is disabled anyway).
NO_PASSWORD = "!study-archive"


@dataclass
class Accounts:
    mapping: dict[int, int] = field(default_factory=dict)  # the archive's user id → here
    created: list[str] = field(default_factory=list)  # usernames, accounts made
    matched: list[str] = field(default_factory=list)  # usernames, accounts found


def _placeholder_role(role: str) -> str:
    return RESEARCHER if role == ADMIN else role


def check(session: Session, contents: Contents, importer: User | None) -> None:
    """The archive's people fit the accounts of this instance: a researcher of the study is
    not a counsellor account here, a counsellor's account is a counsellor account."""
    name, rows = contents.name, contents.rows
    if importer is not None and importer.role == COUNSELLOR:
        raise Invalid(
            f"« {importer.username} » est un compte de conseiller : il ne peut pas être chercheur "
            "de l'étude importée."
        )
    users = {row["id"]: row for row in rows[tables.USER.name]}
    for row in users.values():
        if not row["username"] or any(c.isspace() for c in row["username"]):
            raise Invalid(f"« {name} » : le nom d'utilisateur « {row['username']} » est invalide.")
    existing = _existing(session, [row["username"] for row in users.values()])

    def role_of(user_id: int) -> str:
        username = users[user_id]["username"]
        found = existing.get(username)
        return found.role if found is not None else _placeholder_role(users[user_id]["role"])

    for member in rows[tables.MEMBERSHIP.name]:
        username = users[member["user_id"]]["username"]
        becomes = RESEARCHER if importer and importer.username == username else member["role"]
        if becomes == RESEARCHER and role_of(member["user_id"]) == COUNSELLOR:
            raise Invalid(
                f"« {name} » : « {username} » est chercheur de l'étude dans l'archive, mais "
                "c'est un compte de conseiller ici. Renommez l'un des deux comptes, puis "
                "importez de nouveau."
            )
    for counsellor in rows[tables.COUNSELLOR.name]:
        if counsellor["user_id"] is None:
            continue
        username = users[counsellor["user_id"]]["username"]
        role = role_of(counsellor["user_id"])
        if role != COUNSELLOR:
            raise Invalid(
                f"« {name} » : le compte du conseiller {counsellor['code']}, « {username} », "
                f"n'est pas un compte de conseiller ici (son rôle : {role}). Renommez l'un des "
                "deux comptes, puis importez de nouveau."
            )


def _existing(session: Session, usernames: list[str]) -> dict[str, User]:
    found = session.exec(select(User).where(col(User.username).in_(usernames))).all()
    return {user.username: user for user in found}


def accounts(session: Session, users: list[dict[str, Any]], who: audit_log.Actor) -> Accounts:
    """The archive's people (its `user` rows) as accounts of this instance: found by
    username, else made (disabled, no password), each one made in the audit log."""
    existing = _existing(session, [row["username"] for row in users])
    made = Accounts()
    now = utcnow()
    for row in users:
        found = existing.get(row["username"])
        if found is not None and found.id is not None:
            made.mapping[row["id"]] = found.id
            made.matched.append(row["username"])
            continue
        new = session.connection().execute(
            insert(User)
            .values(
                username=row["username"],
                display_name=row["display_name"] or row["username"],
                role=_placeholder_role(row["role"]),
                password_hash=NO_PASSWORD,
                language=row["language"],
                reaction_offset_ms=0,
                gender=row["gender"],
                must_change_password=True,
                is_active=False,
                created_at=now,
            )
            .returning(User.__table__.c.id)  # type: ignore[attr-defined]
        )
        made.mapping[row["id"]] = int(new.scalar_one())
        made.created.append(row["username"])
        audit_log.record(
            session,
            who,
            audit_log.ACCOUNT_CREATED,
            object_type="user",
            object_id=made.mapping[row["id"]],
            disabled=True,
            origin="study_archive",
        )
    return made
