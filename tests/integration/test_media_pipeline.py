"""Every kind of file recorders and phones produce goes upload → ready (or → failed with a
message a researcher understands), with real ffmpeg; the proxy is checked with ffprobe."""

import html
import subprocess
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from autoconf.media import derived, jobs
from autoconf.media.probe import probe
from autoconf.media.runner import MediaError
from autoconf.settings import Settings
from tests import factories
from tests.mediafiles import (
    BROKEN,
    VARIANTS,
    duration_s,
    ffprobe,
    make_media,
    make_testsrc,
    packet_hash,
    rotated_copy,
    streams,
    top_level_boxes,
)

pytestmark = pytest.mark.once  # ffmpeg's outputs (jobs on both passes: test_media_jobs.py)

PLAYABLE = sorted(p.name for p in VARIANTS.iterdir() if p.name not in BROKEN)
# Already what every browser plays: the proxy must be a copy of the packets, not a re-encode.
REMUXED = {"h264-aac-moov-at-end.mp4": ("v:0", "a:0"), "portrait-phone.mp4": ("v:0", "a:0")}
REMUXED |= {"no-audio.mp4": ("v:0",), "audio.m4a": ("a:0",)}
# Only the stream that needs it is re-encoded.
PARTLY = {"hevc-aac.mov": "a:0"}


def process(
    client: TestClient, engine: Engine, settings: Settings, study_id: int, path: Path
) -> dict:
    response = factories.upload(client, study_id, path.stem, path.read_bytes(), filename=path.name)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    jobs.run_until_idle(engine, settings)
    factories.consent_all(client, response.json()["id"])  # it plays
    result: dict = client.get(f"/api/v1/recordings/{response.json()['id']}").json()
    return result


def proxy_path(settings: Settings) -> Path:
    """The one proxy of the test's one recording."""
    found = list((settings.media_dir / "recordings").glob("*/proxy.m*"))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", PLAYABLE)
def test_playable_files_get_a_browser_ready_proxy(
    name: str, rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    source = VARIANTS / name
    recording = process(rclient, engine, settings, study["id"], source)
    assert recording["status"] == "ready", recording["error"]
    assert recording["error"] is None and recording["progress"] is None
    proxy = proxy_path(settings)
    original_streams = ffprobe(source)["streams"]
    has_video = any(
        s["codec_type"] == "video" and not s.get("disposition", {}).get("attached_pic")
        for s in original_streams
    )
    has_audio = any(s["codec_type"] == "audio" for s in original_streams)

    assert recording["kind"] == ("video" if has_video else "audio")
    assert proxy.name == ("proxy.mp4" if has_video else "proxy.m4a")
    assert top_level_boxes(proxy).index("moov") < top_level_boxes(proxy).index("mdat")
    assert abs(duration_s(proxy) - duration_s(source)) <= 0.1
    assert recording["duration_ms"] == pytest.approx(duration_s(source) * 1000, abs=100)
    video = streams(proxy, "video")
    audio = streams(proxy, "audio")
    assert [s["codec_name"] for s in audio] == (["aac"] if has_audio else [])
    if has_video:
        assert [(s["codec_name"], s["pix_fmt"]) for s in video] == [("h264", "yuv420p")]
    else:
        assert video == []

    copied = REMUXED.get(name, ())
    assert recording["media"]["proxy"]["remux_only"] == (name in REMUXED)
    for selector in copied:
        assert packet_hash(proxy, selector) == packet_hash(source, selector), selector
    if name in PARTLY:
        selector = PARTLY[name]
        assert packet_hash(proxy, selector) == packet_hash(source, selector)
        assert packet_hash(proxy, "v:0") != packet_hash(source, "v:0")

    # The derived files are served and hold what they say.
    files = {"poster_url": has_video, "thumbnails_url": has_video, "waveform_url": has_audio}
    for key, expected in files.items():
        assert (recording[key] is not None) == expected, key
    if has_audio:
        waveform = rclient.get(recording["waveform_url"])
        assert waveform.status_code == 200
        rate, per_pair, pairs = derived.read_waveform(waveform.content)
        assert len(pairs) == pytest.approx(duration_s(source) * rate / per_pair, abs=2)
        assert pairs.max() > 10  # the sound is there, not silence
    if has_video:
        poster = rclient.get(recording["poster_url"])
        assert poster.headers["content-type"] == "image/jpeg"
        assert poster.content[:3] == b"\xff\xd8\xff"
        track = rclient.get(recording["thumbnails_url"])
        assert track.status_code == 200 and track.text.startswith("WEBVTT")
        first = track.text.split("\n\n")[1].splitlines()
        assert first[0].startswith("00:00:00.000 --> ")
        sprite = rclient.get(f"/api/v1/recordings/{recording['id']}/{first[1].split('#')[0]}")
        assert sprite.status_code == 200 and sprite.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("empty.mp4", "vide"),
        ("not-media.mp4", "n'est pas un fichier audio ou vidéo"),
        ("truncated.mp4", "incomplet"),
    ],
)
def test_broken_files_fail_with_a_clear_message(
    name: str, words: str, rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    recording = process(rclient, engine, settings, study["id"], VARIANTS / name)
    assert recording["status"] == "failed"
    assert words in recording["error"]
    assert "Traceback" not in recording["error"] and "ffmpeg" not in recording["error"]
    assert rclient.get(f"/api/v1/recordings/{recording['id']}/media").status_code == 409
    page = rclient.get(f"/recordings/{recording['id']}")
    assert page.status_code == 200 and words in html.unescape(page.text)
    # The server is fine: the next file goes through.
    good = process(rclient, engine, settings, study["id"], VARIANTS / "audio.m4a")
    assert good["status"] == "ready"


def test_a_file_cut_in_its_data_fails_as_truncated(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    whole = make_testsrc(tmp_path / "whole.mp4", 6, "640x360", "-movflags", "+faststart")
    cut = tmp_path / "coupé.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    recording = process(rclient, engine, settings, study["id"], cut)
    assert recording["status"] == "failed"
    assert "tronqué" in recording["error"] and "coupé.mp4" not in recording["error"]


def test_rotation_is_applied(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    flat = make_testsrc(tmp_path / "flat.mp4", 3, "640x360", "-c:v", "libx264", "-c:a", "aac")
    turned = tmp_path / "phone.mp4"
    rotated_copy(flat, turned)
    assert streams(turned, "video")[0]["side_data_list"][0]["rotation"] in (90, -90)
    recording = process(rclient, engine, settings, study["id"], turned)
    assert recording["status"] == "ready", recording["error"]
    proxy = proxy_path(settings)
    video = streams(proxy, "video")[0]
    assert (video["width"], video["height"]) == (360, 640)  # upright, no matrix left to obey
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    assert packet_hash(proxy, "a:0") == packet_hash(turned, "a:0")  # the sound was copied


def test_large_video_is_scaled_to_1080p(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    big = make_testsrc(
        tmp_path / "big.mkv", 1, "2048x1152", "-c:v", "libx264", "-preset", "ultrafast"
    )
    recording = process(rclient, engine, settings, study["id"], big)
    assert recording["status"] == "ready", recording["error"]
    video = streams(proxy_path(settings), "video")[0]
    assert (video["width"], video["height"]) == (1920, 1080)
    assert recording["media"]["video"]["width"] == 2048  # the facts of the original


def test_retry_cancel_and_delete_work_without_javascript(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    recording = process(rclient, engine, settings, study["id"], VARIANTS / "not-media.mp4")
    page = rclient.get(f"/recordings/{recording['id']}")
    assert f'action="/recordings/{recording["id"]}/retry"' in page.text
    again = rclient.post(f"/recordings/{recording['id']}/retry", follow_redirects=False)
    assert (
        again.status_code == 303 and again.headers["location"] == f"/recordings/{recording['id']}"
    )
    queued = rclient.get(f"/recordings/{recording['id']}")
    assert f'action="/recordings/{recording["id"]}/cancel"' in queued.text
    stopped = rclient.post(f"/recordings/{recording['id']}/cancel", follow_redirects=False)
    assert stopped.status_code == 303
    view = rclient.get(f"/api/v1/recordings/{recording['id']}").json()
    assert view["status"] == "failed" and "arrêté" in view["error"]
    assert "Effacer l'enregistrement…" in html.unescape(queued.text)
    assert f'href="/recordings/{recording["id"]}/erase"' in queued.text
    deleted = rclient.post(f"/recordings/{recording['id']}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == f"/studies/{study['id']}"
    assert rclient.get(f"/recordings/{recording['id']}").status_code == 404
    assert list((settings.media_dir / "recordings").iterdir()) == []


def test_odd_sizes_and_estimated_or_missing_durations(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict, tmp_path: Path
) -> None:
    odd = make_testsrc(tmp_path / "odd.webm", 2, "853x481", "-c:v", "libvpx", "-c:a", "libopus")
    # An MP3 without a VBR header: its announced duration is a guess from the first frames.
    vbr = make_media(
        tmp_path / "vbr.mp3",
        "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono:d=20",
        "-f", "lavfi", "-i", "sine=frequency=300:duration=40",
        "-filter_complex", "[0][1]concat=n=2:v=0:a=1",
        "-c:a", "libmp3lame", "-q:a", "7", "-write_xing", "0",
    )  # fmt: skip
    # A WebM written as a stream (MediaRecorder, OBS): no duration in its header.
    live = tmp_path / "live.webm"
    with live.open("wb") as out:
        tone = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=5", "-c:a", "libopus"]
        subprocess.run(
            [*tone, "-f", "webm", "pipe:1"],
            stdout=out,
            check=True,
            timeout=60,
        )
    assert float(ffprobe(live)["format"].get("duration", 0)) == 0
    expected = {odd.name: 2000, vbr.name: 60000, live.name: 5000}
    for path in (odd, vbr, live):
        view = process(rclient, engine, settings, study["id"], path)
        assert view["status"] == "ready", (path.name, view["error"])
        assert view["duration_ms"] == pytest.approx(expected[path.name], abs=150), path.name
    (proxy,) = [p for p in (settings.media_dir / "recordings").glob("*/proxy.mp4")]
    video = streams(proxy, "video")[0]
    assert (video["width"], video["height"]) == (852, 480)


def test_a_missing_original_is_said_plainly(
    rclient: TestClient, engine: Engine, settings: Settings, study: dict
) -> None:
    created = factories.upload(rclient, study["id"], "A1").json()
    (original,) = (settings.media_dir / "recordings").glob("*/original.mp4")
    original.unlink()
    jobs.run_until_idle(engine, settings)
    view = rclient.get(f"/api/v1/recordings/{created['id']}").json()
    assert view["status"] == "failed" and "introuvable" in view["error"]


def test_probe_gives_up_after_its_timeout(tmp_path: Path) -> None:
    stuck = tmp_path / "ffprobe-stuck"
    stuck.write_text("#!/bin/sh\nsleep 30\n")
    stuck.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"n'a pas abouti en 0\.5 s"):
        probe(VARIANTS / "audio.m4a", str(stuck), timeout_s=0.5)
    assert time.monotonic() - started < 5
