"""The deployment files: compose.yaml and compose.folder.yaml checked against the Compose
specification's schema and wired to the nginx snippets they fill in; the Dockerfile's
instructions carried out in order in a clean virtual environment (Docker cannot run on the
test machine): the installed package, not this checkout, serves, migrates at start and
passes the image's health check."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from tests.integration.test_nginx import NGINX
from tests.support import free_port, wait_for

pytestmark = pytest.mark.once  # the deployment files

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
COMPOSE_FOLDER = ROOT / "compose.folder.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SNIPPET = ROOT / "docs" / "nginx-autoconf.conf"
SNIPPET_S3 = ROOT / "docs" / "nginx-autoconf-s3.conf"
# The Debian packages the image installs, by a program each brings.
PROGRAMS = {"ffmpeg": "ffmpeg", "postgresql-client": "pg_dump"}


def compose_services(path: Path) -> dict[str, Any]:
    """The services of the compose file at `path`, once it passes the Compose
    specification's schema (check-jsonschema's copy)."""
    checker = Path(sys.executable).parent / "check-jsonschema"
    checked = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    services: dict[str, Any] = yaml.safe_load(path.read_text())["services"]
    return services


def assert_nginx_accepts(folder: Path, snippet: str) -> None:
    """`nginx -t` on `snippet` in an `http` block, with nginx's own files in `folder`."""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        f"events {{}}\nhttp {{\n{snippet}\n}}\n"
    )
    tested = subprocess.run(
        [NGINX, "-t", "-p", str(folder), "-c", str(conf)], capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stderr


def test_the_compose_file_follows_the_compose_specification() -> None:
    """compose.yaml: PostgreSQL, MinIO and its bucket, the app and the worker on the store
    (the same settings for both), nginx on the snippet that fetches from it."""
    services = compose_services(COMPOSE)
    assert set(services) == {"db", "minio", "minio-bucket", "app", "worker", "nginx"}
    assert services["app"]["command"][-2:] == ["--workers", "2"]
    assert services["worker"]["command"][:2] == ["autoconf", "worker"]
    for name in ("app", "worker"):
        environment = services[name]["environment"]
        assert environment["AUTOCONF_MEDIA_WORKERS"] == "0"
        assert "@db:5432/" in environment["AUTOCONF_DATABASE_URL"]
        assert environment["AUTOCONF_STORAGE_URL"].startswith("s3://")
        assert environment["AUTOCONF_S3_ENDPOINT_URL"].endswith("minio:9000}")
        assert environment["AUTOCONF_MEDIA_ACCEL_REDIRECT"] == "/_autoconf_store/"
        assert "AUTOCONF_MEDIA_PASS_SECRET" not in environment  # passes serve a folder
        assert "work:/data" in services[name]["volumes"]  # uploads reach the worker
        assert services[name]["depends_on"]["minio-bucket"]["condition"] == (
            "service_completed_successfully"
        )
    command = services["nginx"]["command"][-1]
    assert "nginx-autoconf-s3.conf" in command and "127.0.0.1:8000#app:8000" in command
    assert "STORE_URL#$${AUTOCONF_S3_ENDPOINT_URL}#" in command
    assert services["nginx"]["environment"]["AUTOCONF_S3_ENDPOINT_URL"].endswith("minio:9000}")
    assert "mc mb --ignore-existing" in services["minio-bucket"]["entrypoint"][-1]
    assert services["nginx"]["ports"] == ["${AUTOCONF_HTTP_PORT:-80}:80"]
    assert not {"ports"} & (services["app"].keys() | services["db"].keys())
    assert "ports" not in services["minio"]  # reached by the app and nginx only


def test_the_media_volume_variant_follows_the_specification() -> None:
    """compose.folder.yaml: no store, the media in a volume shared by the app, the worker
    and nginx (read-only there), nginx on the snippet that sends files on a pass."""
    services = compose_services(COMPOSE_FOLDER)
    assert set(services) == {"db", "app", "worker", "nginx"}
    for name in ("app", "worker"):
        environment = services[name]["environment"]
        assert "AUTOCONF_STORAGE_URL" not in environment
        assert environment["AUTOCONF_MEDIA_ACCEL_REDIRECT"] == "/_autoconf_media/"
        assert "media:/data" in services[name]["volumes"]
    assert "media:/data:ro" in services["nginx"]["volumes"]
    assert "ports" not in services["app"] and "ports" not in services["db"]


def test_the_object_storage_snippet_is_accepted_by_nginx(tmp_path: Path) -> None:
    # `minio` resolves in compose's network only.
    snippet = SNIPPET_S3.read_text().replace("STORE_URL", "http://127.0.0.1:9000")
    assert_nginx_accepts(tmp_path, snippet)


def test_the_nginx_of_the_volume_variant_gets_a_configuration_nginx_accepts(
    tmp_path: Path,
) -> None:
    """The compose nginx's `sed` fills the snippet's three placeholders; the result (with
    this machine's folders for nginx's own) passes `nginx -t`."""
    command = yaml.safe_load(COMPOSE_FOLDER.read_text())["services"]["nginx"]["command"][-1]
    replacements = re.findall(r'-e "s#([^#]+)#([^#]*)#g"', command)
    assert [old for old, _ in replacements] == ["DATA_DIR", "MEDIA_PASS_SECRET", "127.0.0.1:8000"]
    text = SNIPPET.read_text()
    values = {
        "DATA_DIR": str(tmp_path / "data"),
        "MEDIA_PASS_SECRET": "s" * 40,
        "127.0.0.1:8000": "127.0.0.1:8000",  # `app:8000` resolves in compose's network only
    }
    for old, new in replacements:
        assert old in text, f"the snippet lost its placeholder {old}"
        assert new == "/data" or "AUTOCONF_MEDIA_PASS_SECRET" in new or new == "app:8000"
        text = text.replace(old, values[old])
    text = text.replace("/run/nginx-autoconf", str(tmp_path / "grants"))
    assert_nginx_accepts(tmp_path, text)


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_dockerfile_s_commands_in_order_give_a_working_server(tmp_path: Path) -> None:
    """FROM: a new virtual environment of this Python 3.11; RUN apt-get: the packages' programs
    must be on the machine (`scripts/install` puts them there; apt is not run from a test);
    COPY into
    a bare folder; RUN pip: as written, in that environment, but with pip's cache (the same
    files, not downloaded again); RUN useradd, mkdir, chown: the image's user, checked to be
    none but root; ENV, WORKDIR, EXPOSE; then CMD started with /data as a folder of the test,
    and the HEALTHCHECK run against it."""
    work = tmp_path / "app"
    env_dir = tmp_path / "venv"
    data = tmp_path / "data"
    # pip's own cache (the wheels it already fetched and built), not the test's empty home.
    cache = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PIP_CACHE_DIR": cache,
    }
    user, command, health, base = None, None, None, None
    build_args: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "FROM":
            base = rest
            assert re.match(r"python:3\.11-slim-bookworm$", rest), rest
            venv.create(env_dir, with_pip=True)
        elif keyword == "WORKDIR":
            assert rest == "/app"
            work.mkdir()
        elif keyword == "COPY":
            *sources, target = shlex.split(rest)
            for source in sources:
                origin = ROOT / source
                destination = work / (origin.name if target.endswith("/") else target)
                if origin.is_dir():
                    skipped = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(origin, destination, ignore=skipped)
                else:
                    shutil.copy2(origin, destination)
        elif keyword == "RUN" and rest.startswith("apt-get"):
            packages = re.search(r"install -y --no-install-recommends ([^&]+)", rest)
            assert packages is not None, rest
            for package in packages.group(1).split():
                # What the package brings, on the machine (scripts/install installs it, or a
                # PostgreSQL server already brought pg_dump).
                program = PROGRAMS.get(package)
                assert program is not None, f"which program does {package} bring?"
                assert shutil.which(program), f"{program} ({package}) is not installed"
        elif keyword == "ARG":
            name, default = rest.split("=", 1)
            build_args[name] = default
        elif keyword == "RUN" and rest.startswith("pip install"):
            # As written, run by a shell as `docker build --build-arg AUTOCONF_EXTRAS=` would:
            # the optional extras (the speech model's libraries) are the test extra's already.
            done = subprocess.run(
                ["bash", "-c", rest.replace(" --no-cache-dir", "")],
                cwd=work, env={**env, **build_args, "AUTOCONF_EXTRAS": ""},
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        elif keyword == "RUN":
            assert rest.startswith("useradd --system --home /data autoconf"), rest
        elif keyword == "USER":
            user = rest
        elif keyword == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", rest):
                env[name] = str(data) if value == "/data" else value
        elif keyword == "HEALTHCHECK":
            health = rest.split(" CMD ", 1)[1]
        elif keyword == "CMD":
            command = [str(w) for w in yaml.safe_load(rest)]
        else:
            assert keyword in ("VOLUME", "EXPOSE"), keyword
    assert base is not None and user not in (None, "root", "0")
    # By default the image carries automatic transcription: an extra of pyproject.toml.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert build_args["AUTOCONF_EXTRAS"] == "transcribe" and "transcribe" in extras
    assert command is not None and health is not None
    assert command[:2] == ["autoconf", "serve"]
    port = free_port()
    command = [str(env_dir / "bin" / command[0]), *command[1:]]
    command = [w.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port)) for w in command]
    log = (tmp_path / "server.log").open("w")
    # Started from elsewhere than the copy: the installed package must hold its templates,
    # static files and migrations.
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(answers, 60, "the installed server, ready")
        assert (data / "autoconf.sqlite3").exists()  # migrated at start
        login = httpx.get(f"{url}/login")
        assert login.status_code == 200 and "autoconf" in login.text
        assert httpx.get(f"{url}/static/css/app.css").status_code == 200
        check = shlex.split(health.replace("8000", str(port)))
        check[0] = str(env_dir / "bin" / check[0])
        assert subprocess.run(check, env=env, timeout=10).returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
