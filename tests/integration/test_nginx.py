"""The shipped nginx snippet (docs/nginx-autoconf.conf) with a real nginx in front of a real
server: the app checks access, nginx sends the bytes (X-Accel-Redirect)."""

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from autoconf.media import passes
from tests.support import cli, free_port, researcher_token, serve, study_with_recording, wait_for

pytestmark = pytest.mark.once  # nginx and the media passes (the app on both passes elsewhere)

SNIPPET = Path(__file__).parents[2] / "docs" / "nginx-autoconf.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SECRET = "a-test-secret-for-media-passes-0123456789"
PASS_SECONDS = 12  # a pass lasts 11-12 s: well beyond the 1-2 s nginx keeps a check's "yes"


def nginx_conf(folder: Path, data_dir: Path, app_url: str, port: int, secret: str = SECRET) -> Path:
    """The documented snippet, with this test's data folder, app, port and pass secret,
    inside the smallest main configuration nginx needs to run in the foreground as this
    user."""
    server = SNIPPET.read_text()
    server = server.replace("DATA_DIR", str(data_dir)).replace("listen 80;", f"listen {port};")
    server = server.replace("127.0.0.1:8000", app_url.removeprefix("http://"))
    server = server.replace("/run/nginx-autoconf", str(folder / "media-grants"))
    server = server.replace("MEDIA_PASS_SECRET", secret)
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{server}
}}
"""
    )
    return conf


@pytest.fixture
def deployment(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The app and nginx with the snippet; the nginx secret is the app's, or what a test's
    `secret` mark gives (the placeholder left as it is)."""
    assert Path(NGINX).exists(), "nginx is required (scripts/install --test installs it)"
    mark = request.node.get_closest_marker("secret")
    secret = mark.args[0] if mark else SECRET
    data = tmp_path / "data"
    headers = researcher_token(data)
    env = {
        "AUTOCONF_MEDIA_ACCEL_REDIRECT": "/_autoconf_media/",
        "AUTOCONF_MEDIA_PASS_SECRET": SECRET,
        "AUTOCONF_MEDIA_PASS_SECONDS": str(PASS_SECONDS),
        "AUTOCONF_MEDIA_WORKERS": "1",
        "AUTOCONF_LOG_LEVEL": "info",  # the requests the app sees, in server.log
    }
    with serve(data, env) as app_url:
        port = free_port()
        conf = nginx_conf(tmp_path, data, app_url, port, secret)
        nginx = subprocess.Popen(
            [NGINX, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.PIPE, text=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(url) or nginx.poll() is not None, 10, "nginx to listen")
            assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
            yield url, headers, data
        finally:
            nginx.terminate()
            nginx.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_nginx_sends_the_media_after_the_app_allowed_it(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    url, headers, data = deployment
    _, recording_id = study_with_recording(url, headers)  # the upload goes through nginx too
    api = f"{url}/api/v1/recordings/{recording_id}"
    view = wait_for(
        lambda: (v := httpx.get(api, headers=headers).json())["status"] == "ready" and v,
        60,
        "the recording to be processed",
    )
    (proxy,) = (data / "media" / "recordings").glob("*/proxy.mp4")
    content = proxy.read_bytes()

    whole = httpx.get(f"{url}{view['media_url']}", headers=headers)
    assert whole.status_code == 200 and whole.content == content
    assert whole.headers["content-type"] == "video/mp4"
    assert "x-accel-redirect" not in whole.headers  # nginx consumed it
    part = httpx.get(f"{url}{view['media_url']}", headers={**headers, "Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == content[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(content)}"
    beyond = httpx.get(
        f"{url}{view['media_url']}", headers={**headers, "Range": f"bytes={len(content)}-"}
    )
    assert beyond.status_code == 416
    poster = httpx.get(f"{url}{view['poster_url']}", headers=headers)
    assert poster.status_code == 200 and poster.content[:3] == b"\xff\xd8\xff"

    # Without rights the app answers, and nginx never opens the file.
    assert httpx.get(f"{url}{view['media_url']}").status_code == 401
    key = proxy.relative_to(data / "media").as_posix()
    direct = httpx.get(f"{url}/_autoconf_media/{key}")  # the internal location is not public
    assert direct.status_code == 404 and direct.content != content


def _ready_recording(url: str, headers: dict[str, str], data: Path) -> tuple[int, int, bytes]:
    """A study with the demo recording, processed: (study, recording, its proxy's bytes)."""
    study_id, recording_id = study_with_recording(url, headers)
    api = f"{url}/api/v1/recordings/{recording_id}"
    wait_for(
        lambda: httpx.get(api, headers=headers).json()["status"] == "ready",
        60,
        "the recording to be processed",
    )
    (proxy,) = (data / "media" / "recordings").glob("*/proxy.mp4")
    return study_id, recording_id, proxy.read_bytes()


def _asked(data: Path, path: str) -> int:
    """How many requests for `path` the app has seen (its access log)."""
    return (data / "server.log").read_text().count(f"GET {path} ")


def test_nginx_keeps_an_api_tokens_yes_two_seconds_and_stops_when_consent_is_withdrawn(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """An API token gets no pass: nginx keeps the app's "yes" 2 s per credential and file,
    serving the Range requests meanwhile without asking the app; a consent withdrawn stops
    them within those 2 s, with the app's own refusal."""
    url, headers, data = deployment
    _, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"

    before = _asked(data, media)
    started = time.monotonic()
    for offset in range(0, 20_000, 1_000):
        ranged = {**headers, "Range": f"bytes={offset}-{offset + 999}"}
        part = httpx.get(f"{url}{media}", headers=ranged)
        assert part.status_code == 206 and part.content == content[offset : offset + 1000]
        assert part.headers["content-type"] == "video/mp4"
        assert "set-cookie" not in part.headers
    elapsed = time.monotonic() - started
    # The first request's check, then one each time the kept "yes" expired (every 2 s).
    assert 1 <= _asked(data, media) - before <= 2 + int(elapsed)
    # Another credential is checked on its own: no credential, the app's 401 in full.
    refused = httpx.get(f"{url}{media}", headers={"Range": "bytes=0-99"})
    assert refused.status_code == 401 and "detail" in refused.json()

    api = f"{url}/api/v1/recordings/{recording_id}"
    given = httpx.get(f"{api}/consents", headers=headers).json()[0]
    withdrawn = httpx.post(f"{url}/api/v1/consents/{given['id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text
    at = time.monotonic()

    def refusal() -> httpx.Response | None:
        answer = httpx.get(f"{url}{media}", headers={**headers, "Range": "bytes=0-99"})
        return answer if answer.status_code != 206 else None

    stopped = wait_for(refusal, 10, "the media to stop after the consent was withdrawn")
    assert time.monotonic() - at <= 4
    assert stopped.status_code == 403 and "consentement" in stopped.json()["detail"]


def _browser(url: str, data: Path, username: str) -> httpx.Client:
    """A client that keeps cookies as a browser does, logged in as a new account."""
    cli(data, "user", "add", username, "--role", "researcher", stdin="long-password\n")
    client = httpx.Client(base_url=url)
    logged = client.post(
        "/api/v1/auth/login", json={"username": username, "password": "long-password"}
    )
    assert logged.status_code == 200, logged.text
    return client


def test_a_browser_plays_on_its_media_pass_which_binds_file_recording_and_session(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """A browser allowed to play gets a pass with the file: nginx serves its next Range
    requests alone, with no request to the app; once the pass has expired, the app is asked
    again and gives a new one. A pass works only for its file, recording and session."""
    url, headers, data = deployment
    study_id, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"
    member = {"username": "marie", "role": "researcher"}
    marie = _browser(url, data, "marie")
    zoe = _browser(url, data, "zoe")  # not a member
    added = httpx.post(f"{url}/api/v1/studies/{study_id}/members", json=member, headers=headers)
    assert added.status_code == 201, added.text

    first = marie.get(media, headers={"Range": "bytes=0-999"})
    assert first.status_code == 206 and first.content == content[:1000]
    cookie = first.headers["set-cookie"].lower()
    assert f"path={media}" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    value = marie.cookies["autoconf_media"]
    key = value.split(".", 2)[2]
    assert key.startswith("recordings/") and key.endswith("/proxy.mp4")
    issued = time.monotonic()

    before = _asked(data, media)
    for offset in range(1_000, 200_000, 10_000):  # over 4 s: two kept "yes" would expire
        part = marie.get(media, headers={"Range": f"bytes={offset}-{offset + 9_999}"})
        assert part.status_code == 206 and part.content == content[offset : offset + 10_000]
        assert part.headers["content-type"] == "video/mp4"
        time.sleep(0.2)
    assert 4 <= time.monotonic() - issued < PASS_SECONDS - 1  # within the pass's time
    assert _asked(data, media) == before  # all twenty from nginx alone

    time.sleep(PASS_SECONDS)  # the pass has expired: the app is asked, and gives a new one
    again = marie.get(media, headers={"Range": "bytes=0-99"})
    assert again.status_code == 206 and again.content == content[:100]
    assert _asked(data, media) == before + 1
    assert marie.cookies["autoconf_media"] != value

    session = marie.cookies["autoconf_session"]
    fresh = marie.cookies["autoconf_media"]
    expires, signature, key = fresh.split(".", 2)
    poster = f"/api/v1/recordings/{recording_id}/poster"
    (poster_file,) = (data / "media" / "recordings").glob("*/poster.jpg")
    forged = [
        # another file, under the pass's signature: the app is asked, and sends the proxy
        (
            media,
            ".".join([expires, signature, key.rsplit("/", 1)[0] + "/poster.jpg"]),
            content[:100],
        ),
        # the pass on another of the recording's URLs: not the proxy, the poster
        (poster, fresh, poster_file.read_bytes()[:100]),
    ]
    for path, pass_value, expected in forged:
        cookies = {"autoconf_session": session, "autoconf_media": pass_value}
        answer = httpx.get(f"{url}{path}", headers={"Range": "bytes=0-99"}, cookies=cookies)
        assert answer.status_code == 206 and answer.content == expected

    # The pass without its login session: the app's refusal (401), never the bytes.
    alone = httpx.get(
        f"{url}{media}", headers={"Range": "bytes=0-99"}, cookies={"autoconf_media": fresh}
    )
    assert alone.status_code == 401
    # With someone else's session, who may not see the recording: the app's refusal.
    zoe.cookies.set("autoconf_media", fresh, path=media)
    stolen = zoe.get(media, headers={"Range": "bytes=0-99"})
    assert stolen.status_code in (403, 404) and stolen.content != content[:100]
    assert time.time() < int(expires) + 1  # the pass held all along: nginx refused it


def test_a_kept_yes_is_never_given_to_another_credential(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """nginx reads the first of two session cookies, the app the last: the check's kept
    answers are keyed on the whole Cookie header, so a "yes" to a request carrying a valid
    session behind an empty one is not the answer to a request with no cookie at all."""
    url, headers, data = deployment
    _, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"
    marie = _browser(url, data, "marie")
    session = marie.cookies["autoconf_session"]
    claire = httpx.post(
        f"{url}/api/v1/auth/login", json={"username": "claire", "password": "long-password"}
    )
    valid = claire.cookies["autoconf_session"]
    doubled = {"Cookie": f"autoconf_session=; autoconf_session={valid}", "Range": "bytes=0-99"}
    primed = httpx.get(f"{url}{media}", headers=doubled)
    assert primed.status_code == 206 and primed.content == content[:100]
    for cookie in ("", f"autoconf_session={session}"):  # nobody, then a non-member
        asked = {"Range": "bytes=0-99", **({"Cookie": cookie} if cookie else {})}
        answer = httpx.get(f"{url}{media}", headers=asked)
        assert answer.status_code in (401, 403, 404) and answer.content != content[:100]


@pytest.mark.parametrize("taken_back", ["member removed", "recording erased"])
def test_access_taken_back_stops_the_playback_within_the_pass_time(
    deployment: tuple[str, dict[str, str], Path], taken_back: str
) -> None:
    url, headers, data = deployment
    study_id, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"
    marie = _browser(url, data, "marie")
    member = {"username": "marie", "role": "researcher"}
    added = httpx.post(f"{url}/api/v1/studies/{study_id}/members", json=member, headers=headers)
    assert added.status_code == 201, added.text
    assert marie.get(media, headers={"Range": "bytes=0-99"}).status_code == 206
    assert "autoconf_media" in marie.cookies

    if taken_back == "member removed":
        user_id = added.json()["user_id"]
        done = httpx.delete(f"{url}/api/v1/studies/{study_id}/members/{user_id}", headers=headers)
        assert done.status_code == 200, done.text
    else:
        done = httpx.delete(f"{url}/api/v1/recordings/{recording_id}", headers=headers)
        assert done.status_code == 204, done.text
    at = time.monotonic()

    def refusal() -> httpx.Response | None:
        answer = marie.get(media, headers={"Range": "bytes=0-99"})
        return answer if answer.status_code != 206 else None

    stopped = wait_for(refusal, 15, f"the media to stop ({taken_back})")
    assert time.monotonic() - at <= PASS_SECONDS + 2
    assert stopped.status_code in (403, 404) and stopped.content != content[:100]


def test_chromium_plays_behind_nginx_on_the_pass_its_player_received(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """Debian's Chromium, through nginx: the player's answer brings the pass (a cookie set
    on a 206 for a <video>), the browser keeps it and sends it with its next Range requests,
    which nginx serves without asking the app."""
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, CONTEXT
    from tests.browser.test_player import PLAYS_FROM_THE_MIDDLE

    url, headers, data = deployment
    _, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**CONTEXT).new_page()
            page.goto(f"{url}/login")
            page.get_by_label("Nom d'utilisateur").fill("claire")
            page.get_by_label("Mot de passe").fill("long-password")
            page.get_by_role("button", name="Se connecter").click()
            expect(page).not_to_have_url(f"{url}/login")
            page.goto(f"{url}/recordings/{recording_id}")
            video = page.locator("video[data-player-media]")
            middle = video.evaluate(PLAYS_FROM_THE_MIDDLE)
            page.wait_for_function(
                "([el, from]) => el.currentTime > from + 0.3 && !el.error",
                arg=[video.element_handle(), middle],
                timeout=15_000,
            )
            kept = {c["name"]: c for c in page.context.cookies()}
            assert "autoconf_media" in kept, "the player's answer brought no pass"
            given = kept["autoconf_media"]
            assert given["path"] == media and given["httpOnly"] and given["sameSite"] == "Strict"

            expires = int(given["value"].split(".", 1)[0])  # nginx takes it until expires + 1
            before = _asked(data, media)
            for offset in range(0, 400_000, 20_000):  # over 4 s, as a player seeking on
                part = page.evaluate(
                    """async ([media, offset]) => {
                        const range = `bytes=${offset}-${offset + 999}`;
                        const asked = {headers: {Range: range}, cache: "no-store"};
                        const answer = await fetch(media, asked);
                        const bytes = new Uint8Array(await answer.arrayBuffer());
                        return [answer.status, Array.from(bytes)];
                    }""",
                    [media, offset],
                )
                assert part[0] == 206 and bytes(part[1]) == content[offset : offset + 1000]
                time.sleep(0.2)
            if time.time() < expires + 1:
                assert _asked(data, media) == before  # nginx alone, on the pass
            else:  # the pass expired meanwhile (a slow machine): the app gave a new one
                assert _asked(data, media) <= before + 2
        finally:
            browser.close()


def test_the_live_websocket_goes_through_nginx(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """The snippet passes the WebSocket upgrade on for live sessions."""
    import json

    from websockets.sync.client import connect

    url, headers, _ = deployment
    study_id, recording_id = study_with_recording(url, headers)
    interview = {"code": "E1", "recording_ids": [recording_id]}
    created = httpx.post(
        f"{url}/api/v1/studies/{study_id}/interviews", json=interview, headers=headers
    )
    assert created.status_code == 201, created.text
    live = httpx.post(f"{url}/api/v1/recordings/{recording_id}/live", headers=headers)
    assert live.status_code == 201, live.text
    socket_url = url.replace("http://", "ws://") + f"/api/v1/live/{live.json()['id']}/ws"
    with connect(socket_url, additional_headers=headers) as socket:
        state = json.loads(socket.recv(timeout=10))
        assert state["type"] == "state" and state["playing"] is False
        socket.send(json.dumps({"type": "seek", "position_ms": 5_000}))
        while (message := json.loads(socket.recv(timeout=10)))["type"] != "seek":
            pass
        assert message["position_ms"] == 5_000


def _block(config: str, opening: str) -> str:
    """The text between the braces of the first block whose opening matches `opening`."""
    found = re.search(opening + r"\s*\{", config)
    assert found, f"no {opening} in the snippet"
    depth, at = 1, found.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(config[at], 0)
        at += 1
    return config[found.end() : at - 1]


def test_the_media_check_keeps_sendfile_on_for_the_answer() -> None:
    """Entering a location sets sendfile for the whole connection: the access check, a
    subrequest made before the media answer, must have it on, or nginx copies every byte of
    the answer through its buffers (bench/streaming.py: 0.4-0.6 × nginx instead of 0.96)."""
    config = "\n".join(
        line.split("#", 1)[0] for line in SNIPPET.read_text(encoding="utf-8").splitlines()
    )
    media = _block(config, r"location\s+~\s+\S*recordings\S*")
    fallback = re.search(r"try_files\s+\S+\s+(@\S+);", media)
    assert fallback, "the media location has no location for requests without a pass"
    checked = _block(config, r"location\s+" + re.escape(fallback.group(1)))
    check = re.search(r"auth_request\s+(\S+);", checked)
    assert check, "the media location asks no access check"
    for body in (media, checked, _block(config, r"location\s+=\s*" + re.escape(check.group(1)))):
        assert re.search(r"^\s*sendfile\s+on\s*;", body, re.MULTILINE)


def test_the_snippet_sends_each_proxy_with_the_apps_content_type() -> None:
    """nginx names the content type by the file's extension: a sound-only recording's
    proxy (proxy.m4a) must go out as audio/mp4, as the app alone sends it."""
    from autoconf.api.media import MediaFiles

    config = "\n".join(
        line.split("#", 1)[0] for line in SNIPPET.read_text(encoding="utf-8").splitlines()
    )
    media = _block(config, r"location\s+~\s+\S*recordings\S*")
    checked = _block(config, r"location\s+@autoconf_media_checked")
    for kind, name in (("video", "proxy.mp4"), ("audio", "proxy.m4a")):  # media/proxy.py
        _, content_type = MediaFiles("A1", "ready", f"recordings/x/{name}", kind, {}).locate(
            "media"
        )
        extension = name.rsplit(".", 1)[1]
        for body in (media, checked):
            assert re.search(rf"^\s*{re.escape(content_type)}\s+{extension}\s*;", body, re.M)


@pytest.mark.secret("MEDIA_PASS_SECRET")
def test_with_the_secret_left_as_shipped_nginx_takes_no_pass(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """An administrator who forgot to replace MEDIA_PASS_SECRET must not leave passes
    anyone could sign with the snippet's placeholder: nginx then asks the app every time."""
    url, headers, data = deployment
    _, recording_id, content = _ready_recording(url, headers, data)
    media = f"/api/v1/recordings/{recording_id}/media"
    key = next((data / "media" / "recordings").glob("*/proxy.mp4")).relative_to(data / "media")
    expires = int(time.time()) + 60
    signature = passes.signature(expires, key.as_posix(), media, "x", "MEDIA_PASS_SECRET")
    forged = {"autoconf_session": "x", "autoconf_media": f"{expires}.{signature}.{key}"}
    answer = httpx.get(f"{url}{media}", headers={"Range": "bytes=0-99"}, cookies=forged)
    assert answer.status_code == 401 and answer.content != content[:100]
