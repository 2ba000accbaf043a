"""Study archives, REFI-QDA projects and backups with the media on an S3-compatible object
store (moto's, on loopback, as in test_s3_storage.py): what leaves the store is byte for
byte what it holds, and what comes back lands in the store, or in a local folder (a backup
or an archive goes from either kind of store to the other)."""

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from autoconf.app import create_app
from autoconf.backup import make_backup, restore_backup
from autoconf.errors import Conflict, Invalid
from autoconf.media import jobs
from autoconf.media.store import LocalStore, S3Store, Store, store_for
from autoconf.models import Recording
from autoconf.settings import Settings
from tests import factories, support
from tests.integration.test_study_archive import Instance
from tests.mediafiles import make_testsrc

pytestmark = pytest.mark.once  # the store (archives on both passes: test_study_archive.py)

UPLOADS = 8 * 1024 * 1024  # an archive with its media through HTTP


def signed_in(instance: Instance, username: str) -> TestClient:
    """A client of `instance` signed in as a new researcher `username`."""
    return instance.client(factories.account(instance.engine, username, "researcher"))


def zip_entries(content: bytes, prefix: str = "") -> dict[str, bytes]:
    """The entries of the zip `content` whose name starts with `prefix`, by name."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.startswith(prefix)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(store: Store, key: str) -> bytes:
    with store.open(key) as file:
        return file.read()


def stored_sums(settings: Settings, folder: str = "recordings") -> dict[str, str]:
    """sha256 of every file of the settings' store under `folder`, by key."""
    store = store_for(settings)
    return {key: sha256(read(store, key)) for key, _size in store.listing(folder)}


def folder_sums(instance: Instance, recording_id: int) -> dict[str, str]:
    """sha256 of the files of a recording's folder, by name."""
    with Session(instance.engine) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        folder = recording.storage_key.rsplit("/", 1)[0]
    sums = stored_sums(instance.settings, folder)
    return {key.removeprefix(f"{folder}/"): digest for key, digest in sums.items()}


@pytest.fixture
def instances(tmp_path: Path, s3_endpoint: str) -> Iterator[Callable[..., Instance]]:
    """Fresh instances: media in a new bucket (`s3=True`) or in their local folder."""
    made: list[Instance] = []

    def make(s3: bool) -> Instance:
        data = tmp_path / f"instance-{len(made)}"
        store: dict[str, Any] = {}
        if s3:
            bucket = support.new_bucket(s3_endpoint)
            store = {"storage_url": f"s3://{bucket}/labo/media", "s3_endpoint_url": s3_endpoint}
        settings = support.settings_for(data, max_upload_bytes=UPLOADS, media_workers=0, **store)
        data.mkdir(parents=True)
        support.migrated(settings)
        instance = Instance(settings, create_app(settings))
        made.append(instance)
        assert isinstance(store_for(settings), S3Store if s3 else LocalStore)
        return instance

    yield make
    for instance in made:
        instance.engine.dispose()
        support.drop_database(instance.settings.data_dir)


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("media")
    return make_testsrc(folder / "short.mp4", 3, "320x180").read_bytes()


def study_with_media(instance: Instance, client: TestClient, video: bytes) -> tuple[int, int, int]:
    """A study with a recording processed (`ready`) and one not yet (its original only),
    both consented; (study id, ready id, queued id)."""
    study = client.post("/api/v1/studies", json={"name": "Étude S3"}).json()
    ready = factories.upload(client, study["id"], "A8 - 1", video)
    assert ready.status_code == 201, ready.text
    assert jobs.run_until_idle(instance.engine, instance.settings) == 1
    queued = factories.upload(client, study["id"], "A8 - 2", video, filename="autre.mp4")
    assert queued.status_code == 201, queued.text
    for response in (ready, queued):
        factories.consent_all(client, response.json()["id"])
    assert client.get(f"/api/v1/recordings/{ready.json()['id']}").json()["status"] == "ready"
    return study["id"], ready.json()["id"], queued.json()["id"]


def by_code(client: TestClient, study_id: int) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in client.get(f"/api/v1/studies/{study_id}/recordings").json()}


def import_archive(client: TestClient, content: bytes) -> Any:
    return client.post(
        "/api/v1/studies/import", files={"file": ("etude.zip", content, "application/zip")}
    )


def test_a_study_archive_leaves_the_store_and_comes_back_byte_for_byte(
    instances: Callable[..., Instance], short_video: bytes, tmp_path: Path
) -> None:
    source = instances(s3=True)
    claire = signed_in(source, "claire")
    sid, ready, queued = study_with_media(source, claire, short_video)
    exported = claire.get(f"/api/v1/studies/{sid}/archive.zip")
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        manifest = json.loads(archive.read("archive.json"))
        entries = {item["path"]: archive.read(item["path"]) for item in manifest["files"]}
    assert manifest["media_withheld"] == []
    for item in manifest["files"]:
        assert sha256(entries[item["path"]]) == item["sha256"]
    for rid in (ready, queued):  # every file of each folder, as the store holds it
        carried = {
            path.rsplit("/", 1)[1]: sha256(content)
            for path, content in entries.items()
            if path.startswith(f"media/{rid}/")
        }
        assert carried == folder_sums(source, rid)
    assert entries[f"media/{queued}/original.mp4"] == short_video
    assert {"original.mp4", "proxy.mp4", "poster.jpg"} <= set(folder_sums(source, ready))

    # The command line writes the same files from the store.
    file = tmp_path / "etude.zip"
    env = {
        "AUTOCONF_STORAGE_URL": source.settings.storage_url,
        "AUTOCONF_S3_ENDPOINT_URL": source.settings.s3_endpoint_url,
    }
    support.cli(source.settings.data_dir, "export", "study", str(sid), str(file), env=env)
    with zipfile.ZipFile(file) as archive:
        by_cli = json.loads(archive.read("archive.json"))["files"]
    assert by_cli == manifest["files"]

    originals = by_code(claire, sid)
    for s3 in (True, False):  # into another bucket, and into a local folder
        target = instances(s3=s3)
        margot = signed_in(target, "margot")
        done = import_archive(margot, exported.content)
        assert done.status_code == 201, done.text
        assert done.json()["to_process"] == ["A8 - 2"] and done.json()["without_media"] == {}
        copies = by_code(margot, done.json()["study_id"])
        assert copies["A8 - 1"]["status"] == "ready"
        for code in ("A8 - 1", "A8 - 2"):
            mine = folder_sums(target, copies[code]["id"])
            assert mine == folder_sums(source, originals[code]["id"])
            assert mine["original.mp4"] == sha256(short_video) == copies[code]["original_sha256"]
        if not s3:  # the files themselves, in the folder
            with Session(target.engine) as session:
                recording = session.get(Recording, copies["A8 - 1"]["id"])
                assert recording is not None
                path = target.settings.media_dir / recording.storage_key
            assert path.read_bytes() == short_video
        # The imported recordings play from where they landed.
        media = margot.get(f"/api/v1/recordings/{copies['A8 - 1']['id']}/media")
        assert media.status_code == 200, media.text
        assert sha256(media.content) == folder_sums(target, copies["A8 - 1"]["id"])["proxy.mp4"]


def test_an_archive_refused_while_its_media_go_to_the_store_leaves_nothing_there(
    instances: Callable[..., Instance], short_video: bytes
) -> None:
    source = instances(s3=True)
    claire = signed_in(source, "claire")
    sid, _ready, queued = study_with_media(source, claire, short_video)
    content = claire.get(f"/api/v1/studies/{sid}/archive.zip").content
    # The last recording's original altered, same size: found once the others are stored.
    entries = zip_entries(content)
    name = f"media/{queued}/original.mp4"
    entries[name] = entries[name][:-1] + bytes([entries[name][-1] ^ 1])
    altered = io.BytesIO()
    with zipfile.ZipFile(altered, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    target = instances(s3=True)
    refused = import_archive(signed_in(target, "margot"), altered.getvalue())
    assert refused.status_code == 422, refused.text
    assert "empreinte SHA-256" in refused.json()["detail"]
    assert stored_sums(target.settings) == {}


def test_a_qdpx_project_carries_the_stored_files_and_brings_them_into_a_store(
    instances: Callable[..., Instance], short_video: bytes
) -> None:
    source = instances(s3=True)
    claire = signed_in(source, "claire")
    sid, ready, _queued = study_with_media(source, claire, short_video)
    response = claire.get(f"/api/v1/studies/{sid}/export.qdpx?media=included")
    assert response.status_code == 200, response.text
    media = zip_entries(response.content, "sources/")
    # The ready recording's browser-ready copy, the other's original (all it has yet).
    expected = {folder_sums(source, ready)["proxy.mp4"], sha256(short_video)}
    assert {sha256(content) for content in media.values()} == expected
    assert len(media) == 2

    target = instances(s3=True)
    margot = signed_in(target, "margot")
    study = margot.post("/api/v1/studies", json={"name": "Projet importé"}).json()
    imported = margot.post(
        f"/api/v1/studies/{study['id']}/import/qdpx",
        files={"file": ("projet.qdpx", response.content, "application/zip")},
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["recordings_created"] == 2
    originals = {
        copy["original_sha256"]: folder_sums(target, copy["id"])["original.mp4"]
        for copy in by_code(margot, study["id"]).values()
    }
    assert set(originals) == expected and all(a == b for a, b in originals.items())


@pytest.mark.sqlite  # restored into new SQLite files (test_backup.py covers PostgreSQL)
def test_a_backup_of_a_store_restores_onto_a_folder_and_back_onto_a_store(
    instances: Callable[..., Instance], short_video: bytes, tmp_path: Path, s3_endpoint: str
) -> None:
    source = instances(s3=True)
    claire = signed_in(source, "claire")
    _sid, ready, _queued = study_with_media(source, claire, short_video)
    stored = stored_sums(source.settings)
    assert len(stored) > 5  # two originals, the proxy and what is made from it

    made = make_backup(source.settings, tmp_path / "backup")
    media = {e.path.removeprefix("media/"): e.sha256 for e in made.manifest.media_files}
    assert media == stored
    assert made.media_bytes == sum(
        size for _, size in store_for(source.settings).listing("recordings")
    )
    for key, digest in stored.items():  # the backup holds the files themselves
        assert sha256((tmp_path / "backup" / "media" / key).read_bytes()) == digest

    local = Settings(data_dir=tmp_path / "local", media_workers=0)
    restored = restore_backup(local, tmp_path / "backup")
    assert restored.files == len(stored)
    assert stored_sums(local) == stored
    assert not (local.data_dir / "work").exists()
    app = create_app(local)
    try:
        with factories.PageClient(app) as client:
            factories.login(client, factories.Account(0, "claire", factories.PASSWORD, ""))
            played = client.get(f"/api/v1/recordings/{ready}/media")
            assert played.status_code == 200, played.text
            with Session(app.state.engine) as session:
                recording = session.get(Recording, ready)
                assert recording is not None
                assert sha256(played.content) == stored[recording.proxy_key]
    finally:
        app.state.engine.dispose()

    # And the other way: the local folder's backup onto a new bucket.
    make_backup(local, tmp_path / "again")
    bucket = f"s3://{support.new_bucket(s3_endpoint)}/media"
    onto_s3 = Settings(
        data_dir=tmp_path / "s3", media_workers=0, storage_url=bucket, s3_endpoint_url=s3_endpoint
    )
    restore_backup(onto_s3, tmp_path / "again")
    assert stored_sums(onto_s3) == stored
    assert not onto_s3.media_dir.exists()
    # A store that holds recordings already is not restored into (a new data folder).
    elsewhere = Settings(
        data_dir=tmp_path / "s3-bis",
        media_workers=0,
        storage_url=bucket,
        s3_endpoint_url=s3_endpoint,
    )
    with pytest.raises(Conflict, match="stockage des médias"):
        restore_backup(elsewhere, tmp_path / "again")
    assert not elsewhere.data_dir.exists()
    # A backup altered since (same size): refused, and what was sent is removed again.
    shutil.copytree(tmp_path / "again", tmp_path / "altered")
    last = tmp_path / "altered" / "media" / max(stored)
    content = last.read_bytes()
    last.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
    fresh = f"s3://{support.new_bucket(s3_endpoint)}/media"
    altered = onto_s3.model_copy(update={"data_dir": tmp_path / "s3-ter", "storage_url": fresh})
    with pytest.raises(Invalid, match="altérée"):
        restore_backup(altered, tmp_path / "altered")
    assert stored_sums(altered) == {} and not altered.data_dir.exists()
