"""Consent records of a recording and the gates they open.

One record per party (the counsellor, the beneficiary) and scope set, from the day it was
given until it is withdrawn. A study with `consent_required` plays, downloads and exports a
recording only with research consent from both parties; a training clip always needs the
training scope from both.
"""

from sqlmodel import Session, col, select

from autoconf.errors import Forbidden
from autoconf.models import CONSENT_PARTIES, Consent, Recording, Study

RESEARCH = "research"
TRAINING = "training"
PARTY_NAMES = {"counsellor": "du conseiller", "beneficiary": "du bénéficiaire"}
SCOPE_NAMES = {RESEARCH: "la recherche", TRAINING: "la formation"}


def active(session: Session, recording_id: int) -> list[Consent]:
    """The consents in force (not withdrawn), oldest first."""
    return list(
        session.exec(
            select(Consent)
            .where(Consent.recording_id == recording_id, col(Consent.withdrawn_on).is_(None))
            .order_by(col(Consent.id))
        ).all()
    )


def missing_parties(session: Session, recording_id: int, scope: str) -> list[str]:
    """The parties with no consent in force covering `scope`, in the order of CONSENT_PARTIES."""
    covered = {c.party for c in active(session, recording_id) if scope in c.scopes}
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
    missing = missing_parties(session, recording.id or 0, scope)
    if missing:
        raise Forbidden(gate_message(recording, scope, missing))
