"""The `autoconf` command: serve, worker, migrate, user add, token create, demo, backup,
restore, export study, import."""

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from autoconf import migrate
from autoconf.audit import log as audit_log
from autoconf.auth import accounts, passwords
from autoconf.backup import make_backup, restore_backup
from autoconf.backup.manifest import KIND_NAMES
from autoconf.backup.snapshot import Snapshot
from autoconf.db import make_engine, session_scope
from autoconf.errors import Conflict, DomainError
from autoconf.media.storage import human_size
from autoconf.media.store import store_for
from autoconf.media.tools import INSTALL_HINT, tool_status
from autoconf.settings import Settings

# Who acts, in the audit log, when the command line exports or imports a study.
CLI_ACTOR = audit_log.Actor(None, "", "cli")


def _migrate(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    _migrate(settings)
    print(f"Base de données à jour : {settings.effective_database_url.split('@')[-1]}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    import uvicorn
    import uvicorn.config

    from autoconf.observability import logs
    from autoconf.observability.metrics import MULTIPROCESS_ENV

    if not args.no_migrate:
        _migrate(settings)
    for binary in (settings.ffmpeg_binary, settings.ffprobe_binary):
        if tool_status(binary).path is None:
            print(f"Attention : « {binary} » est introuvable. {INSTALL_HINT}", file=sys.stderr)
    log_config = (
        logs.logging_config(settings.log_format, settings.log_level)
        if settings.log_format == "json"
        else uvicorn.config.LOGGING_CONFIG
    )
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": settings.log_level,
        "log_config": log_config,
    }
    print(f"autoconf écoute sur http://{args.host}:{args.port}", flush=True)
    if args.workers <= 1:
        from autoconf.app import served_app

        uvicorn.run(served_app(settings), **options)
        return 0
    # Several processes (uvicorn's supervisor): each builds the app from the same AUTOCONF_*
    # variables, and their metrics meet in one folder (prometheus-client's multiprocess
    # mode), made empty for them unless the operator named one.
    made = None
    if not os.environ.get(MULTIPROCESS_ENV):
        made = tempfile.mkdtemp(prefix="autoconf-metrics-")
        os.environ[MULTIPROCESS_ENV] = made
    print(f"{args.workers} processus.", flush=True)
    try:
        uvicorn.run("autoconf.app:served_app", factory=True, workers=args.workers, **options)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run media jobs (no web server): beside `serve` with AUTOCONF_MEDIA_WORKERS=0, or
    on other machines sharing the database and the media folder."""
    import signal
    import threading

    from autoconf.media.jobs import JobRunner, run_until_idle
    from autoconf.transcribe import jobs as transcriptions
    from autoconf.transcribe import model

    engine = make_engine(settings.effective_database_url)
    if args.until_idle:
        print(f"{run_until_idle(engine, settings)} traitement(s) effectué(s).")
        if model.installed():
            done = transcriptions.run_until_idle(engine, settings)
            print(f"{done} transcription(s) effectuée(s).")
        return 0
    count = max(1, args.jobs or settings.media_workers)
    runners: list[JobRunner | transcriptions.TranscriptionRunner] = [
        JobRunner(engine, settings, count)
    ]
    if model.installed():  # the optional extra: one transcription at a time
        runners.append(transcriptions.TranscriptionRunner(engine, settings))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for runner in runners:
        runner.start()
    also = " et les transcriptions" if len(runners) > 1 else ""
    print(f"autoconf worker : {count} traitement(s) à la fois{also}.", flush=True)
    stop.wait()
    for runner in runners:
        runner.stop()
    return 0


def _password_from_stdin() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Mot de passe : ")
        if getpass.getpass("Encore une fois : ") != first:
            raise DomainError("Les deux mots de passe diffèrent.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    password = _password_from_stdin()
    engine = make_engine(settings.effective_database_url)
    with session_scope(engine) as session:
        user = accounts.create_user(session, args.username, password, args.role, args.display_name)
        print(f"Utilisateur « {user.username} » créé ({user.role}).")
    return 0


def _worker_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError("un nombre de processus entre 1 et 64")
    return int(text)


def _study_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError("un numéro d'étude")
    return int(text)


def _token_days(text: str) -> int:
    days = int(text) if text.isdigit() else 0
    if not 1 <= days <= 365:
        raise argparse.ArgumentTypeError("un nombre de jours entre 1 et 365")
    return days


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.effective_database_url)
    with session_scope(engine) as session:
        user = accounts.get_user(session, args.username)
        lifetime = timedelta(days=args.days)
        _, clear = accounts.issue_token(
            session, user, accounts.API, name=args.name, lifetime=lifetime
        )
    print(clear)
    return 0


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from autoconf.demo import load_demo

    _migrate(settings)
    login = load_demo(make_engine(settings.effective_database_url), settings)
    print(
        "Étude de démonstration prête.\n"
        f"  Identifiant : {login.username}\n"
        f"  Mot de passe : {login.password}\n"
        f"  Étude : /studies/{login.study_id}\n"
        "Compte de la conseillère (pour l'auto-confrontation en direct) :\n"
        f"  Identifiant conseillère : {login.counsellor_username}\n"
        f"  Mot de passe conseillère : {login.counsellor_password}"
    )
    return 0


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    def copied(snapshot: Snapshot) -> None:
        print(
            f"Base copiée (révision {snapshot.revision}) ; copie des médias…",
            file=sys.stderr,
            flush=True,
        )

    made = make_backup(settings, Path(args.dest), after_snapshot=copied)
    manifest = made.manifest
    media = len(manifest.media_files)
    seconds = f"{made.seconds:.1f}".replace(".", ",")
    print(
        f"Sauvegarde écrite dans « {Path(args.dest).resolve()} » en {seconds} s : base "
        f"{KIND_NAMES[manifest.database_kind]} (révision {manifest.alembic_revision}, "
        f"{human_size(manifest.database_file.size)}), {media} fichier(s) de médias "
        f"({human_size(made.media_bytes)})."
    )
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    restored = restore_backup(settings, Path(args.source))
    manifest = restored.manifest
    taken = manifest.created_at.astimezone().strftime("%d/%m/%Y à %H:%M:%S")
    print(
        f"Sauvegarde du {taken} restaurée dans « {settings.data_dir} » : base "
        f"{KIND_NAMES[manifest.database_kind]} (révision {manifest.alembic_revision}), "
        f"{restored.files} fichier(s) de médias ({human_size(restored.bytes)}).\n"
        "Lancez « autoconf serve » : le schéma sera mis à jour si besoin."
    )
    return 0


def cmd_export_study(settings: Settings, args: argparse.Namespace) -> int:
    """The whole study in one zip (everything: the command line reads the database anyway),
    written beside FILE then renamed, so that FILE is never a half archive."""
    from autoconf import archive

    target = Path(args.file).expanduser().resolve()
    if target.exists():
        raise Conflict(f"« {target} » existe déjà : choisissez un autre nom de fichier.")
    engine = make_engine(settings.effective_database_url)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as out, archive.snapshot(engine) as session:
            made = archive.export_study(
                session, store_for(settings), args.study_id, out, not args.without_media
            )
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    manifest = made.manifest
    with session_scope(engine) as session:
        audit_log.record(
            session,
            CLI_ACTOR,
            audit_log.EXPORT,
            study_id=args.study_id,
            object_type="study",
            object_id=args.study_id,
            what="archive",
            format="zip",
            media=manifest.media,
            files=len(manifest.files),
            media_withheld=len(made.withheld),
        )
    rows = sum(manifest.counts.values())
    print(
        f"Archive de l'étude « {manifest.study_name} » écrite dans « {target} » "
        f"({human_size(target.stat().st_size)}) : {rows} ligne(s), {len(manifest.files)} "
        f"fichier(s) de médias ({human_size(made.media_bytes)})."
    )
    for code, why in sorted(made.withheld.items()):
        reason = "consentements manquants" if why == "consent" else "original absent"
        print(f"  Médias de « {code} » laissés hors de l'archive : {reason}.")
    return 0


def cmd_import_study(settings: Settings, args: argparse.Namespace) -> int:
    """An archive as a new study; `--as` names the account that becomes its researcher."""
    from autoconf import archive

    _migrate(settings)
    source = Path(args.file).expanduser()
    engine = make_engine(settings.effective_database_url)
    with Session(engine, expire_on_commit=False) as session:
        importer = accounts.get_user(session, args.username) if args.username else None
        with source.open("rb") as file:
            prepared = archive.prepare(
                session,
                store_for(settings),
                file,
                source.name,
                settings.max_upload_bytes,
                importer,
            )
        try:
            done = archive.import_study(session, prepared, importer, CLI_ACTOR)
            session.commit()
        except BaseException:
            session.rollback()
            prepared.discard()
            raise
    print(
        f"Étude « {done.name} » importée (n° {done.study_id}) : {done.recordings} "
        f"enregistrement(s), {done.annotations} annotation(s)."
    )
    if done.without_media:
        print(f"  Sans leur fichier : {', '.join(sorted(done.without_media))}.")
    if done.accounts_created:
        print(f"  Comptes créés, désactivés : {', '.join(done.accounts_created)}.")
    if done.to_process:
        print(
            f"  À traiter : {', '.join(done.to_process)} (par « autoconf serve » ou "
            "« autoconf worker »)."
        )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="autoconf",
        description="autoconf: replay, annotate and synthesise self-confrontation interviews. "
        "Configuration comes from AUTOCONF_* environment variables (see the README).",
    )
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the web server (migrates first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database")
    serve.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        help="app processes behind one port (PostgreSQL recommended above 1)",
    )
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser("worker", help="run media jobs (ffmpeg) without serving pages")
    worker.add_argument(
        "--jobs", type=int, help="jobs run at once (default: AUTOCONF_MEDIA_WORKERS, at least 1)"
    )
    worker.add_argument("--until-idle", action="store_true", help="run the queued jobs, then stop")
    worker.set_defaults(run=cmd_worker)

    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(run=cmd_migrate)

    user = commands.add_parser("user", help="manage accounts").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="create an account; the password is read from stdin")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["admin", "researcher", "counsellor"])
    add.add_argument("--display-name", default="")
    add.set_defaults(run=cmd_user_add)

    token = commands.add_parser("token", help="personal API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="print a new API token for USERNAME")
    create.add_argument("username")
    create.add_argument("--name", default="cli")
    create.add_argument(
        "--days",
        type=_token_days,
        default=90,
        help="the token stops working after this many days (1 to 365, default 90)",
    )
    create.set_defaults(run=cmd_token_create)

    commands.add_parser("demo", help="load the demo study and print its login").set_defaults(
        run=cmd_demo
    )

    backup = commands.add_parser(
        "backup",
        help="copy the database and the media folder into DEST, a new folder, with a "
        "manifest of sha256 sums (the server may keep running)",
    )
    backup.add_argument("dest", metavar="DEST")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser(
        "restore",
        help="restore the backup in SRC into the empty data folder (and, on PostgreSQL, "
        "the empty database) of the configuration",
    )
    restore.add_argument("source", metavar="SRC")
    restore.set_defaults(run=cmd_restore)

    export = commands.add_parser("export", help="write a study as a file").add_subparsers(
        dest="what", required=True
    )
    study = export.add_parser(
        "study",
        help="write the whole study ID into FILE.zip, a study archive (metadata, codebooks, "
        "annotations, transcripts, consents, live sessions, media) to import elsewhere",
    )
    study.add_argument("study_id", type=_study_id, metavar="ID")
    study.add_argument("file", metavar="FILE.zip")
    study.add_argument(
        "--without-media", action="store_true", help="leave the recordings' files out"
    )
    study.set_defaults(run=cmd_export_study)

    imported = commands.add_parser(
        "import", help="import a study archive (FILE.zip) as a new study of this instance"
    )
    imported.add_argument("file", metavar="FILE.zip")
    imported.add_argument(
        "--as",
        dest="username",
        help="the account that becomes a researcher of the study (default: only the "
        "archive's members, and administrators, see it)",
    )
    imported.set_defaults(run=cmd_import_study)
    return root


def settings_errors(error: ValidationError) -> str:
    """What is wrong with the AUTOCONF_* variables, one line each, in French; never their
    values (a secret may be one)."""
    lines = [
        f"Erreur de configuration : {Settings.env_name(str(problem['loc'][0]))} est refusée "
        f"({problem['msg']})."
        if problem["loc"]
        else f"Erreur de configuration : {problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors()
    ]
    return "\n".join(
        [*lines, "Les réglages et leurs valeurs possibles : README, « Configuration »."]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(settings_errors(error), file=sys.stderr)
        return 2
    passwords.configure(settings.password_memory_kib)
    try:
        result: int = args.run(settings, args)
        return result
    except DomainError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
