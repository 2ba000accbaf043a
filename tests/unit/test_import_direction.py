"""Imports point one way: api -> services -> domain. The domain knows nothing of HTTP."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "autoconf"
HTTP = ("fastapi", "starlette", "autoconf.api", "autoconf.app", "uvicorn", "jinja2")
# Everything but the HTTP layer and the two entry points that wire it.
DOMAIN = [
    path
    for path in PACKAGE.rglob("*.py")
    if "api" not in path.relative_to(PACKAGE).parts[:1] and path.name not in ("app.py", "cli.py")
]


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_domain_and_media_never_import_http() -> None:
    assert any(p.parent.name == "schemes" for p in DOMAIN)
    assert any(p.parent.name == "media" for p in DOMAIN)
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in HTTP or m.startswith(HTTP)
        )
        for path in DOMAIN
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_a_bad_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from fastapi import Request\nimport autoconf.api.deps\n")
    assert {"fastapi", "autoconf.api.deps"} <= imported_modules(bad)


# The services that compose the domain (live sessions, exchanges with other tools, study
# archives) sit above it: the vocabulary, media, consent, sign-in and audit layers never
# import them.
SERVICES = ("autoconf.live", "autoconf.interop", "autoconf.archive")
BELOW_SERVICES = ("schemes", "media", "consent", "auth", "audit")


def test_the_lower_domain_never_imports_the_services_above_it() -> None:
    below = [
        path
        for path in DOMAIN
        if path.relative_to(PACKAGE).parts[0] in BELOW_SERVICES
        or path.name in ("models.py", "db.py", "errors.py", "payloads.py")
    ]
    assert any(p.parent.name == "schemes" for p in below)
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if m.startswith(SERVICES)
        )
        for path in below
    }
    assert {k: v for k, v in offenders.items() if v} == {}
