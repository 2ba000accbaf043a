"""A real server (the README's `autoconf demo` + `autoconf serve`) and Debian's Chromium.

Playwright drives /usr/bin/chromium; no browser is ever downloaded. Nothing is skipped:
without Chromium these tests fail.
"""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from autoconf.auth.accounts import form_token
from tests.support import cli, copy_database, serve

CHROMIUM = os.environ.get("AUTOCONF_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Playwright's wait_for_function polls its predicate with eval, which the pages' policy
# forbids (script-src 'self'): the tests' contexts bypass the policy, and
# test_web_security.py runs the pages and their scripts under it.
CONTEXT: dict = {"viewport": {"width": 1366, "height": 768}, "locale": "fr-FR", "bypass_csp": True}


@dataclass(frozen=True)
class LiveServer:
    url: str
    username: str
    password: str
    study_id: int
    counsellor: str = ""
    counsellor_password: str = ""


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The README's demo, loaded once per test process (its media processed by ffmpeg: a few
    seconds); what `autoconf demo` printed, as label -> value."""
    data = tmp_path_factory.mktemp("demo")
    printed = cli(data, "demo")
    lines = dict(line.strip().split(" : ", 1) for line in printed.splitlines() if " : " in line)
    return data, lines


def copy_of(demo: tuple[Path, dict[str, str]], folder: Path) -> Path:
    """A data folder of its own (`folder/data`), a copy of the demo's; a server started on
    it changes only the copy."""
    data = folder / "data"
    shutil.copytree(demo[0], data)
    copy_database(demo[0], data)  # on the PostgreSQL pass: its database too
    return data


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, demo_folder: tuple[Path, dict[str, str]]
) -> Iterator[LiveServer]:
    """A server of its own for each test module, on a copy of the demo's data folder."""
    lines = demo_folder[1]
    data = copy_of(demo_folder, tmp_path_factory.mktemp("live"))
    with serve(data) as url:
        yield LiveServer(
            url,
            lines["Identifiant"],
            lines["Mot de passe"],
            int(lines["Étude"].rsplit("/", 1)[1]),
            lines["Identifiant conseillère"],
            lines["Mot de passe conseillère"],
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"Debian's chromium is required at {CHROMIUM}"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**CONTEXT)
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a test leaves its screenshots (AUTOCONF_SCREENSHOTS to keep them)."""
    folder = Path(os.environ.get("AUTOCONF_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def form_headers(owner: Page | BrowserContext) -> dict[str, str]:
    """What the pages' scripts send beside the session cookie on a request that changes
    something (for the tests' own calls through the browser's `request`)."""
    context = owner.context if isinstance(owner, Page) else owner
    cookie = next(c["value"] for c in context.cookies() if c["name"] == "autoconf_session")
    return {"X-CSRF-Token": form_token(cookie)}
