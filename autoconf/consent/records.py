"""Consent records of a recording and the gates they open.

One record per party (the counsellor, the beneficiary) and scope set, from the day it was
given until it is withdrawn. A study with `consent_required` plays, downloads and exports a
recording only with research consent from both parties; a training clip always needs the
training scope from both.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlmodel import Session, col, select

from autoconf.audit import log as audit_log
from autoconf.errors import Conflict, Forbidden, Invalid, NotFound
from autoconf.models import CONSENT_PARTIES, CONSENT_SCOPES, Consent, Recording, Study, utcnow

RESEARCH = "research"
TRAINING = "training"
PARTY_NAMES = {"counsellor": "du conseiller", "beneficiary": "du bénéficiaire"}
SCOPE_NAMES = {RESEARCH: "la recherche", TRAINING: "la formation"}
CONSENT_OBJECT = "consent"


def active(session: Session, recording_id: int) -> list[Consent]:
    """The consents in force (not withdrawn), oldest first."""
    return list(
        session.exec(
            select(Consent)
            .where(Consent.recording_id == recording_id, col(Consent.withdrawn_on).is_(None))
            .order_by(col(Consent.id))
        ).all()
    )


def _missing(in_force: Sequence[Consent], scope: str) -> list[str]:
    """The parties with no consent in force covering `scope`, in the order of CONSENT_PARTIES."""
    covered = {c.party for c in in_force if scope in c.scopes}
    return [party for party in CONSENT_PARTIES if party not in covered]


def gate_message(recording: Recording, scope: str, missing: list[str]) -> str:
    who = " et ".join(f"le consentement {PARTY_NAMES[p]}" for p in missing)
    verb = "manque" if len(missing) == 1 else "manquent"
    if scope == TRAINING:
        return (
            f"« {recording.code} » ne peut pas servir en formation : {who} pour "
            f"{SCOPE_NAMES[scope]} {verb}. Un chercheur de l'étude l'enregistre sur la page "
            "de l'enregistrement."
        )
    return (
        f"« {recording.code} » ne peut être ni lu, ni téléchargé, ni exporté : {who} pour "
        f"{SCOPE_NAMES[scope]} {verb}. Un chercheur de l'étude l'enregistre sur la page de "
        "l'enregistrement."
    )


def require(session: Session, recording: Recording, scope: str = RESEARCH) -> None:
    """Forbidden (with which consent is missing) unless the recording may be used for `scope`:
    research consent is needed when the study requires consent, training consent always."""
    if scope == RESEARCH:
        study = session.get(Study, recording.study_id)
        if study is None or not study.consent_required:
            return
    missing = _missing(active(session, recording.id or 0), scope)
    if missing:
        raise Forbidden(gate_message(recording, scope, missing))


def content_allowed(session: Session, recording: Recording) -> bool:
    """Whether what the recording says (its media, its transcript) may be shown: always
    when the study requires no consent, else with research consent from both parties."""
    return standing(session, recording).playable


def withheld(session: Session, study_id: int) -> set[int]:
    """The study's recordings whose content (quotes, transcript) may not be exported: none
    when the study requires no consent, else those without research consent from both."""
    study = session.get(Study, study_id)
    if study is None or not study.consent_required:
        return set()
    every = set(session.exec(select(Recording.id).where(Recording.study_id == study_id)).all())
    rows = session.exec(
        select(Consent.recording_id, Consent.party, Consent.scopes)
        .join(Recording, col(Recording.id) == Consent.recording_id)
        .where(Recording.study_id == study_id, col(Consent.withdrawn_on).is_(None))
    ).all()
    parties: dict[int, set[str]] = {}
    for recording_id, party, scopes in rows:
        if RESEARCH in (scopes or []):
            parties.setdefault(recording_id, set()).add(party)
    covered = {rid for rid, found in parties.items() if found >= set(CONSENT_PARTIES)}
    return {rid for rid in every if rid is not None and rid not in covered}


@dataclass(frozen=True)
class Standing:
    """Where a recording stands: whether its study requires consent, the parties whose
    research or training consent is missing, whether a withdrawal made one missing, and,
    when it may not be played, why (in French)."""

    required: bool
    missing_research: list[str]
    missing_training: list[str]
    withdrawn: bool
    message: str | None

    @property
    def research(self) -> bool:
        return not self.missing_research

    @property
    def training(self) -> bool:
        return not self.missing_training

    @property
    def playable(self) -> bool:
        """It may be played, downloaded and exported."""
        return self.message is None


def standing(session: Session, recording: Recording) -> Standing:
    study = session.get(Study, recording.study_id)
    every = of_recording(session, recording.id or 0)
    in_force = [c for c in every if c.withdrawn_on is None]
    research = _missing(in_force, RESEARCH)
    required = bool(study and study.consent_required)
    withdrawn = any(c.withdrawn_on is not None and c.party in research for c in every)
    message = gate_message(recording, RESEARCH, research) if required and research else None
    return Standing(required, research, _missing(in_force, TRAINING), withdrawn, message)


def give(
    session: Session,
    recording: Recording,
    who: audit_log.Actor,
    party: str,
    scopes: Sequence[str],
    given_on: date,
) -> Consent:
    """Record what `party` agreed to for the recording, from `given_on`. Invalid for an
    unknown party or scope, no scope, a day to come; Conflict while that party already has a
    consent in force (withdraw it first: a record is never edited)."""
    if party not in CONSENT_PARTIES:
        raise Invalid(
            f"Partie inconnue : « {party[:40]} ». Le consentement est celui du conseiller "
            "(counsellor) ou du bénéficiaire (beneficiary)."
        )
    if not scopes:
        raise Invalid(
            "Indiquez au moins un usage couvert par le consentement : la recherche (research) "
            "ou la formation (training)."
        )
    unknown = [scope for scope in scopes if scope not in CONSENT_SCOPES]
    if unknown:
        raise Invalid(
            f"Usage inconnu : « {unknown[0][:40]} ». Les usages possibles sont la recherche "
            "(research) et la formation (training)."
        )
    if given_on > date.today():
        raise Invalid(
            f"Le consentement ne peut pas être daté du {given_on:%d/%m/%Y} : ce jour n'est pas "
            "encore arrivé."
        )
    # One giver at a time per recording (PostgreSQL; SQLite's writers already take turns).
    session.exec(select(Recording.id).where(Recording.id == recording.id).with_for_update())
    current = next((c for c in active(session, recording.id or 0) if c.party == party), None)
    if current is not None:
        raise Conflict(
            f"Le consentement {PARTY_NAMES[party]} pour « {recording.code} » est déjà "
            f"enregistré (n° {current.id}, du {current.given_on:%d/%m/%Y}) : retirez-le "
            "d'abord pour en enregistrer un autre."
        )
    consent = Consent(
        recording_id=recording.id or 0,
        party=party,
        scopes=[scope for scope in CONSENT_SCOPES if scope in scopes],
        given_on=given_on,
        recorded_by=who.user_id,
    )
    session.add(consent)
    session.flush()
    audit_log.record(
        session,
        who,
        audit_log.CONSENT_GIVEN,
        study_id=recording.study_id,
        recording_id=recording.id,
        object_type=CONSENT_OBJECT,
        object_id=consent.id,
        party=party,
        scopes=consent.scopes,
        given_on=given_on.isoformat(),
    )
    return consent


def withdraw(
    session: Session,
    consent_id: int,
    who: audit_log.Actor,
    withdrawn_on: date | None = None,
) -> Consent:
    """End the consent on `withdrawn_on` (today by default): from now on it covers nothing.
    Conflict when it was already withdrawn; Invalid for a day to come or before it was given."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"Aucun consentement n° {consent_id}.")
    if consent.withdrawn_on is not None:
        raise Conflict(
            f"Ce consentement (n° {consent_id}) a déjà été retiré le "
            f"{consent.withdrawn_on:%d/%m/%Y}."
        )
    day = withdrawn_on or date.today()
    if day > date.today():
        raise Invalid(
            f"Le retrait ne peut pas être daté du {day:%d/%m/%Y} : ce jour n'est pas encore arrivé."
        )
    if day < consent.given_on:
        raise Invalid(
            f"Le retrait ne peut pas précéder le consentement, donné le "
            f"{consent.given_on:%d/%m/%Y}."
        )
    # Only if still in force when written: two withdrawals at once, one wins (PostgreSQL).
    changed = session.execute(
        update(Consent)
        .where(col(Consent.id) == consent_id, col(Consent.withdrawn_on).is_(None))
        .values(withdrawn_on=day, withdrawn_by=who.user_id, withdrawn_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"Ce consentement (n° {consent_id}) a déjà été retiré.")
    session.refresh(consent)
    recording = session.get(Recording, consent.recording_id)
    audit_log.record(
        session,
        who,
        audit_log.CONSENT_WITHDRAWN,
        study_id=recording.study_id if recording else None,
        recording_id=consent.recording_id,
        object_type=CONSENT_OBJECT,
        object_id=consent.id,
        party=consent.party,
        withdrawn_on=day.isoformat(),
    )
    return consent


def of_recording(session: Session, recording_id: int) -> list[Consent]:
    """Every consent of the recording, withdrawn ones included, oldest first."""
    return list(
        session.exec(
            select(Consent).where(Consent.recording_id == recording_id).order_by(col(Consent.id))
        ).all()
    )
