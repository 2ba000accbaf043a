"""Every operation of the OpenAPI document, fuzzed by schemathesis: hostile input everywhere.

A researcher calls with a Bearer API token on a seeded study: a recording made ready by hand
(no ffmpeg runs during the fuzz), another still queued, codebooks and codes, annotations of
each kind, a transcript, consents, an interview, a live session with a stop and a comment,
and a study of someone else. Ids drawn for a path mostly name those objects (`World.aim`), so
that cases reach the handlers instead of answering 404; a destructive operation (delete,
erase) gets a victim made for it whenever it would remove the seed, so that the cases after
it still find everything. Each answer must not be a 5xx and must match the document (status
code, content type, headers, body), and a refusal speaks French.

No operation is left out, and none starts ffmpeg: there is no media worker (uploads stay
queued) and the ready recording's original is gone (a clip answers 409 before encoding).
The run is seeded and derandomized: CI runs the same cases every time. `pytest -s` prints
how many ran, in how long, and what each operation answered.
"""

import base64
import re
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.hypothesis.builder import ApiOperationMark
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from autoconf.app import create_app
from autoconf.models import Recording
from autoconf.payloads import MAX_ID
from autoconf.settings import Settings
from tests import factories, support
from tests.support import settings_for

SEED = 16  # issue 16
# Per operation in the fuzzing phase; the examples and coverage phases add theirs. The
# PostgreSQL pass runs every boundary of the coverage phase (overlong strings, NUL, huge
# numbers: what PostgreSQL refuses where SQLite takes it) and fewer random cases.
MAX_EXAMPLES = 8 if support.ON_POSTGRES else 25
# A run makes about 6,700 cases (4,800 on PostgreSQL): fewer means the fuzz lost its way.
MIN_CASES = 3500 if support.ON_POSTGRES else 4000
# Operations that answered 2xx at least once (71 of 83): the seed and the aiming reach the
# handlers. The others cannot here: admin only (4), a password to know (2), a multipart file
# whose name has no extension (2, 415/422), a clip of a recording without its original, the
# resumption of an upload (HEAD) whose id is drawn at random.
MIN_SUCCEEDING_OPERATIONS = 68

# Fields of a body that name an object, and the kind of id they hold.
BODY_IDS = {
    "code_ids": "code_id",
    "parent_id": "code_id",
    "counsellor_id": "counsellor_id",
    "structure_id": "structure_id",
    "recording_ids": "recording_id",
    "recording_id": "recording_id",
    "interview_id": "interview_id",
    "session_id": "session_id",
    "stop_id": "stop_id",
    "prepared_id": "prepared_id",
    "answered_by": "annotation_id",
    "username": "username",
}
STRING_IDS = ("code", "sprite", "username", "uuid")  # ids that are not numbers
TUS_METADATA = "study_id {study},code {code},filename c2VhbmNlLm1wNA=="  # seance.mp4
TRANSCRIPT = b"WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Conseillere>Bonjour.\n"
# Operations that remove what they name, or undo the seed's state (the ready recording queued
# again, a consent withdrawn, a pattern of codes that the victims' codes would not follow),
# with the parameter naming it: a seeded id there is replaced by a victim's.
DESTRUCTIVE = {
    "PATCH /api/v1/studies/{study_id}": "study_id",
    "DELETE /api/v1/recordings/{recording_id}": "recording_id",
    "POST /api/v1/recordings/{recording_id}/erase": "recording_id",
    "POST /api/v1/recordings/{recording_id}/retry": "recording_id",
    "POST /api/v1/recordings/{recording_id}/cancel": "recording_id",
    "POST /api/v1/consents/{consent_id}/withdraw": "consent_id",
    "DELETE /api/v1/annotations/{annotation_id}": "annotation_id",
    "DELETE /api/v1/codes/{code_id}": "code_id",
    "DELETE /api/v1/live/comments/{comment_id}": "comment_id",
    "DELETE /api/v1/me/tokens/{token_id}": "token_id",
    "DELETE /api/v1/studies/{study_id}/members/{user_id}": "user_id",
    "DELETE /api/v1/uploads/{uuid}": "uuid",
    "POST /api/v1/studies/{study_id}/erase": "study_id",
}
# The English of pydantic, Starlette and tuspyserver, which a refusal must not show.
_ENGLISH = re.compile(
    r"^(Input should|Input is|Field required|String should|Value should|List should|"
    r"Dictionary should|Object has|Extra inputs|Unable to|Invalid|Expected|Unexpected|"
    r"There was|Not Found|Method Not Allowed|Content Too Large|Unsupported|Upload|Partial|"
    r"Content-Type must|Final|Internal Server Error|JSON|Decimal|Datetime|Date|Timezone|"
    r"URL|UUID|Assertion|Tuple|Set)\b"
)


@schemathesis.check
def french_refusals(ctx: Any, response: Any, case: Case) -> bool | None:
    """A 4xx carries its messages in French (a field's name may stay as it is)."""
    kind = response.headers.get("content-type", [""])[0]
    if not 400 <= response.status_code < 500 or "json" not in kind or not response.content:
        return None
    detail = response.json().get("detail")
    messages = [i.get("msg", "") for i in detail] if isinstance(detail, list) else [detail]
    english = [m for m in messages if isinstance(m, str) and _ENGLISH.match(m)]
    assert not english, f"English in a refusal: {english}"
    return True


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    french_refusals,
]


@dataclass
class Tally:
    """What the fuzz did, for the closing summary."""

    started: float = field(default_factory=time.monotonic)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    seconds: Counter[str] = field(default_factory=Counter)

    def add(self, operation: str, status: int, seconds: float) -> None:
        self.statuses.setdefault(operation, Counter())[status] += 1
        self.seconds[operation] += seconds

    @property
    def cases(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def succeeding(self) -> set[str]:
        return {op for op, counts in self.statuses.items() if any(s < 300 for s in counts)}


TALLY = Tally()


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _b64(value: object) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _fingerprint(case: Case) -> int:
    """A number that only what the case sends decides."""
    body = case.body if isinstance(case.body, dict | list | str | bytes | int | float) else None
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    sent = (case.path_parameters, case.query, headers, body)
    return zlib.crc32(repr(sent).encode(errors="surrogatepass"))


def _number(value: Any) -> int | None:
    """An id as drawn: an integer, or the decimal digits of one (the coverage phase's)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


class World:
    """The app under test, its seed, and the ids a case may aim at."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        engine = app.state.engine
        self.client = TestClient(app, raise_server_exceptions=False)
        researcher = factories.account(engine, "claire", "researcher")
        self.headers = factories.token(engine, researcher)
        self.client.headers.update(self.headers)
        self.victor = factories.account(engine, "victor", "counsellor").id  # a member to remove
        c = self.client

        factories.account(engine, "paul", "counsellor")
        sid = self.study_id = _ok(c.post("/api/v1/studies", json={"name": "Étude CEP"}))["id"]
        structure = _ok(c.post(f"/api/v1/studies/{sid}/structures", json={"code": "ML"}))
        member = {"username": "paul", "role": "counsellor"}
        paul = _ok(c.post(f"/api/v1/studies/{sid}/members", json=member))
        counsellor = {"code": "A8", "username": "paul", "structure_id": structure["id"]}
        a8 = _ok(c.post(f"/api/v1/studies/{sid}/counsellors", json=counsellor))["id"]
        ready = _ok(factories.upload(c, sid, "A8 - 1", counsellor_id=a8))["id"]
        queued = _ok(factories.upload(c, sid, "A8 - 2", counsellor_id=a8))["id"]
        self._make_ready(ready)
        consents = factories.consent_all(c, ready, ("research",))
        interview = {"code": "A8", "counsellor_id": a8, "recording_ids": [ready]}
        interview_id = _ok(c.post(f"/api/v1/studies/{sid}/interviews", json=interview))["id"]
        books = c.get(f"/api/v1/studies/{sid}/codebooks").json()
        codes = [code["id"] for book in books for code in book["codes"][:2]]
        self.codebook_id = books[0]["id"]
        self.annotations = f"/api/v1/recordings/{ready}/annotations"
        mark = {"start_ms": 34_000, "origin": "prepared", "note": "Ici"}
        prepared = _ok(c.post(self.annotations, json=mark))["id"]
        coded = {"start_ms": 10_000, "end_ms": 15_000, "code_ids": codes[:1], "note": "Hésite"}
        segment = _ok(c.post(self.annotations, json=coded))["id"]
        vtt = {"file": ("seance.vtt", TRANSCRIPT, "text/vtt")}
        _ok(c.post(f"/api/v1/recordings/{ready}/transcript", files=vtt), 200)
        cue = next(a["id"] for a in c.get(self.annotations).json() if a["layer"] == "transcript")
        live = _ok(c.post(f"/api/v1/recordings/{ready}/live"))
        self.stop_id = _ok(c.post(f"/api/v1/live/{live['id']}/stops", json={}))["id"]
        said = {"speaker": "counsellor", "text": "Là, j'hésite."}
        comment = _ok(c.post(f"/api/v1/live/stops/{self.stop_id}/comments", json=said))["id"]
        spare = _ok(c.post("/api/v1/me/tokens", json={"name": "spare"}))["id"]
        upload = self._upload("A8 - 3")

        # Someone else's study: ids a case may name but not use.
        theirs = TestClient(app, raise_server_exceptions=False)
        other = factories.account(engine, "bruno", "researcher")
        theirs.headers.update(factories.token(engine, other))
        their_study = _ok(theirs.post("/api/v1/studies", json={"name": "Autre"}))["id"]
        their_recording = _ok(factories.upload(theirs, their_study, "B1"))["id"]
        their_book = theirs.get(f"/api/v1/studies/{their_study}/codebooks").json()[0]
        url = f"/api/v1/recordings/{their_recording}/annotations"
        their_annotation = _ok(theirs.post(url, json={"start_ms": 1_000}))["id"]

        self.ids: dict[str, list[Any]] = {
            "study_id": [sid, their_study],
            "user_id": [researcher.id, paul["user_id"], other.id],
            "interview_id": [interview_id],
            "codebook_id": [book["id"] for book in books] + [their_book["id"]],
            "code_id": [*codes, their_book["codes"][0]["id"]],
            "recording_id": [ready, queued, their_recording],
            "annotation_id": [prepared, segment, cue, self.stop_id, their_annotation],
            "prepared_id": [prepared],
            "counsellor_id": [a8],
            "structure_id": [structure["id"]],
            "username": ["paul", "victor", "bruno"],
            "session_id": [live["id"]],
            "stop_id": [self.stop_id],
            "comment_id": [comment],
            "consent_id": [consent["id"] for consent in consents],
            "token_id": [spare],
            "code": [live["code"]],
            "sprite": ["sprite-000.jpg"],
            "uuid": [upload],
        }
        # What a destructive case may not remove: the seed, our own token included.
        self.protected = {name: set(values) for name, values in self.ids.items()}
        self.protected["token_id"] |= {t["id"] for t in c.get("/api/v1/me/tokens").json()}
        self.protected["user_id"].add(self.victor)

    def _upload(self, code: str) -> str:
        """A resumable upload begun (tus), of 1000 bytes not sent yet: its id."""
        metadata = TUS_METADATA.format(study=_b64(self.study_id), code=_b64(code))
        tus = {"Tus-Resumable": "1.0.0", "Upload-Length": "1000", "Upload-Metadata": metadata}
        created = self.client.post("/api/v1/uploads/", headers=tus)
        assert created.status_code == 201, created.text
        return str(created.headers["location"]).rsplit("/", 1)[-1]

    def _make_ready(self, recording_id: int) -> None:
        """The recording as processing leaves it, made by hand: the uploaded original (the
        demo, browser-ready) becomes its proxy, beside a poster, a waveform and thumbnails.
        Its original is gone, so no clip is ever cut from it: the clip route answers 409
        without starting ffmpeg."""
        media = self.settings.media_dir
        with Session(self.app.state.engine) as session:
            recording = session.get(Recording, recording_id)
            assert recording is not None
            folder = media / Path(recording.storage_key).parent
            (media / recording.storage_key).rename(folder / "proxy.mp4")
            Image.new("RGB", (160, 90)).save(folder / "poster.jpg")
            Image.new("RGB", (160, 90)).save(folder / "sprite-000.jpg")
            (folder / "waveform.dat").write_bytes(bytes(40))
            (folder / "thumbnails.vtt").write_text(
                "WEBVTT\n\n00:00.000 --> 00:10.000\nsprite-000.jpg#xywh=0,0,160,90\n"
            )
            recording.status = "ready"
            recording.proxy_key = str(folder.relative_to(media) / "proxy.mp4")
            recording.duration_ms = 135_960
            recording.media_info = {
                "container": "mov,mp4,m4a,3gp,3g2,mj2",
                "duration_ms": 135_960,
                "video": {"codec": "h264", "width": 640, "height": 360, "rotation": 0},
                "audio": {"codec": "aac", "channels": 1, "sample_rate": 22050},
                "files": {
                    "poster": "poster.jpg",
                    "waveform": "waveform.dat",
                    "thumbnails": "thumbnails.vtt",
                },
            }
            session.add(recording)
            session.commit()

    def aim(self, case: Case) -> None:
        """Three valid ids in four become the seed's, the others, and every invalid value,
        stay as drawn (404 and 422: the refusals are fuzzed too); which, and which of the
        seed's, follows from what the case sends, so that a case replayed (shrinking) is
        aimed alike. In a destructive operation, an id of the seed becomes a victim's. Ids
        in a body are aimed alike, and three tus requests in four speak tus 1.0.0."""
        label = case.operation.label
        turn = _fingerprint(case)
        params = case.path_parameters or {}
        for name, value in list(params.items()):
            if name in self.ids:
                value = self._pick(name, value, turn)
            if DESTRUCTIVE.get(label) == name and _number(value) in self.protected[name]:
                value = self._victim(name)
            params[name] = value
        if isinstance(case.body, dict | list):
            case.body = self._aim_body(case.body, turn)
        headers = case.headers or {}
        if "tus-resumable" in headers and turn % 4:
            headers["tus-resumable"] = "1.0.0"
        if "upload-metadata" in headers and turn % 4 == 1:  # an upload that can be made
            code = _b64(f"T{turn}")
            headers["upload-metadata"] = TUS_METADATA.format(study=_b64(self.study_id), code=code)
            headers["upload-length"] = "1000"
            headers.pop("upload-concat", None)
            headers.pop("upload-defer-length", None)
        if "upload-offset" in headers and turn % 4 == 1:  # a PATCH that can be taken
            headers["upload-offset"] = "0"
            headers["content-type"] = "application/offset+octet-stream"
            headers.pop("upload-length", None)

    def _pick(self, name: str, value: Any, turn: int) -> Any:
        pool = self.ids[name]
        number = _number(value)
        if number is not None and 0 < number <= MAX_ID and (number + turn) % 4:
            return pool[(number + turn) % len(pool)]
        if isinstance(value, str) and number is None and name in STRING_IDS:
            return pool[turn % len(pool)] if turn % 4 else value
        return value

    def _aim_body(self, body: Any, turn: int) -> Any:
        if isinstance(body, list):
            return [self._aim_body(item, turn) for item in body]
        if not isinstance(body, dict):
            return body
        aimed = {}
        for key, value in body.items():
            kind = BODY_IDS.get(key)
            if kind is not None and isinstance(value, list):
                value = [self._pick(kind, item, turn + i) for i, item in enumerate(value)]
            elif kind is not None:
                value = self._pick(kind, value, turn)
            else:
                value = self._aim_body(value, turn)
            aimed[key] = value
        return aimed

    def _victim(self, name: str) -> int | str:
        """A new object of the kind `name` ids, for a destructive case to remove."""
        c = self.client
        if name == "recording_id":
            code = f"V{len(self.protected['recording_id'])}-{time.monotonic_ns() % 10**9}"
            victim = _ok(factories.upload(c, self.study_id, code, b"not a video"))["id"]
        elif name == "annotation_id":
            victim = _ok(c.post(self.annotations, json={"start_ms": 5_000}))["id"]
        elif name == "code_id":
            label = {"label": f"victime {time.monotonic_ns()}"}
            victim = _ok(c.post(f"/api/v1/codebooks/{self.codebook_id}/codes", json=label))["id"]
        elif name == "comment_id":
            said = {"speaker": "researcher", "text": "victime"}
            victim = _ok(c.post(f"/api/v1/live/stops/{self.stop_id}/comments", json=said))["id"]
        elif name == "token_id":
            victim = _ok(c.post("/api/v1/me/tokens", json={"name": "victime"}))["id"]
        elif name == "user_id":
            member = {"username": "victor", "role": "counsellor"}
            _ok(c.post(f"/api/v1/studies/{self.study_id}/members", json=member))
            victim = self.victor
        elif name == "study_id":
            victim = _ok(c.post("/api/v1/studies", json={"name": "Victime"}))["id"]
        elif name == "uuid":
            victim = self._upload(f"V{time.monotonic_ns() % 10**9}")
        elif name == "consent_id":
            given = {"party": "counsellor", "scopes": ["research"], "given_on": "2025-01-15"}
            url = f"/api/v1/recordings/{self._victim('recording_id')}/consents"
            victim = _ok(c.post(url, json=given))["id"]
        else:
            raise AssertionError(f"no victim for {name}")
        assert isinstance(victim, int | str)
        return victim


class AppUnderTest:
    """Where the cases go: the `world` fixture's app, once made. schemathesis' pytest
    integration reads the schema at import time; the app and its seed wait for the test."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the world fixture makes the app"
        await self.app(scope, receive, send)


def served_document() -> dict[str, Any]:
    """The OpenAPI document as the app serves it, from an app made for that alone (its
    database is never opened)."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(settings_for(Path(folder) / "data", media_workers=0))
        response = TestClient(app).get("/api/v1/openapi.json")
        app.state.engine.dispose()
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


APP = AppUnderTest()
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES},
        "phases": {
            "examples": {"enabled": True},
            # Every boundary of every parameter; no calls with methods a route does not have.
            "coverage": {"enabled": True, "unexpected-methods": []},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)
schema = schemathesis.openapi.from_dict(served_document(), config=CONFIG)
schema.app = APP


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # In memory where a tmpfs is (Linux): SQLite's fsync at every commit (synchronous=FULL)
    # would make the run twice as long, and the fuzz is about the API, not the disk.
    memory = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=memory if memory.is_dir() else None) as folder:
        data_dir = Path(folder) / "data"
        # No media worker: nothing the fuzz uploads is processed (no ffmpeg).
        settings = settings_for(data_dir, max_upload_bytes=5 * 1024 * 1024, media_workers=0)
        data_dir.mkdir()
        support.migrated(settings)
        app = create_app(settings)
        APP.app = app
        TALLY.started = time.monotonic()
        try:
            yield World(app, settings)
        finally:
            APP.app = None
            app.state.engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each operation's test named after it. schemathesis 4.32 names its items by the
    pytest < 9.2 rules: under pytest 9.2 they would all be `test_api`, and pytest-xdist, which
    schedules by that name, would run one of them only."""
    operation = ApiOperationMark.get(metafunc.function)
    if operation is not None:
        metafunc.parametrize("operation", [operation.label], ids=[operation.label])


@schema.parametrize()
@settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_api(case: Case, world: World, operation: str) -> None:
    world.aim(case)
    started = time.monotonic()
    response = case.call_and_validate(headers=world.headers, checks=CHECKS)
    TALLY.add(case.operation.label, response.status_code, time.monotonic() - started)


def test_the_fuzz_reached_every_operation() -> None:
    """Its summary (`-s`); the fuzz (run before it in this file) reached every operation,
    made enough cases and got past the refusals. Run alone, it fails: there is no fuzz to
    count."""
    seconds = time.monotonic() - TALLY.started
    every: Counter[int] = sum(TALLY.statuses.values(), Counter())
    print(
        f"\nfuzz: {TALLY.cases} cases over {len(TALLY.statuses)} operations in {seconds:.0f} s; "
        f"{len(TALLY.succeeding())} operations answered 2xx; "
        + ", ".join(f"{status}: {n}" for status, n in sorted(every.items()))
    )
    for operation, counts in TALLY.statuses.items():
        answers = ", ".join(f"{s}×{n}" for s, n in sorted(counts.items()))
        print(f"  {operation}: {answers} ({TALLY.seconds[operation]:.1f} s)")
    assert len(TALLY.statuses) == len(list(schema.get_all_operations())), sorted(TALLY.statuses)
    assert TALLY.cases >= MIN_CASES
    assert len(TALLY.succeeding()) >= MIN_SUCCEEDING_OPERATIONS, sorted(
        set(TALLY.statuses) - TALLY.succeeding()
    )
