"""The same application on PostgreSQL: defaults, uploads, annotations, conflicts."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import select

from autoconf import migrate
from autoconf.app import create_app
from autoconf.db import session_scope
from autoconf.media import jobs
from autoconf.models import MediaJob
from autoconf.settings import Settings
from tests import factories


@pytest.mark.postgres
def test_core_flow_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=postgres_url)
    migrate.upgrade(postgres_url)
    app = create_app(settings)
    try:
        who = factories.account(app.state.engine, "claire", "researcher")
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            factories.login(client, who)
            study = client.post("/api/v1/studies", json={"name": "PG"}).json()
            schemes = factories.codes_by_path(client, study["id"], "schemes")
            assert len(schemes) == 12
            recording = factories.upload(client, study["id"], "A8 - 1").json()
            url = f"/api/v1/recordings/{recording['id']}/annotations"
            created = client.post(
                url,
                json={
                    "start_ms": 10,
                    "end_ms": 20,
                    "code_ids": [schemes["Se présenter"]],
                    "fields": {"but": "accueillir"},
                },
            )
            assert created.status_code == 201, created.text
            aid = created.json()["id"]
            assert (
                client.patch(
                    f"/api/v1/annotations/{aid}", json={"version": 1, "note": "a"}
                ).status_code
                == 200
            )
            stale = client.patch(f"/api/v1/annotations/{aid}", json={"version": 1, "note": "b"})
            assert stale.status_code == 409 and stale.json()["current"]["note"] == "a"
            listed = client.get(url).json()
            assert listed[0]["fields"] == {"but": "accueillir"}
            assert listed[0]["created_at"].endswith("Z")
            duplicate = client.post(f"/api/v1/studies/{study['id']}/structures", json={"code": "S"})
            assert duplicate.status_code == 201
            again = client.post(f"/api/v1/studies/{study['id']}/structures", json={"code": "S"})
            assert again.status_code == 409
            cats = factories.codes_by_path(client, study["id"], "categories")
            assert client.delete(f"/api/v1/codes/{cats['ACCOMPAGNEMENT']}").status_code == 204
    finally:
        app.state.engine.dispose()


@pytest.mark.postgres
def test_races_on_postgresql_end_in_409_never_500(postgres_url: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    migrate.upgrade(postgres_url)
    app = create_app(Settings(data_dir=tmp_path, database_url=postgres_url))
    try:
        who = factories.account(app.state.engine, "claire", "researcher")
        headers = factories.token(app.state.engine, who)
        for name in ("a1", "a2", "a3"):
            factories.account(app.state.engine, name, "counsellor")
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            sid = client.post("/api/v1/studies", json={"name": "PG"}, headers=headers).json()["id"]

            def post(url: str, body: dict) -> int:
                return client.post(url, json=body, headers=headers).status_code

            with ThreadPoolExecutor(12) as pool:
                same_code = list(
                    pool.map(
                        lambda _: post(f"/api/v1/studies/{sid}/structures", {"code": "S"}),
                        range(12),
                    )
                )
                members = list(
                    pool.map(
                        lambda n: post(
                            f"/api/v1/studies/{sid}/members",
                            {"username": f"a{n % 3 + 1}", "role": "counsellor"},
                        ),
                        range(12),
                    )
                )
            assert sorted(set(same_code)) in ([201, 409], [201]) and same_code.count(201) == 1
            assert set(members) <= {201, 409}

            book = next(
                b
                for b in client.get(f"/api/v1/studies/{sid}/codebooks", headers=headers).json()
                if b["kind"] == "principles"
            )
            a, b = (c["id"] for c in book["codes"][:2])
            with ThreadPoolExecutor(2) as pool:
                moves = list(
                    pool.map(
                        lambda pair: client.patch(
                            f"/api/v1/codes/{pair[0]}", json={"parent_id": pair[1]}, headers=headers
                        ),
                        [(a, b), (b, a)],
                    )
                )
            assert sorted(m.status_code for m in moves) == [200, 422]  # never a cycle
            codes = next(
                b
                for b in client.get(f"/api/v1/studies/{sid}/codebooks", headers=headers).json()
                if b["kind"] == "principles"
            )
            assert len(codes["codes"]) == 4
    finally:
        app.state.engine.dispose()


@pytest.mark.postgres
def test_media_jobs_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """Many workers (threads here, processes in a deployment) claim each job exactly once."""
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, media_workers=0)
    migrate.upgrade(postgres_url)
    app = create_app(settings)
    engine = app.state.engine
    try:
        who = factories.account(engine, "claire", "researcher")
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            factories.login(client, who)
            study = client.post("/api/v1/studies", json={"name": "PG"}).json()
            for index in range(6):
                assert factories.upload(client, study["id"], f"A{index}").status_code == 201
            claimed: list[int | None] = []
            with ThreadPoolExecutor(8) as pool:
                claims = [pool.submit(jobs.claim, engine, f"w:{n}:0", 60) for n in range(8)]
                claimed = [c.result() for c in claims]
            taken = [c for c in claimed if c is not None]
            assert len(taken) == len(set(taken)) == 6 and claimed.count(None) == 2
            with session_scope(engine) as session:  # give them back, then really run them
                for job in session.exec(select(MediaJob)):
                    job.status, job.worker = "queued", ""
                    session.add(job)
            assert jobs.run_until_idle(engine, settings) == 6
            listed = client.get(f"/api/v1/studies/{study['id']}/recordings").json()
            assert {r["status"] for r in listed} == {"ready"}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_demo_study_loads_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The demo holds an interview's own recording (category "autoconfrontation", longer than
    the column first was: SQLite never checks a length, PostgreSQL does)."""
    from autoconf.demo import load_demo
    from autoconf.models import Recording

    settings = Settings(data_dir=tmp_path, database_url=postgres_url, media_workers=0)
    migrate.upgrade(postgres_url)
    app = create_app(settings)
    try:
        load_demo(app.state.engine, settings)
        with session_scope(app.state.engine) as session:
            categories = {r.category for r in session.exec(select(Recording))}
        assert categories == {"session", "autoconfrontation"}
    finally:
        app.state.engine.dispose()


@pytest.mark.postgres
def test_exchanges_with_other_tools_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """An ELAN file exported then imported (a batch insert returning its ids in order), and
    a REFI-QDA project imported, on PostgreSQL."""
    import io
    import zipfile

    settings = Settings(data_dir=tmp_path, database_url=postgres_url, media_workers=0)
    migrate.upgrade(postgres_url)
    app = create_app(settings)
    try:
        who = factories.account(app.state.engine, "claire", "researcher")
        with factories.PageClient(app, raise_server_exceptions=False) as client:
            factories.login(client, who)
            study = client.post("/api/v1/studies", json={"name": "PG"}).json()
            schemes = factories.codes_by_path(client, study["id"], "schemes")
            first = factories.upload(client, study["id"], "A8 - 1").json()
            url = factories.annotations_url(first)
            for start, code in ((1_000, "Se présenter"), (5_000, "Questionner / vérifier")):
                body = {"start_ms": start, "end_ms": start + 2_000, "code_ids": [schemes[code]]}
                assert client.post(url, json=body).status_code == 201
            eaf = client.get(f"/api/v1/recordings/{first['id']}/export.eaf").content
            second = factories.upload(client, study["id"], "A8 - 2").json()
            target = f"/api/v1/recordings/{second['id']}/import/eaf"
            files = {"file": ("a.eaf", eaf, "application/xml")}
            preview = client.post(target, files=files).json()
            mapping = {
                "tiers": {t["id"]: t["suggested"] for t in preview["tiers"]},
                "vocabularies": {v["id"]: v["suggested"] for v in preview["vocabularies"]},
            }
            done = client.post(target, files=files, data={"mapping": json.dumps(mapping)})
            assert done.status_code == 200, done.text
            rows = client.get(factories.annotations_url(second)).json()
            assert [(a["start_ms"], a["code_ids"]) for a in rows] == [
                (1_000, [schemes["Se présenter"]]),
                (5_000, [schemes["Questionner / vérifier"]]),
            ]
            project = (Path(__file__).parents[1] / "data/qdpx/foreign-project.qde").read_bytes()
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("project.qde", project)
            qdpx = client.post(
                f"/api/v1/studies/{study['id']}/import/qdpx",
                files={"file": ("p.qdpx", buffer.getvalue(), "application/zip")},
            )
            assert qdpx.status_code == 200, qdpx.text
            assert qdpx.json()["annotations"] == 3 and qdpx.json()["codes_created"] == 4
    finally:
        app.state.engine.dispose()
