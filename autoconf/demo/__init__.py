"""The demo study: the sample counselling session, its transcript, prepared moments, coding."""

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.audit import log as audit_log
from autoconf.auth import accounts
from autoconf.consent import records as consent
from autoconf.db import session_scope
from autoconf.errors import DomainError
from autoconf.live import report, sessions, stops
from autoconf.media import jobs
from autoconf.media.probe import probe_duration_ms
from autoconf.media.store import store_for
from autoconf.models import (
    CONSENT_PARTIES,
    Counsellor,
    Interview,
    LiveComment,
    LiveStop,
    Recording,
    Study,
    utcnow,
)
from autoconf.schemes import annotations, codebooks, transcripts
from autoconf.settings import Settings
from autoconf.studies import recordings, service

STUDY_NAME = "Démo — conseil en évolution professionnelle"
USERNAME = "demo"
COUNSELLOR_USERNAME = "a8"
MEDIA = "seance-demo.mp4"
TRANSCRIPT = "seance-demo.vtt"
# The auto-confrontation's own recording (audio) and its transcript.
AC_MEDIA = "autoconfrontation-demo.m4a"
AC_TRANSCRIPT = "autoconfrontation-demo.vtt"

# (start, end, scheme path, extra code paths, note, structured fields)
CODING: tuple[tuple[str, str, str, tuple[str, ...], str, dict[str, str]], ...] = (
    ("0:00.000", "0:10.178", "Se présenter", (), "Se présente et pose le cadre horaire.", {}),
    (
        "0:19.592",
        "0:24.204",
        "Questionner / faire expliquer pour comprendre les besoins de la personne",
        (),
        "Question ouverte sur la demande.",
        {"but": "Faire émerger la demande réelle"},
    ),
    (
        "0:34.878",
        "0:41.245",
        "Écouter / reformuler",
        ("AUTONOMIE/Motivation",),
        "Reformule la lassitude en problème de place, pas de métier.",
        {
            "inferences": "Ce n'est pas la qualité qui pèse, c'est la position entre direction et "
            "clients",
            "indicateurs": "« Je suis fatigué », « quand ça arrange »",
        },
    ),
    (
        "0:48.503",
        "0:51.571",
        "Questionner / faire expliquer pour comprendre les besoins de la personne",
        (),
        "",
        {},
    ),
    (
        "0:59.540",
        "1:06.353",
        "Questionner / faire expliquer pour identifier la cohérence du projet avec la réalité du "
        "marché",
        ("ACCOMPAGNEMENT/Actions/Projet",),
        "Choisit d'explorer une seule des trois pistes.",
        {"regret": "J'aurais voulu revenir sur professeur des écoles."},
    ),
    (
        "1:13.641",
        "1:22.047",
        "Questionner / faire expliquer pour identifier la cohérence du projet avec la réalité du "
        "marché",
        ("ACCOMPAGNEMENT/Actions/Enquête-métier",),
        "Relie les compétences actuelles.",
        {},
    ),
    (
        "1:24.653",
        "1:40.773",
        "Informer / expliquer",
        ("ACCOMPAGNEMENT/Actions/Information",),
        "Présente l'accompagnement sur un an et le triangle du projet.",
        {
            "invariants": "Le projet = vouloir, savoir, pouvoir (marché)",
            "actions_outils": "Schéma du triangle",
        },
    ),
    (
        "1:43.667",
        "1:50.559",
        "Inciter à / proposer",
        ("ACCOMPAGNEMENT/Actions/Enquête-métier",),
        "Propose une enquête métier avant le prochain rendez-vous.",
        {},
    ),
    (
        "1:56.030",
        "2:01.647",
        "Contrôler / vérifier ce qui a été retenu",
        (),
        "Fait reformuler les engagements.",
        {"evaluation": "Le bénéficiaire restitue tout"},
    ),
    ("2:09.203", "2:15.358", "Prendre des notes", (), "Note dans le dossier.", {}),
)

# (time, principle path, note): the researcher's preparation, as written before the interview.
PREPARED: tuple[tuple[str, str, str], ...] = (
    (
        "0:34",
        "Co-construction du projet et rôle du conseiller dans cette co-construction",
        "Elle reformule sans vérifier que c'est bien ce qu'il voulait dire.",
    ),
    (
        "1:00",
        "Finalités, et tensions entre le projet de la personne et le marché du travail",
        "Trois pistes, une seule explorée : pourquoi programmeur ?",
    ),
    (
        "1:25",
        "Conditions de travail du conseiller (collègues, partenaires, temps, contraintes)",
        "Présente le dispositif d'un an : contrainte de la structure ou choix ?",
    ),
    (
        "1:56",
        "Autonomie du bénéficiaire et ses compétences à s'orienter",
        "Fait reformuler : vérifier la compréhension ou engager la personne ?",
    ),
)

PHASES = (("0:00.000", "1:24.053", "Diagnostic"), ("1:24.053", "2:15.358", "1ère partie"))


# A live session already held: (stop in the session, who stopped, time of the stop in the
# auto-confrontation's recording, comments (speaker, text)), as the researcher typed them.
STOPS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "0:41",
        "counsellor",
        "0:00",
        (
            ("counsellor", "Là, j'entends le mot fatigué : c'est un mot déclencheur."),
            ("researcher", "Reformule pour vérifier : la place, pas le métier."),
        ),
    ),
    (
        "1:20",
        "researcher",
        "0:13.5",
        (("counsellor", "Je cherche le lien avec ses compétences."),),
    ),
    (
        "1:06",
        "researcher",
        "0:24.9",
        (
            ("counsellor", "J'aurais pu lui demander ce qui l'attire chez les douaniers."),
            ("researcher", "Regret : une seule piste explorée sur trois."),
        ),
    ),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    study_id: int
    counsellor_username: str = COUNSELLOR_USERNAME
    counsellor_password: str = ""


def _ms(text: str) -> int:
    minutes, seconds = text.split(":")
    return round((int(minutes) * 60 + float(seconds)) * 1000)


def _fill(
    session: Session, settings: Settings, study: Study, author_id: int, counsellor_user: str
) -> None:
    assert study.id is not None
    structure = service.create_structure(
        session,
        study.id,
        "CEP-LYON",
        name="Conseil en évolution professionnelle",
        city="Lyon",
        centre="Lyon Part-Dieu",
    )
    service.add_member(session, study.id, counsellor_user, "counsellor")
    counsellor = service.create_counsellor(
        session, study.id, "A8", structure_id=structure.id, username=counsellor_user
    )
    package = resources.files("autoconf.demo")
    with resources.as_file(package.joinpath(MEDIA)) as media:
        with media.open("rb") as source:
            new = recordings.NewRecording(study.id, "A8 - 1", counsellor.id, MEDIA, "video/mp4")
            recording = recordings.create_recording(
                session, store_for(settings), settings.max_upload_bytes, new, source, None
            )
        recording.duration_ms = _duration(Path(media), settings)
    session.add(recording)
    _consents(session, recording, author_id)
    interview, _ = service.create_interview(
        session,
        study.id,
        "A8",
        counsellor.id,
        [recording.id or 0],
        notes="Auto-confrontation de la conseillère A8 sur sa séance A8 - 1.",
    )
    paths = {
        node.path: node.id
        for _, nodes in codebooks.list_codebooks(session, study.id)
        for node in nodes
    }
    cues = transcripts.parse_transcript(package.joinpath(TRANSCRIPT).read_bytes(), TRANSCRIPT)
    transcripts.replace_transcript(session, recording, cues, None)
    for start_text, end_text, scheme, extra, note, fields in CODING:
        annotations.create_annotation(
            session,
            recording,
            author_id,
            start_ms=_ms(start_text),
            end_ms=_ms(end_text),
            code_ids=[paths[scheme], *(paths[p] for p in extra)],
            note=note,
            fields=fields,
        )
    for time, principle, note in PREPARED:
        annotations.create_annotation(
            session,
            recording,
            author_id,
            start_ms=_ms(time),
            code_ids=[paths[principle]],
            note=note,
            origin="prepared",
        )
    for start_text, end_text, phase in PHASES:
        annotations.create_annotation(
            session,
            recording,
            author_id,
            start_ms=_ms(start_text),
            end_ms=_ms(end_text),
            code_ids=[paths[phase]],
        )
    _auto_confrontation(session, settings, interview, recording, author_id)


def _auto_confrontation(
    session: Session, settings: Settings, interview: Interview, recording: Recording, author: int
) -> None:
    """The interview's own recording, and the live session it records: its stops and what
    was said there, so that the session report has something to show."""
    package = resources.files("autoconf.demo")
    with resources.as_file(package.joinpath(AC_MEDIA)) as media:
        with media.open("rb") as source:
            new = recordings.NewRecording(
                interview.study_id, "A8 - AC", interview.counsellor_id, AC_MEDIA, "audio/mp4"
            )
            ac = recordings.create_recording(
                session, store_for(settings), settings.max_upload_bytes, new, source, None
            )
        ac.duration_ms = _duration(Path(media), settings)
    _consents(session, ac, author)
    cues = transcripts.parse_transcript(package.joinpath(AC_TRANSCRIPT).read_bytes(), AC_TRANSCRIPT)
    transcripts.replace_transcript(session, ac, cues, None)
    counsellor_user = session.exec(
        select(Counsellor.user_id).where(Counsellor.id == interview.counsellor_id)
    ).first()
    live = sessions.start(session, recording, author)
    assert live.id is not None
    began = utcnow() - timedelta(days=1)
    started = began + timedelta(seconds=20)
    interview.ac_started_at = started
    session.add(interview)
    report.set_recording(session, interview, ac.id)
    for at, role, ac_time, comments in STOPS:
        stopped_at = started + timedelta(milliseconds=_ms(ac_time))
        stop = annotations.create_annotation(
            session,
            recording,
            counsellor_user if role == "counsellor" else author,
            start_ms=_ms(at),
            origin="stop",
        )
        prepared = stops.agenda(session, live, author)
        answered = next(
            (m.prepared_id for m in prepared if abs(m.position_ms - _ms(at)) <= stops.NEAR_MS),
            None,
        )
        session.add(
            LiveStop(
                annotation_id=stop.id,
                session_id=live.id,
                role=role,
                stopped_at=stopped_at,
                resumed_at=stopped_at + timedelta(seconds=9),
                prepared_id=answered,
            )
        )
        session.flush()  # the stop before its comments (no ORM relationship orders them)
        for number, (speaker, text) in enumerate(comments):
            said_at = stopped_at + timedelta(seconds=2 + number * 3)
            session.add(
                LiveComment(
                    stop_id=stop.id,
                    author_id=author,
                    speaker=speaker,
                    text=text,
                    said_at=said_at,
                    created_at=said_at,
                    updated_at=said_at,
                )
            )
        session.flush()
    live.created_at = began
    live.ended_at = began + timedelta(minutes=5)
    session.add(live)


def _consents(session: Session, recording: Recording, author_id: int) -> None:
    """Both parties agreed to research and training: the demo plays and makes clips."""
    session.flush()
    who = audit_log.Actor(author_id, USERNAME)
    for party in CONSENT_PARTIES:
        consent.give(
            session, recording, who, party, [consent.RESEARCH, consent.TRAINING], date.today()
        )


def _duration(media: Path, settings: Settings) -> int | None:
    try:
        return probe_duration_ms(media, settings.ffprobe_binary)
    except DomainError:
        return None  # the study still loads; the media issue's pipeline fills it in later


def load_demo(engine: Engine, settings: Settings) -> DemoLogin:
    """Create (once) the demo account and study; the account gets a fresh password each time."""
    password = secrets.token_urlsafe(9)
    with session_scope(engine) as session:
        user = accounts.find_user(session, USERNAME)
        if user is None:
            user = accounts.create_user(
                session, USERNAME, password, "researcher", display_name="Chercheuse démo"
            )
            user.gender = "feminine"
        else:
            accounts.set_password(session, user, password)
        assert user.id is not None
        counsellor_password = secrets.token_urlsafe(9)
        counsellor = accounts.find_user(session, COUNSELLOR_USERNAME)
        if counsellor is None:
            accounts.create_user(
                session,
                COUNSELLOR_USERNAME,
                counsellor_password,
                "counsellor",
                display_name="Conseillère A8",
            ).gender = "feminine"
        else:
            accounts.set_password(session, counsellor, counsellor_password)
        study = session.exec(select(Study).where(Study.name == STUDY_NAME)).first()
        if study is None:
            study = service.create_study(
                session,
                user,
                STUDY_NAME,
                "Une séance de conseil synthétique de 2 minutes (A8 - 1), sa transcription, "
                "des moments préparés, un premier codage en schèmes d'action, et "
                "l'auto-confrontation A8 déjà tenue en direct, avec son enregistrement audio "
                "(A8 - AC).",
            )
            _fill(session, settings, study, user.id, COUNSELLOR_USERNAME)
        else:
            service.add_member(session, study.id or 0, USERNAME, "researcher")
        assert study.id is not None
    jobs.run_until_idle(engine, settings)  # the demo recording plays as soon as it is served
    return DemoLogin(USERNAME, password, study.id, COUNSELLOR_USERNAME, counsellor_password)
