"""The demo study: the sample counselling session, its transcript, prepared moments, coding."""

import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.auth import accounts
from autoconf.db import session_scope
from autoconf.errors import DomainError
from autoconf.media import jobs
from autoconf.media.probe import probe_duration_ms
from autoconf.models import Study
from autoconf.schemes import annotations, codebooks, transcripts
from autoconf.settings import Settings
from autoconf.studies import recordings, service

STUDY_NAME = "Démo — conseil en évolution professionnelle"
USERNAME = "demo"
MEDIA = "seance-demo.mp4"
TRANSCRIPT = "seance-demo.vtt"

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


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    study_id: int


def _ms(text: str) -> int:
    minutes, seconds = text.split(":")
    return round((int(minutes) * 60 + float(seconds)) * 1000)


def _fill(session: Session, settings: Settings, study: Study, author_id: int) -> None:
    assert study.id is not None
    structure = service.create_structure(
        session,
        study.id,
        "CEP-LYON",
        name="Conseil en évolution professionnelle",
        city="Lyon",
        centre="Lyon Part-Dieu",
    )
    counsellor = service.create_counsellor(session, study.id, "A8", structure_id=structure.id)
    package = resources.files("autoconf.demo")
    with resources.as_file(package.joinpath(MEDIA)) as media:
        with media.open("rb") as source:
            new = recordings.NewRecording(study.id, "A8 - 1", counsellor.id, MEDIA, "video/mp4")
            recording = recordings.create_recording(
                session, settings.media_dir, settings.max_upload_bytes, new, source, None
            )
        recording.duration_ms = _duration(Path(media), settings)
    session.add(recording)
    service.create_interview(
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
        else:
            accounts.set_password(session, user, password)
        assert user.id is not None
        study = session.exec(select(Study).where(Study.name == STUDY_NAME)).first()
        if study is None:
            study = service.create_study(
                session,
                user,
                STUDY_NAME,
                "Une séance de conseil synthétique de 2 minutes (A8 - 1), sa transcription, "
                "des moments préparés et un premier codage en schèmes d'action.",
            )
            _fill(session, settings, study, user.id)
        else:
            service.add_member(session, study.id or 0, USERNAME, "researcher")
        assert study.id is not None
    jobs.run_until_idle(engine, settings)  # the demo recording plays as soon as it is served
    return DemoLogin(USERNAME, password, study.id)
