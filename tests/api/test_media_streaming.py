"""Media delivery: HTTP Range answers checked byte for byte, access control, X-Accel-Redirect."""

import os
import re
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.api.media import MediaFiles, MediaGrants
from autoconf.media import passes
from autoconf.settings import Settings
from tests import factories

# Once (the SQLite pass): HTTP Range answers and media passes, byte for byte; the access
# checks behind them run on both passes in test_consents, test_confidentiality and the fuzz.
pytestmark = pytest.mark.once


@pytest.fixture
def ready(rclient: TestClient, engine: Engine, settings: Settings, study: dict) -> dict:
    recording = factories.processed(rclient, engine, settings, study["id"])
    assert recording["status"] == "ready", recording["error"]
    return recording


def proxy_bytes(settings: Settings) -> bytes:
    (proxy,) = (settings.media_dir / "recordings").glob("*/proxy.mp4")
    return proxy.read_bytes()


def test_whole_file_and_head(rclient: TestClient, ready: dict, settings: Settings) -> None:
    data = proxy_bytes(settings)
    whole = rclient.get(ready["media_url"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    head = rclient.head(ready["media_url"])
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(data)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-0", (0, 1)),
        ("bytes=1000-1048575", (1000, 1048576)),  # a 1 MiB seek
        ("bytes=100-1300000", (100, 1300001)),  # more than one 1 MiB chunk
        ("bytes=-500", (-500, None)),  # the last 500 bytes (where a moov-at-end file looks)
        ("bytes=1048576-", (1048576, None)),
    ],
)
def test_single_ranges(
    rclient: TestClient, ready: dict, settings: Settings, header: str, span: tuple
) -> None:
    data = proxy_bytes(settings)
    expected = data[span[0] : span[1]]
    response = rclient.get(ready["media_url"], headers={"Range": header})
    assert response.status_code == 206
    assert response.content == expected
    start = span[0] % len(data)
    assert response.headers["content-range"] == (
        f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    )


def test_multiple_ranges(rclient: TestClient, ready: dict, settings: Settings) -> None:
    data = proxy_bytes(settings)
    response = rclient.get(ready["media_url"], headers={"Range": "bytes=0-99,5000-5999"})
    assert response.status_code == 206
    kind, _, boundary = response.headers["content-type"].partition("; boundary=")
    assert kind == "multipart/byteranges"
    parts = [p for p in response.content.split(b"--" + boundary.encode()) if b"\r\n\r\n" in p]
    bodies = {}
    for part in parts:
        head, _, body = part.partition(b"\r\n\r\n")
        match = re.search(rb"Content-Range: bytes (\d+)-(\d+)/(\d+)", head, re.IGNORECASE)
        assert match, head
        start, end = int(match[1]), int(match[2])
        bodies[(start, end)] = body[: end - start + 1]
    assert bodies == {(0, 99): data[0:100], (5000, 5999): data[5000:6000]}


def test_if_range_and_unsatisfiable(rclient: TestClient, ready: dict, settings: Settings) -> None:
    data = proxy_bytes(settings)
    etag = rclient.head(ready["media_url"]).headers["etag"]
    same = rclient.get(ready["media_url"], headers={"Range": "bytes=10-19", "If-Range": etag})
    assert same.status_code == 206 and same.content == data[10:20]
    changed = rclient.get(
        ready["media_url"], headers={"Range": "bytes=10-19", "If-Range": '"another"'}
    )
    assert changed.status_code == 200 and changed.content == data
    beyond = rclient.get(ready["media_url"], headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_hostile_range_headers_get_the_whole_file_or_416(
    rclient: TestClient, ready: dict, settings: Settings
) -> None:
    """Never a 400 in English nor a multipart of thousands of parts: a Range the server cannot
    read is ignored (RFC 9110), too many ranges give the whole file, a start past the end 416."""
    data = proxy_bytes(settings)
    many = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 5}" for i in range(5000))
    overlapping = "bytes=" + ",".join("0-100000" for _ in range(2000))
    for header in (many, overlapping, "bytes=500-100", "bytes=a-b", "items=0-10", "bytes=", "="):
        answer = rclient.get(ready["media_url"], headers={"Range": header})
        assert answer.status_code == 200, header[:40]
        assert answer.content == data and answer.headers["content-type"] == "video/mp4"
    absurd_end = rclient.get(ready["media_url"], headers={"Range": f"bytes=0-{'9' * 30}"})
    assert absurd_end.status_code == 206 and absurd_end.content == data
    huge_suffix = rclient.get(ready["media_url"], headers={"Range": f"bytes=-{'9' * 30}"})
    assert huge_suffix.status_code == 206 and huge_suffix.content == data
    absurd_start = rclient.get(ready["media_url"], headers={"Range": f"bytes={'9' * 30}-"})
    assert absurd_start.status_code == 416
    assert absurd_start.headers["content-range"] == f"bytes */{len(data)}"


def test_media_needs_the_right_to_see_the_recording(
    rclient: TestClient, engine: Engine, ready: dict, study: dict
) -> None:
    urls = [ready[k] for k in ("media_url", "poster_url", "waveform_url", "thumbnails_url")]
    # A counsellor of the study sees only their own recordings; this one is not theirs.
    counsellor, _ = factories.counsellor_member(engine, rclient, study["id"], "bea", "A9")
    outsider = factories.account(engine, "zoe", "researcher")
    rclient.cookies.clear()
    for url in urls:
        assert rclient.get(url).status_code == 401, url
        assert rclient.head(url).status_code == 401, url
    for who in (counsellor, outsider):
        factories.login(rclient, who)
        for url in urls:
            assert rclient.get(url).status_code == 404, (who.username, url)  # unknown to them
        assert rclient.get("/api/v1/recordings/999/media").status_code == 404
        rclient.cookies.clear()


def test_not_ready_answers_409_in_french(
    rclient: TestClient, study: dict, settings: Settings
) -> None:
    queued = factories.upload(rclient, study["id"], "A2").json()
    factories.consent_all(rclient, queued["id"])  # else 403 first: the consent is missing
    response = rclient.get(f"/api/v1/recordings/{queued['id']}/media")
    assert response.status_code == 409
    assert "pas encore prêt" in response.json()["detail"]
    assert queued["media_url"] is None and queued["stage"] == "En attente de traitement"


def test_audio_only_has_no_picture(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    audio = Path(__file__).parents[1] / "data" / "variants" / "audio.mp3"
    recording = factories.processed(rclient, engine, settings, study["id"], "A3", audio)
    assert recording["kind"] == "audio" and recording["poster_url"] is None
    base = f"/api/v1/recordings/{recording['id']}"
    assert rclient.get(f"{base}/media").headers["content-type"] == "audio/mp4"
    poster = rclient.get(f"{base}/poster")
    assert poster.status_code == 404 and "audio" in poster.json()["detail"]


def test_accel_redirect_hands_the_bytes_to_nginx(
    app: FastAPI, rclient: TestClient, ready: dict, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"media_accel_redirect": "/_media/"})
    response = rclient.get(ready["media_url"], headers={"Range": "bytes=0-99"})
    assert response.status_code == 200 and response.content == b""
    (proxy,) = (settings.media_dir / "recordings").glob("*/proxy.mp4")
    key = proxy.relative_to(settings.media_dir).as_posix()
    assert response.headers["x-accel-redirect"] == f"/_media/{key}"
    assert response.headers["content-type"] == "video/mp4"
    rclient.cookies.clear()
    assert "x-accel-redirect" not in rclient.get(ready["media_url"]).headers


def test_behind_nginx_a_browser_gets_a_media_pass_for_the_proxy_only(
    app: FastAPI,
    rclient: TestClient,
    engine: Engine,
    researcher: factories.Account,
    ready: dict,
    settings: Settings,
) -> None:
    """The pass nginx checks (autoconf.media.passes): for a login session's proxy answer,
    first and granted requests alike; not for an API token, the poster, or without a secret."""
    secret = "s" * 40
    app.state.settings = settings.model_copy(
        update={"media_accel_redirect": "/_media/", "media_pass_secret": secret}
    )
    session = rclient.cookies["autoconf_session"]
    (proxy,) = (settings.media_dir / "recordings").glob("*/proxy.mp4")
    key = proxy.relative_to(settings.media_dir).as_posix()
    for _ in range(2):  # the check, then the granted fast path
        answer = rclient.get(ready["media_url"], headers={"Range": "bytes=0-99"})
        assert answer.status_code == 200 and answer.headers["x-accel-redirect"] == f"/_media/{key}"
        header = answer.headers["set-cookie"]
        value = re.match(r"autoconf_media=([^;]+); ", header)[1]  # type: ignore[index]
        assert '"' not in value  # as nginx reads it: no quotes
        assert f"Max-Age=5; Path={ready['media_url']}; HttpOnly; SameSite=strict" in header
        assert passes.valid(value, ready["media_url"], session, secret, time.time()) == key
        assert passes.valid(value, ready["media_url"], "another", secret, time.time()) is None
        assert passes.valid(value, ready["poster_url"], session, secret, time.time()) is None
        assert passes.valid(value, ready["media_url"], session, secret, time.time() + 5) is None
    assert "set-cookie" not in rclient.get(ready["poster_url"]).headers

    token = factories.token(engine, researcher)
    rclient.cookies.clear()
    bearer = rclient.get(ready["media_url"], headers=token)
    assert bearer.headers["x-accel-redirect"] and "set-cookie" not in bearer.headers

    app.state.settings = settings.model_copy(update={"media_accel_redirect": "/_media/"})
    rclient.cookies["autoconf_session"] = session
    assert "set-cookie" not in rclient.get(ready["media_url"]).headers


def test_a_granted_player_skips_the_checks_but_nobody_else_does(
    app: FastAPI, rclient: TestClient, engine: Engine, ready: dict, settings: Settings
) -> None:
    grants = app.state.media_grants
    cookie = f"session:{rclient.cookies.get('autoconf_session')}"
    assert grants.get(cookie, ready["id"]) is None
    data = proxy_bytes(settings)
    for start in (0, 5000, len(data) - 100):  # the first answer grants, the next use it
        part = rclient.get(ready["media_url"], headers={"Range": f"bytes={start}-{start + 99}"})
        assert part.status_code == 206 and part.content == data[start : start + 100]
    assert grants.get(cookie, ready["id"]) is not None
    assert rclient.get(ready["poster_url"]).content[:3] == b"\xff\xd8\xff"

    outsider = factories.account(engine, "zoe", "researcher")
    granted = dict(rclient.cookies)
    rclient.cookies.clear()  # another browser (a login here would end the granted session)
    factories.login(rclient, outsider)
    assert rclient.get(ready["media_url"]).status_code == 404
    rclient.cookies.clear()
    assert rclient.get(ready["media_url"]).status_code == 401

    rclient.cookies.update(granted)
    assert rclient.post(f"/api/v1/recordings/{ready['id']}/retry").status_code == 202
    assert grants.get(cookie, ready["id"]) is None  # processed again: asked again
    assert rclient.get(ready["media_url"]).status_code == 409
    assert rclient.delete(f"/api/v1/recordings/{ready['id']}").status_code == 204
    assert grants.get(cookie, ready["id"]) is None  # forgotten with the recording
    assert rclient.get(ready["media_url"]).status_code == 404


def test_grants_expire() -> None:
    grants = MediaGrants(ttl_s=0.05)
    files = MediaFiles("A1", "ready", "recordings/x/proxy.mp4", "video", {})
    grants.remember("session:abc", 7, files)
    grants.remember("session:abc", 8, MediaFiles("A2", "processing", "", "video", {}))
    grants.remember(None, 9, files)
    assert grants.get("session:abc", 7) == files
    assert grants.get("session:abc", 8) is None and grants.get(None, 9) is None
    time.sleep(0.06)
    assert grants.get("session:abc", 7) is None


def test_logging_out_ends_media_access_at_once(
    app: FastAPI, rclient: TestClient, ready: dict
) -> None:
    cookie = rclient.cookies.get("autoconf_session")
    assert rclient.get(ready["media_url"]).status_code == 200
    assert app.state.media_grants.get(f"session:{cookie}", ready["id"]) is not None
    assert rclient.post("/api/v1/auth/logout").status_code == 204
    rclient.cookies.set("autoconf_session", cookie)  # a copy kept by someone
    assert rclient.get(ready["media_url"]).status_code == 401


def test_a_proxy_replaced_while_it_streams_is_not_mixed_into_the_answer(tmp_path: Path) -> None:
    """Processed again while a player reads it: the answer stays the file it began with."""
    import anyio

    from autoconf.api.media import MediaFile

    path = tmp_path / "proxy.mp4"
    path.write_bytes(b"a" * 3000)
    sent: list[bytes] = []

    async def main() -> None:
        answer = MediaFile(path, stat_result=path.stat())
        answer.chunk_size = 1000

        async def receive() -> dict:
            await anyio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                sent.append(message["body"])
                if len(sent) == 1:  # the new proxy moved in by rename, as jobs do
                    fresh = tmp_path / "fresh.mp4"
                    fresh.write_bytes(b"b" * 3000)
                    fresh.replace(path)

        scope = {
            "type": "http",
            "method": "GET",
            "headers": [(b"range", b"bytes=0-2999")],
        }
        await answer(scope, receive, send)

    anyio.run(main)
    assert b"".join(sent) == b"a" * 3000


def test_a_long_answer_stops_when_the_player_goes_a_one_part_answer_needs_no_watch(
    tmp_path: Path,
) -> None:
    """A player that seeks closes its connection: an answer of many parts stops reading
    (the client's disconnection is watched beside it); an answer of one part is one send,
    with no watcher."""
    import anyio

    from autoconf.api.media import MediaFile

    path = tmp_path / "proxy.mp4"
    path.write_bytes(os.urandom(10_000))

    async def answer(range_header: bytes) -> tuple[int, int]:
        """(bytes sent, times the client's side was listened to)"""
        response = MediaFile(path, stat_result=path.stat())
        response.chunk_size = 1000
        sent, listened = [0], [0]
        gone = anyio.Event()

        async def receive() -> dict:
            listened[0] += 1
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                sent[0] += len(message["body"])
                if sent[0] >= 3000:
                    gone.set()  # the player seeks elsewhere after three parts
                await anyio.sleep(0)

        scope = {"type": "http", "method": "GET", "headers": [(b"range", range_header)]}
        await response(scope, receive, send)
        return sent[0], listened[0]

    long_sent, long_listened = anyio.run(answer, b"bytes=0-")
    assert long_listened == 1 and 3000 <= long_sent < 10_000
    assert anyio.run(answer, b"bytes=500-1499") == (1000, 0)
