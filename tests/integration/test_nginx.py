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

from tests.support import free_port, researcher_token, serve, study_with_recording, wait_for

SNIPPET = Path(__file__).parents[2] / "docs" / "nginx-autoconf.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_conf(folder: Path, data_dir: Path, app_url: str, port: int) -> Path:
    """The documented snippet, with this test's data folder, app and port, inside the
    smallest main configuration nginx needs to run in the foreground as this user."""
    server = SNIPPET.read_text()
    server = server.replace("DATA_DIR", str(data_dir)).replace("listen 80;", f"listen {port};")
    server = server.replace("127.0.0.1:8000", app_url.removeprefix("http://"))
    server = server.replace("/run/nginx-autoconf", str(folder / "media-grants"))
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
def deployment(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    assert Path(NGINX).exists(), "nginx is required (scripts/install --test installs it)"
    data = tmp_path / "data"
    headers = researcher_token(data)
    env = {
        "AUTOCONF_MEDIA_ACCEL_REDIRECT": "/_autoconf_media/",
        "AUTOCONF_MEDIA_WORKERS": "1",
        "AUTOCONF_LOG_LEVEL": "info",  # the requests the app sees, in server.log
    }
    with serve(data, env) as app_url:
        port = free_port()
        conf = nginx_conf(tmp_path, data, app_url, port)
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


def test_nginx_serves_a_players_ranges_alone_and_stops_when_consent_is_withdrawn(
    deployment: tuple[str, dict[str, str], Path],
) -> None:
    """The app's "yes" is kept 5 s per credential and file: a player's Range requests are
    served by nginx without a request to the app; a consent withdrawn stops them within
    those 5 s, with the app's own refusal."""
    url, headers, data = deployment
    _, recording_id = study_with_recording(url, headers)
    api = f"{url}/api/v1/recordings/{recording_id}"
    wait_for(
        lambda: httpx.get(api, headers=headers).json()["status"] == "ready",
        60,
        "the recording to be processed",
    )
    (proxy,) = (data / "media" / "recordings").glob("*/proxy.mp4")
    content = proxy.read_bytes()
    log = data / "server.log"

    def asked() -> int:  # the media requests the app has seen
        return log.read_text().count(f"GET /api/v1/recordings/{recording_id}/media ")

    before = asked()
    started = time.monotonic()
    for offset in range(0, 20_000, 1_000):
        ranged = {**headers, "Range": f"bytes={offset}-{offset + 999}"}
        part = httpx.get(f"{api}/media", headers=ranged)
        assert part.status_code == 206 and part.content == content[offset : offset + 1000]
        assert part.headers["content-type"] == "video/mp4"
    assert time.monotonic() - started < 5
    assert asked() - before == 1  # the first request's check; the other 19 from nginx alone
    # Another credential is checked on its own: no credential, the app's 401 in full.
    refused = httpx.get(f"{api}/media", headers={"Range": "bytes=0-99"})
    assert refused.status_code == 401 and "detail" in refused.json()

    given = httpx.get(f"{api}/consents", headers=headers).json()[0]
    withdrawn = httpx.post(f"{url}/api/v1/consents/{given['id']}/withdraw", headers=headers)
    assert withdrawn.status_code == 200, withdrawn.text
    at = time.monotonic()

    def refusal() -> httpx.Response | None:
        answer = httpx.get(f"{api}/media", headers={**headers, "Range": "bytes=0-99"})
        return answer if answer.status_code != 206 else None

    stopped = wait_for(refusal, 10, "the media to stop after the consent was withdrawn")
    assert time.monotonic() - at <= 6
    assert stopped.status_code == 403 and "consentement" in stopped.json()["detail"]


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
    check = re.search(r"auth_request\s+(\S+);", media)
    assert check, "the media location asks no access check"
    for body in (media, _block(config, r"location\s+=\s*" + re.escape(check.group(1)))):
        assert re.search(r"^\s*sendfile\s+on\s*;", body, re.MULTILINE)
