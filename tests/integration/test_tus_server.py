"""Resumable uploads against a real server: a client that retries while its first PATCH is
still streaming gets an answer at once, and the server stays responsive."""

import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support import researcher_token, serve, start_server, stop_server

TUS = {"Tus-Resumable": "1.0.0"}


def b64(value: object) -> str:
    return base64.b64encode(str(value).encode()).decode()


@pytest.mark.parametrize("retried_on", ["the same process", "another process"])
def test_a_second_patch_of_a_busy_upload_is_refused_at_once(
    tmp_path: Path, retried_on: str
) -> None:
    data = tmp_path / "data"
    headers = researcher_token(data)
    env = {"AUTOCONF_MEDIA_WORKERS": "0"}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(serve(data, env))
        other = url
        if retried_on == "another process":  # the same data, another `autoconf serve`
            second = start_server(data, env, log_name="server-2.log")
            stack.callback(stop_server, second)
            other = second.url
        study = httpx.post(f"{url}/api/v1/studies", json={"name": "S"}, headers=headers).json()
        meta = f"study_id {b64(study['id'])},code {b64('A1')},filename {b64('a.mp4')}"
        created = httpx.post(
            f"{url}/api/v1/uploads/",
            headers={**headers, **TUS, "Upload-Length": "1000000", "Upload-Metadata": meta},
        )
        assert created.status_code == 201, created.text
        location = created.headers["location"]
        patch_headers = {
            **headers,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        }

        def slow() -> Iterator[bytes]:  # a phone on a bad network
            for _ in range(20):
                yield b"x" * 1000
                time.sleep(0.1)

        first: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: first.append(
                httpx.patch(
                    location,
                    content=slow(),
                    headers={**patch_headers, "Content-Length": "20000"},
                    timeout=30,
                )
            )
        )
        sender.start()
        time.sleep(0.5)
        started = time.monotonic()
        again = location.replace(url, other)
        retry = httpx.patch(again, content=b"y" * 10, headers=patch_headers, timeout=30)
        assert retry.status_code == 423, retry.text
        assert "envoie encore ce fichier" in retry.json()["detail"]
        health = httpx.get(f"{other}/api/v1/health", timeout=5)
        assert health.status_code == 200 and time.monotonic() - started < 2
        sender.join(30)
        assert first[0].status_code == 204 and first[0].headers["upload-offset"] == "20000"
