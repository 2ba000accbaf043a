"""In Chromium: the pages work under their Content-Security-Policy (no violation reported on
any of them), and a page on another site cannot use the researcher's cookie."""

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_pages import _login
from tests.factories import DEMO_MEDIA
from tests.support import wait_for

RECORD_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${location.pathname}: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _watched(browser: Browser) -> tuple[BrowserContext, list[str]]:
    """A context under the pages' policy (not bypassed) whose violations, on any page it
    opens, land in the list."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    violations: list[str] = []
    context.expose_function("reportViolation", lambda text: violations.append(text))
    context.add_init_script(RECORD_VIOLATIONS)
    return context, violations


def _sign_in(page: Page, server: LiveServer) -> None:
    _login(page, server)
    expect(page).to_have_url(f"{server.url}/studies")


def test_every_page_works_under_its_policy(browser: Browser, live_server: LiveServer) -> None:
    context, violations = _watched(browser)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    _sign_in(page, live_server)
    api = f"{live_server.url}/api/v1"
    study = live_server.study_id
    recordings = page.request.get(f"{api}/studies/{study}/recordings").json()
    session = next(r["id"] for r in recordings if r["code"] == "A8 - 1")
    interview = page.request.get(f"{api}/studies/{study}/interviews").json()[0]["id"]
    paths = [
        "/studies",
        f"/studies/{study}",
        f"/studies/{study}/admin",
        f"/recordings/{session}",
        f"/recordings/{session}/preparation",
        f"/recordings/{session}/erase",
        f"/recordings/{session}/compare",
        f"/studies/{study}/agreement",
        f"/studies/{study}/synthesis",
        f"/interviews/{interview}/report",
        f"/studies/{study}/codebooks",
        "/account",
        "/live",
    ]
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.ok, path
        page.wait_for_load_state("networkidle")
        assert violations == [], path
    # The annotator's script ran (it draws the timeline and lists the annotations).
    page.goto(f"{live_server.url}/recordings/{session}")
    expect(page.locator("[data-list] li").first).to_be_visible()
    assert not [line for line in console if "Content Security Policy" in line], console
    # The watch itself: an inline script slipped into the page is blocked and reported.
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.ran = true"; document.body.append(s); }"""
    )
    for _ in range(50):  # the sync API hands the page's calls over while it waits
        if violations:
            break
        page.wait_for_timeout(100)
    assert violations[0].endswith("script-src-elem inline") and page.evaluate("!window.ran")
    context.close()


def test_the_main_flows_run_under_the_policy(browser: Browser, live_server: LiveServer) -> None:
    """Upload (hashed with WebAssembly, sent through tus), the annotator (a mark saved), a
    live session (its WebSocket): all under the policy, none of it reported."""
    context, violations = _watched(browser)
    page = context.new_page()
    _sign_in(page, live_server)
    api = f"{live_server.url}/api/v1"
    study = live_server.study_id

    page.goto(f"{live_server.url}/studies/{study}")
    page.get_by_text("Déposer un enregistrement").click()
    form = page.locator("form[data-tus-endpoint]")
    form.get_by_label("Code de la situation").fill("Z9 - 1")
    form.locator("input[type=file]").set_input_files(DEMO_MEDIA)
    form.get_by_role("button", name="Déposer").click()
    wait_for(
        lambda: any(
            r["code"] == "Z9 - 1"
            for r in page.request.get(f"{api}/studies/{study}/recordings").json()
        ),
        60,
        "the upload registered",
    )
    page.wait_for_timeout(300)  # reports reach Python while the sync API waits
    assert violations == []

    listed = page.request.get(f"{api}/studies/{study}/recordings").json()
    session = next(r["id"] for r in listed if r["code"] == "A8 - 1")
    before = len(page.request.get(f"{api}/recordings/{session}/annotations").json())
    page.goto(f"{live_server.url}/recordings/{session}")
    expect(page.locator("[data-list] li").first).to_be_visible()
    page.keyboard.press("m")
    expect(page.locator("[data-save-state]")).to_have_text("Tout est enregistré")
    wait_for(
        lambda: (
            len(page.request.get(f"{api}/recordings/{session}/annotations").json()) == before + 1
        ),
        10,
        "the mark saved",
    )
    page.wait_for_timeout(300)  # reports reach Python while the sync API waits
    assert violations == []

    page.get_by_role("button", name="Démarrer l'auto-confrontation en direct").click()
    expect(page.locator("[data-live-status]")).to_contain_text("Séance partagée")
    page.wait_for_timeout(300)  # reports reach Python while the sync API waits
    assert violations == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Terminer la séance").click()
    expect(page).to_have_url(re.compile(r"/interviews/\d+/report$"))
    page.wait_for_timeout(300)  # reports reach Python while the sync API waits
    assert violations == []
    context.close()


class _Trap(BaseHTTPRequestHandler):
    """Another site: its page posts the recording page's delete form as soon as it loads."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><html><body><h1>Un jeu gratuit</h1>"
            f'<form id="f" method="post" action="{self.target}"></form>'
            "<script>document.getElementById('f').submit()</script></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trap_site() -> Iterator[tuple[str, type[_Trap]]]:
    handler = type("Trap", (_Trap,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_page_elsewhere_cannot_delete_a_recording(
    browser: Browser, live_server: LiveServer, trap_site: tuple[str, type[_Trap]]
) -> None:
    """The attack of the issue, in a real browser: the trap is on another port of the same
    host, so SameSite=Lax still sends the session cookie with its POST; the origin check
    refuses it and the recording stays."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    page = context.new_page()
    _sign_in(page, live_server)
    api = f"{live_server.url}/api/v1"
    listed = page.request.get(f"{api}/studies/{live_server.study_id}/recordings").json()
    target = next(r["id"] for r in listed if r["code"] == "A8 - 1")
    trap_url, handler = trap_site
    handler.target = f"{live_server.url}/recordings/{target}/delete"
    page.goto(trap_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    expect(page.locator("main")).to_contain_text("vient d'un autre site")
    assert page.url == handler.target  # the browser did post, with its cookie
    assert page.request.get(f"{api}/recordings/{target}").status == 200
    context.close()
