"""Who may use which route: every route of the application × six roles × whose object.

The policy (issue 14), which `autoconf/studies/access.py` implements: admins: accounts and
studies; the researchers of a study: all of its content; a counsellor: only the recordings,
interviews and live sessions where they are the counsellor, and on those the prepared moments
shown to them, the stops and comments of their own sessions and the transcript, never the
researchers' coding (schemes, consensus, phases, categories) nor their private marks unless
the study turns co-validation on; a counsellor writes only stops, comments and their own
marks. Anyone outside a study gets 404 for every object of it, with the body an unknown id
gets.

EXPECTATIONS says, for every (method, path) of the application's route table, who may use
it; a route missing from it fails the test (a new route: say who may use it), and so does an
entry whose route is gone. Each route is tried by each role on each object its path can name
(C1's, C2's, study 1's, study 2's, an unknown id). What a role gets:

- ok: 2xx, a redirect elsewhere than to the login page, or 400/409/422 (the access check
  passed; the dummy input was refused);
- forbidden: 403 (the object is visible to them, the action is not theirs);
- hidden: 404 with the body the same request gets on an unknown id (ids aside);
- login: 401 (API) or a redirect to the login page (pages).

The API is called with a Bearer token per role, the pages with a session cookie per role.
Routes that destroy (erase, delete, cancel, end, replace a transcript, take a member out)
are called on a throwaway object made for each call, in the same situation as the world's
(whose it is, which study), so a call never changes what the next one sees.
"""

import io
import itertools
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine, func
from sqlmodel import select
from starlette.routing import Mount, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from autoconf.app import create_app
from autoconf.auth import accounts
from autoconf.db import session_scope
from autoconf.models import CODING_LAYERS, CONSENT_PARTIES, Annotation
from autoconf.settings import Settings
from autoconf.transcribe import drafts
from autoconf.transcribe.drafts import replace_draft
from autoconf.transcribe.recognise import Word
from autoconf.transcribe.turns import Turn
from tests import factories, support
from tests.support import settings_for

# Once (the SQLite pass): the policy is code (`studies/access.py`) over the queries the API
# tests and the fuzz run on both databases; its thousands of calls would double the
# PostgreSQL pass's longest file for the same answers.
pytestmark = pytest.mark.once

Key = tuple[str, str]  # (method, path template); "WS" for the WebSocket
Outcome = Literal["ok", "forbidden", "hidden", "login"]

# --------------------------------------------------------------------------------------
# Roles and objects
# --------------------------------------------------------------------------------------

ADMIN_ROLE, R1, R2, C1, C2, ANON = "admin", "r1", "r2", "c1", "c2", "anon"
ROLES = (ADMIN_ROLE, R1, R2, C1, C2, ANON)
# Who reads and writes everything of the studies they see (a global researcher creates
# studies; R2 sees only study 2, which `sees` settles first).
STAFF_ROLES = (ADMIN_ROLE, R1, R2)

UNKNOWN = "unknown"
UNKNOWN_ID = 999_999
UNKNOWN_LIVE_CODE = "ZZZZZZ"

# What a path parameter names. Study-level objects are visible to every member of the
# study; recording-level ones to the researchers and to the counsellor they belong to.
PARAM_KINDS = {
    "study_id": "study",
    "codebook_id": "codebook",
    "code_id": "code",
    "recording_id": "recording",
    "interview_id": "interview",
    "session_id": "live",
    "code": "livecode",
    "stop_id": "stop",
    "comment_id": "comment",
    "annotation_id": "annotation",
    "token_id": "token",
    "user_id": "account",
    "consent_id": "consent",
    "round_id": "round",
}
STUDY_LEVEL = ("study", "codebook", "code")
GLOBAL_KINDS = ("account",)  # not in a study: an administrator's business

# The objects of each kind the world holds, by whose they are: c1 (counsellor C1's, in
# study 1), c2 (counsellor C2's, study 1), s1 (study 1's, no counsellor: researchers only),
# s2 (study 2's). Annotations also: the marks and segments on C1's recording, by kind.
ANNOTATION_VARIANTS = (
    "c1",  # C1's own prepared mark (shared)
    "c2",  # C2's own mark, on C2's recording
    "s1",  # R1's shared prepared mark on C1's recording, not shown to C1
    "s2",  # R2's mark in study 2
    "private",  # R1's private prepared mark on C1's recording
    "shown",  # R1's prepared mark shown to C1
    "schemes",
    "consensus",
    "phases",
    "categories",
    "transcript",  # a cue of C1's recording's transcript
    "stop",  # the stop C1 made in their live session
)
# What C1 sees of the annotations on their recording (co-validation off).
SEEN_BY_C1 = ("c1", "shown", "transcript", "stop")
# Who wrote each annotation (and each live comment: the researchers type them).
AUTHORS = {
    "annotation": {"c1": C1, "c2": C2, "s2": R2, "stop": C1},
    "comment": {"s2": R2},
}
DEFAULT_AUTHOR = R1
NOTES = {variant: f"NOTE-{variant.upper()}-7Q" for variant in ANNOTATION_VARIANTS}
COMMENT_TEXT = "COMMENT-C1-SAID-7Q"


def sees(role: str, kind: str, variant: str) -> bool:
    """Whether the role may know the object exists (the policy, restated)."""
    if variant == UNKNOWN:
        return False
    if kind == "token":
        return variant == "own"
    if kind in GLOBAL_KINDS:
        return True
    if role == ADMIN_ROLE:
        # Decision: a researcher's private prepared mark is private to its author, admins
        # included ("private marks"; ARCHITECTURE.md: private to its author until shared).
        return variant != "private"
    if role == R1:
        return variant != "s2"
    if role == R2:
        return variant == "s2"
    if kind in STUDY_LEVEL:
        return variant == "s1"
    if kind == "annotation" and role == C1:
        return variant in SEEN_BY_C1
    return variant == role


# --------------------------------------------------------------------------------------
# Who may use a route
# --------------------------------------------------------------------------------------

PUBLIC = "anyone, signed in or not"
SIGNED_IN = "anyone signed in"
STAFF = "admins and researchers (global role)"
MEMBER = "whoever sees the object (a counsellor: their own)"
AUTHOR = "its author, or the study's researchers"
RESEARCHER = "the study's researchers (and admins)"
ADMIN = "admins only"
OWNER = "its owner"
LOGS_OUT = "anyone: the answer is the login page"
MONITORING = "the monitoring system's token (AUTOCONF_METRICS_TOKEN), no user's credential"


@dataclass(frozen=True)
class Rule:
    """Who may use a route; `but` the exceptions, (role, variant, outcome), with `why`;
    `only` the variants tried when not all (`why` says why)."""

    who: str
    but: tuple[tuple[str, str, Outcome], ...] = ()
    only: tuple[str, ...] = ()
    why: str = ""


def expected(rule: Rule, role: str, kind: str | None, variant: str) -> Outcome:
    for who, which, outcome in rule.but:
        if who == role and which == variant:
            return outcome
    if rule.who == PUBLIC:
        return "ok"
    if rule.who in (LOGS_OUT, MONITORING) or role == ANON:
        return "login"
    if rule.who == SIGNED_IN:
        return "ok"
    if rule.who == STAFF:
        return "ok" if role in STAFF_ROLES else "forbidden"
    if kind is not None and not sees(role, kind, variant):
        if kind in GLOBAL_KINDS and rule.who == ADMIN and role != ADMIN_ROLE:
            return "forbidden"
        return "hidden"
    if rule.who in (MEMBER, OWNER):
        return "ok"
    if rule.who == RESEARCHER:
        return "ok" if role in STAFF_ROLES else "forbidden"
    if rule.who == AUTHOR:
        author = AUTHORS.get(kind or "", {}).get(variant, DEFAULT_AUTHOR)
        return "ok" if role in STAFF_ROLES or role == author else "forbidden"
    if rule.who == ADMIN:
        return "ok" if role == ADMIN_ROLE else "forbidden"
    raise AssertionError(f"unknown rule {rule.who}")


public, signed_in, staff = Rule(PUBLIC), Rule(SIGNED_IN), Rule(STAFF)
member, researcher, admin, owner = Rule(MEMBER), Rule(RESEARCHER), Rule(ADMIN), Rule(OWNER)
author = Rule(
    AUTHOR,
    but=((C1, "stop", "forbidden"),),
    why="a live session's stop, even C1's own, is changed only by a researcher "
    "(live.stops.check_annotation_change): it is the record of the session",
)
clip = Rule(
    RESEARCHER,
    only=("c1", "c2", "s2", "private", "schemes", "stop"),
    why="each allowed clip is an ffmpeg encode: one segment (schemes) is enough",
)

coder = Rule(
    RESEARCHER,
    but=((ADMIN_ROLE, "s1", "forbidden"), (ADMIN_ROLE, "s2", "forbidden")),
    why="only a round's coders mark their coding done; the admin codes in no round",
)

EXPECTATIONS: dict[Key, Rule] = {
    # Accounts
    ("POST", "/api/v1/auth/login"): public,
    ("POST", "/api/v1/auth/logout"): public,
    ("GET", "/api/v1/me"): signed_in,
    ("PATCH", "/api/v1/me"): signed_in,
    ("POST", "/api/v1/me/password"): signed_in,
    ("POST", "/api/v1/me/tokens"): signed_in,
    ("GET", "/api/v1/me/tokens"): signed_in,
    ("DELETE", "/api/v1/me/tokens/{token_id}"): owner,
    ("GET", "/api/v1/users"): admin,
    ("PATCH", "/api/v1/users/{user_id}"): admin,
    ("GET", "/api/v1/audit"): admin,
    ("GET", "/api/v1/audit.csv"): admin,
    # Studies, members, structures, counsellors, interviews
    ("GET", "/api/v1/studies"): signed_in,
    ("POST", "/api/v1/studies"): staff,
    ("GET", "/api/v1/studies/{study_id}"): member,
    ("PATCH", "/api/v1/studies/{study_id}"): researcher,
    ("GET", "/api/v1/studies/{study_id}/members"): member,
    ("POST", "/api/v1/studies/{study_id}/members"): researcher,
    ("DELETE", "/api/v1/studies/{study_id}/members/{user_id}"): researcher,
    ("GET", "/api/v1/studies/{study_id}/structures"): member,
    ("POST", "/api/v1/studies/{study_id}/structures"): researcher,
    ("GET", "/api/v1/studies/{study_id}/counsellors"): member,
    ("POST", "/api/v1/studies/{study_id}/counsellors"): researcher,
    ("GET", "/api/v1/studies/{study_id}/interviews"): member,
    ("POST", "/api/v1/studies/{study_id}/interviews"): researcher,
    ("GET", "/api/v1/interviews/{interview_id}"): member,
    # Codebooks
    ("GET", "/api/v1/studies/{study_id}/codebooks"): member,
    ("POST", "/api/v1/codebooks/{codebook_id}/codes"): researcher,
    ("PATCH", "/api/v1/codes/{code_id}"): researcher,
    ("DELETE", "/api/v1/codes/{code_id}"): researcher,
    # Recordings and their media
    ("POST", "/api/v1/studies/{study_id}/recordings"): researcher,
    ("GET", "/api/v1/studies/{study_id}/recordings"): member,
    ("GET", "/api/v1/recordings/{recording_id}"): member,
    ("PATCH", "/api/v1/recordings/{recording_id}"): researcher,
    ("DELETE", "/api/v1/recordings/{recording_id}"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/retry"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/cancel"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/media"): member,
    ("HEAD", "/api/v1/recordings/{recording_id}/media"): member,
    ("GET", "/api/v1/recordings/{recording_id}/poster"): member,
    ("HEAD", "/api/v1/recordings/{recording_id}/poster"): member,
    ("GET", "/api/v1/recordings/{recording_id}/waveform"): member,
    ("HEAD", "/api/v1/recordings/{recording_id}/waveform"): member,
    ("GET", "/api/v1/recordings/{recording_id}/thumbnails.vtt"): member,
    ("HEAD", "/api/v1/recordings/{recording_id}/thumbnails.vtt"): member,
    ("GET", "/api/v1/recordings/{recording_id}/thumbnails/{sprite}"): member,
    ("HEAD", "/api/v1/recordings/{recording_id}/thumbnails/{sprite}"): member,
    # Annotations and transcripts (a counsellor writes their own marks: 403 on the
    # researchers' layers is checked on the content, below)
    ("GET", "/api/v1/recordings/{recording_id}/annotations"): member,
    ("POST", "/api/v1/recordings/{recording_id}/annotations"): member,
    ("GET", "/api/v1/annotations/{annotation_id}"): member,
    ("PATCH", "/api/v1/annotations/{annotation_id}"): author,
    ("DELETE", "/api/v1/annotations/{annotation_id}"): author,
    ("GET", "/api/v1/annotations/{annotation_id}/clip"): clip,
    ("POST", "/api/v1/recordings/{recording_id}/transcript"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/transcript.vtt"): member,
    # Automatic transcription: the draft is the researchers' work until validated.
    ("GET", "/api/v1/recordings/{recording_id}/transcription"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/transcription"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/transcription/cancel"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/draft"): researcher,
    ("PATCH", "/api/v1/recordings/{recording_id}/draft"): researcher,
    ("DELETE", "/api/v1/recordings/{recording_id}/draft"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/draft/split"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/draft/merge"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/draft/speakers"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/draft/validate"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/export.eaf"): member,
    ("GET", "/api/v1/recordings/{recording_id}/agreement"): researcher,
    ("GET", "/api/v1/studies/{study_id}/agreement"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/consensus"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/consensus"): researcher,
    ("DELETE", "/api/v1/recordings/{recording_id}/consensus/{decision_id}"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/consensus/agreements"): researcher,
    ("GET", "/recordings/{recording_id}/compare"): researcher,
    # Co-validation: the recording's counsellor answers for themselves, its researchers
    # read and type answers (study 1 has it off: 409 once access passed); exports theirs
    ("GET", "/api/v1/recordings/{recording_id}/covalidation"): member,
    ("PUT", "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}"): member,
    ("DELETE", "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}"): member,
    ("POST", "/recordings/{recording_id}/covalidation/{annotation_id}"): member,
    ("POST", "/recordings/{recording_id}/covalidation/{annotation_id}/delete"): member,
    ("GET", "/api/v1/studies/{study_id}/covalidation.csv"): researcher,
    ("GET", "/api/v1/studies/{study_id}/covalidation.xlsx"): researcher,
    ("GET", "/api/v1/recordings/{recording_id}/chapters.vtt"): member,
    ("GET", "/api/v1/recordings/{recording_id}/segments.vtt"): member,
    ("POST", "/api/v1/recordings/{recording_id}/import/eaf"): researcher,
    ("GET", "/api/v1/studies/{study_id}/export.qdpx"): researcher,
    ("GET", "/api/v1/studies/{study_id}/codebook.qdc"): researcher,
    ("POST", "/api/v1/studies/{study_id}/import/qdpx"): researcher,
    ("POST", "/studies/{study_id}/import/qdpx"): researcher,
    ("GET", "/api/v1/studies/{study_id}/archive.zip"): researcher,
    ("POST", "/api/v1/studies/import"): staff,
    ("POST", "/studies/import"): staff,
    ("GET", "/recordings/{recording_id}/import/eaf"): researcher,
    # Coding rounds: the researchers'; marking one's coding done, its coders'
    ("POST", "/api/v1/studies/{study_id}/rounds"): researcher,
    ("GET", "/api/v1/studies/{study_id}/rounds"): researcher,
    ("GET", "/api/v1/rounds/{round_id}"): researcher,
    ("POST", "/api/v1/rounds/{round_id}/done"): coder,
    ("POST", "/api/v1/rounds/{round_id}/end"): researcher,
    ("POST", "/studies/{study_id}/rounds"): researcher,
    ("POST", "/rounds/{round_id}/done"): coder,
    ("POST", "/rounds/{round_id}/end"): researcher,
    # Consents (researchers record and withdraw them; the counsellor sees those of their
    # recordings) and erasure (a recording: its researchers; a study: admins)
    ("GET", "/api/v1/recordings/{recording_id}/consents"): member,
    ("POST", "/api/v1/recordings/{recording_id}/consents"): researcher,
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): researcher,
    ("POST", "/api/v1/recordings/{recording_id}/erase"): researcher,
    ("POST", "/api/v1/studies/{study_id}/erase"): admin,
    # Tables, exports
    ("GET", "/api/v1/studies/{study_id}/synthesis"): researcher,
    ("GET", "/api/v1/studies/{study_id}/counts"): researcher,
    ("GET", "/api/v1/studies/{study_id}/chronogram"): researcher,
    ("GET", "/api/v1/codebooks/{codebook_id}/sources"): researcher,
    ("GET", "/api/v1/codebooks/{codebook_id}/crosstab"): researcher,
    ("GET", "/api/v1/codebooks/{codebook_id}/segments"): researcher,
    ("GET", "/api/v1/studies/{study_id}/annotations"): member,  # what each member sees
    # Live sessions: the counsellor follows their own, stops it, and (policy) types comments
    ("POST", "/api/v1/recordings/{recording_id}/live"): researcher,
    ("GET", "/api/v1/live/code/{code}"): member,
    ("GET", "/api/v1/live/{session_id}"): member,
    ("WS", "/api/v1/live/{session_id}/ws"): member,
    ("GET", "/api/v1/live/{session_id}/log"): member,
    ("POST", "/api/v1/live/{session_id}/stops"): member,
    ("PATCH", "/api/v1/live/stops/{stop_id}"): researcher,
    ("POST", "/api/v1/live/stops/{stop_id}/comments"): member,
    ("PATCH", "/api/v1/live/comments/{comment_id}"): Rule(AUTHOR),
    ("DELETE", "/api/v1/live/comments/{comment_id}"): Rule(AUTHOR),
    ("PUT", "/api/v1/live/{session_id}/agenda/{prepared_id}"): researcher,
    ("POST", "/api/v1/live/{session_id}/end"): researcher,
    # The session report holds the coding of each stop's moment: researchers only
    ("GET", "/api/v1/interviews/{interview_id}/report"): researcher,
    ("PATCH", "/api/v1/interviews/{interview_id}/recording"): researcher,
    # Reference lists
    ("GET", "/api/v1/health"): public,
    # Operations: probes open to all (they say nothing of the data); metrics for the
    # monitoring system only (they say when sessions take place)
    ("GET", "/healthz"): public,
    ("GET", "/readyz"): public,
    ("GET", "/metrics"): Rule(MONITORING),
    ("GET", "/api/v1/fields"): signed_in,
    ("GET", "/api/v1/system"): signed_in,
    # Pages
    ("GET", "/"): public,  # a redirect to /studies, which asks to sign in
    ("GET", "/login"): public,
    ("GET", "/favicon.ico"): public,
    ("POST", "/login"): public,
    ("POST", "/logout"): Rule(LOGS_OUT),
    ("POST", "/me/language"): signed_in,
    ("GET", "/studies"): signed_in,
    ("POST", "/studies"): staff,
    ("GET", "/studies/{study_id}"): member,
    ("POST", "/studies/{study_id}/recordings"): researcher,
    ("POST", "/studies/{study_id}/settings"): researcher,
    ("POST", "/studies/{study_id}/members/{user_id}/remove"): researcher,
    ("GET", "/studies/{study_id}/admin"): researcher,
    ("POST", "/studies/{study_id}/members"): researcher,  # no username typed: refused after
    ("POST", "/studies/{study_id}/members/{user_id}/role"): researcher,
    ("POST", "/studies/{study_id}/structures"): researcher,
    ("POST", "/studies/{study_id}/counsellors"): researcher,
    ("POST", "/studies/{study_id}/counsellors/{counsellor_id}/account"): researcher,
    ("POST", "/studies/{study_id}/interviews"): researcher,
    ("POST", "/studies/{study_id}/interviews/{interview_id}/recordings"): researcher,
    ("GET", "/studies/{study_id}/codebooks"): member,
    ("GET", "/studies/{study_id}/synthesis"): researcher,
    ("GET", "/studies/{study_id}/agreement"): researcher,
    ("GET", "/studies/{study_id}/agreement/report.csv"): researcher,  # no coders: refused after
    ("GET", "/studies/{study_id}/agreement/report.xlsx"): researcher,
    ("GET", "/studies/{study_id}/agreement/report.html"): researcher,
    ("GET", "/studies/{study_id}/erase"): admin,
    ("POST", "/studies/{study_id}/erase"): admin,  # without the name typed: nothing erased
    ("GET", "/recordings/{recording_id}"): member,
    ("GET", "/recordings/{recording_id}/preparation"): member,
    ("POST", "/recordings/{recording_id}/retry"): researcher,
    ("POST", "/recordings/{recording_id}/cancel"): researcher,
    ("POST", "/recordings/{recording_id}/delete"): researcher,
    ("POST", "/recordings/{recording_id}/transcript"): researcher,
    ("POST", "/recordings/{recording_id}/transcription"): researcher,
    ("POST", "/recordings/{recording_id}/transcription/cancel"): researcher,
    ("POST", "/recordings/{recording_id}/draft/validate"): researcher,
    ("POST", "/recordings/{recording_id}/draft/discard"): researcher,
    ("POST", "/recordings/{recording_id}/live"): researcher,
    ("POST", "/recordings/{recording_id}/counsellor"): researcher,
    ("POST", "/recordings/{recording_id}/consents"): researcher,
    ("POST", "/consents/{consent_id}/withdraw"): researcher,
    ("GET", "/recordings/{recording_id}/erase"): researcher,
    ("POST", "/recordings/{recording_id}/erase"): researcher,  # without the code typed
    ("GET", "/live"): signed_in,
    ("GET", "/live/{session_id}"): member,
    ("POST", "/live/{session_id}/end"): researcher,
    ("GET", "/stops/{stop_id}"): researcher,  # opens the session report
    ("GET", "/interviews/{interview_id}/report"): researcher,
    ("POST", "/interviews/{interview_id}/recording"): researcher,
    ("GET", "/audit"): admin,
    ("GET", "/account"): signed_in,
    ("POST", "/account/password"): signed_in,  # a wrong current password: refused after
    ("POST", "/account/tokens"): signed_in,
    ("POST", "/account/tokens/{token_id}/revoke"): owner,
    ("GET", "/users"): admin,
    ("POST", "/users/{user_id}/active"): admin,
}

_TUS = (
    "tus protocol (tuspyserver): the study is named in Upload-Metadata, not in the path, and "
    "an upload id is its creator's; tests/api/test_tus_uploads.py checks who uploads where"
)
SKIPPED: dict[Key, str] = {
    ("GET", "/api/v1/openapi.json"): "the API's description: public, no data",
    ("HEAD", "/api/v1/openapi.json"): "the API's description: public, no data",
    ("GET", "/api/v1/docs"): "Swagger UI: a static page",
    ("HEAD", "/api/v1/docs"): "Swagger UI: a static page",
    ("GET", "/docs/oauth2-redirect"): "Swagger UI's OAuth2 helper: a static page",
    ("HEAD", "/docs/oauth2-redirect"): "Swagger UI's OAuth2 helper: a static page",
    ("OPTIONS", "/api/v1/uploads/"): _TUS,
    ("POST", "/api/v1/uploads/"): _TUS,
    ("POST", "/api/v1/uploads"): _TUS,
    ("HEAD", "/api/v1/uploads/{uuid}"): _TUS,
    ("PATCH", "/api/v1/uploads/{uuid}"): _TUS,
    ("DELETE", "/api/v1/uploads/{uuid}"): _TUS,
}
SKIPPED_MOUNTS = {"/static": "static files (CSS, JS, vendored libraries): public"}

# Routes that change the caller's own sign-in: called from a client of their own.
OWN_CLIENT = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/login"),
    ("POST", "/logout"),
}
# Routes that destroy or replace: the parameter named here gets a throwaway object per call.
FRESH: dict[Key, str] = {
    ("DELETE", "/api/v1/me/tokens/{token_id}"): "token_id",
    ("POST", "/account/tokens/{token_id}/revoke"): "token_id",
    ("DELETE", "/api/v1/studies/{study_id}/members/{user_id}"): "user_id",
    ("POST", "/studies/{study_id}/members/{user_id}/remove"): "user_id",
    ("POST", "/studies/{study_id}/members/{user_id}/role"): "user_id",
    ("DELETE", "/api/v1/codes/{code_id}"): "code_id",
    ("DELETE", "/api/v1/recordings/{recording_id}"): "recording_id",
    ("POST", "/api/v1/recordings/{recording_id}/retry"): "recording_id",
    ("POST", "/api/v1/recordings/{recording_id}/cancel"): "recording_id",
    ("POST", "/api/v1/recordings/{recording_id}/transcript"): "recording_id",
    ("POST", "/recordings/{recording_id}/retry"): "recording_id",
    ("POST", "/recordings/{recording_id}/cancel"): "recording_id",
    ("POST", "/recordings/{recording_id}/delete"): "recording_id",
    ("POST", "/recordings/{recording_id}/transcript"): "recording_id",
    # Validating a draft replaces the recording's transcript (the world's cue with it).
    ("POST", "/api/v1/recordings/{recording_id}/draft/validate"): "recording_id",
    ("POST", "/recordings/{recording_id}/draft/validate"): "recording_id",
    ("DELETE", "/api/v1/annotations/{annotation_id}"): "annotation_id",
    ("POST", "/api/v1/consents/{consent_id}/withdraw"): "consent_id",
    ("POST", "/consents/{consent_id}/withdraw"): "consent_id",
    ("POST", "/api/v1/recordings/{recording_id}/erase"): "recording_id",
    ("POST", "/api/v1/studies/{study_id}/erase"): "study_id",
    ("DELETE", "/api/v1/live/comments/{comment_id}"): "comment_id",
    ("POST", "/api/v1/live/{session_id}/end"): "session_id",
    ("POST", "/live/{session_id}/end"): "session_id",
    ("POST", "/api/v1/rounds/{round_id}/end"): "round_id",
    ("DELETE", "/api/v1/recordings/{recording_id}/consensus/{decision_id}"): "decision_id",
    ("DELETE", "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}"): "annotation_id",
    ("POST", "/recordings/{recording_id}/covalidation/{annotation_id}/delete"): "annotation_id",
    ("POST", "/rounds/{round_id}/end"): "round_id",
}

# --------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    engine: Engine
    settings: Settings
    people: dict[str, factories.Account]
    api: dict[str, TestClient]  # Bearer token per role (anonymous: none)
    pages: dict[str, TestClient]  # session cookie per role, asking for HTML
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> variant -> id
    counsellor_ids: dict[str, int] = field(default_factory=dict)  # c1/c2 -> counsellor record
    codes: dict[str, int] = field(default_factory=dict)  # codebook kind -> a code (study 1)
    prepared: dict[str, int] = field(default_factory=dict)  # live variant -> a prepared mark
    sprite: str = "sprite-001.jpg"
    counter: Iterator[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def id(self, kind: str, variant: str) -> Any:
        return self.ids[kind][variant]


def new_client(app: FastAPI, page: bool, headers: dict[str, str] | None = None) -> TestClient:
    base = {"accept": "text/html"} if page else {}
    return factories.PageClient(
        app, raise_server_exceptions=False, follow_redirects=False, headers=base | (headers or {})
    )


def created(response: Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


RECORDING_OWNERS = {"c1": (R1, "s1"), "c2": (R1, "s1"), "s1": (R1, "s1"), "s2": (R2, "s2")}


def make_recording(world: World, variant: str, code: str | None = None) -> int:
    """A recording (a few bytes, never processed) in the situation of `variant`."""
    who, study = RECORDING_OWNERS[variant]
    client, study_id = world.api[who], world.id("study", study)
    code = code or world.unique("T-")
    if variant in (C1, C2):
        owner = world.counsellor_ids[variant]
        response = factories.upload(client, study_id, code, b"not processed", counsellor_id=owner)
    else:
        response = factories.upload(client, study_id, code, b"not processed")
    return int(created(response)["id"])


ANNOTATION_SPECS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # variant: (author, recording variant, body)
    "c1": (C1, "c1", {"origin": "prepared", "shared": True}),
    "c2": (C2, "c2", {"origin": "prepared", "shared": True}),
    "s1": (R1, "c1", {"origin": "prepared", "shared": True}),
    "s2": (R2, "s2", {"origin": "prepared", "shared": True}),
    "private": (R1, "c1", {"origin": "prepared"}),
    "shown": (R1, "c1", {"origin": "prepared", "shared": True, "shown_to_counsellor": True}),
    "schemes": (R1, "c1", {"end_ms": 4_000, "code": "schemes"}),
    "consensus": (R1, "c1", {"end_ms": 4_000, "code": "schemes", "layer": "consensus"}),
    "phases": (R1, "c1", {"end_ms": 4_000, "code": "phases"}),
    "categories": (R1, "c1", {"end_ms": 4_000, "code": "categories"}),
}


def make_annotation(world: World, variant: str, note: str) -> int:
    if variant in ("transcript", "stop"):  # made once; deleting them is refused to all
        return int(world.id("annotation", variant))
    who, recording, spec = ANNOTATION_SPECS[variant]
    body: dict[str, Any] = {"start_ms": 2_000, "note": note, **spec}
    if "code" in body:
        body["code_ids"] = [world.codes[body.pop("code")]]
    url = f"/api/v1/recordings/{world.id('recording', recording)}/annotations"
    return int(created(world.api[who].post(url, json=body))["id"])


def make_live(world: World, variant: str) -> dict[str, Any]:
    who = R2 if variant == "s2" else R1
    url = f"/api/v1/recordings/{world.id('recording', variant)}/live"
    started: dict[str, Any] = created(world.api[who].post(url))
    return started


def make_comment(world: World, variant: str, text: str) -> int:
    who = R2 if variant == "s2" else R1
    url = f"/api/v1/live/stops/{world.id('stop', variant)}/comments"
    return int(
        created(world.api[who].post(url, json={"speaker": "counsellor", "text": text}))["id"]
    )


def make_code(world: World, variant: str) -> int:
    who = R2 if variant == "s2" else R1
    url = f"/api/v1/codebooks/{world.id('codebook', variant)}/codes"
    return int(created(world.api[who].post(url, json={"label": world.unique("jetable ")}))["id"])


def make_token(world: World, username: str) -> int:
    with session_scope(world.engine) as session:
        user = accounts.get_user(session, username)
        token, _ = accounts.issue_token(session, user, accounts.API, name="jetable")
        assert token.id is not None
        return token.id


def make_member(world: World, variant: str) -> int:
    """A throwaway account, counsellor member of the study of `variant`."""
    name = world.unique("membre")
    person = factories.account(world.engine, name, "counsellor")
    who = R2 if variant == "s2" else R1
    url = f"/api/v1/studies/{world.id('study', variant)}/members"
    created(world.api[who].post(url, json={"username": name, "role": "counsellor"}))
    return person.id


def give_consent(world: World, variant: str, recording_id: int, party: str) -> int:
    owner = R2 if variant == "s2" else R1
    body = {"party": party, "scopes": ["research", "training"], "given_on": "2026-01-01"}
    url = f"/api/v1/recordings/{recording_id}/consents"
    return int(created(world.api[owner].post(url, json=body))["id"])


def make_consent(world: World, variant: str) -> int:
    return give_consent(world, variant, make_recording(world, variant), "counsellor")


def make_study(world: World, variant: str) -> int:
    """A study like study 1 (R1, C1 and C2 in it) or study 2 (R2)."""
    who = R2 if variant == "s2" else R1
    study = created(world.api[who].post("/api/v1/studies", json={"name": "Jetable"}))["id"]
    if variant == "s1":
        for username in ("camille", "chris"):
            body = {"username": username, "role": "counsellor"}
            created(world.api[R1].post(f"/api/v1/studies/{study}/members", json=body))
    return int(study)


def fresh(world: World, param: str, kind: str, variant: str, role: str) -> Any:
    """A throwaway object for one call of a route that destroys or replaces."""
    if variant == UNKNOWN:
        return UNKNOWN_ID
    if param == "token_id":
        owner_role = role if variant == "own" and role != ANON else None
        if owner_role is None:  # someone else's
            owner_role = R1 if role == ADMIN_ROLE else ADMIN_ROLE
        return make_token(world, world.people[owner_role].username)
    if param == "user_id":
        return make_member(world, variant)
    if param == "recording_id":
        return make_recording(world, variant)
    if param == "annotation_id":
        return make_annotation(world, variant, "jetable")
    if param == "comment_id":
        return make_comment(world, variant, "jetable")
    if param == "session_id":
        return make_live(world, variant)["id"]
    if param == "code_id":
        return make_code(world, variant)
    if param == "consent_id":
        return make_consent(world, variant)
    if param == "study_id":
        return make_study(world, variant)
    if param == "round_id":
        return make_round(world, variant)
    if param == "decision_id":
        return make_decision(world, variant)
    raise AssertionError(f"no throwaway {param} for {kind}")


def make_round(world: World, variant: str) -> int:
    """A round (not blind: it holds nothing) on a recording of its own, in the study of
    `variant`, its researcher and Zoé coding."""
    who = R2 if variant == "s2" else R1
    body = {
        "name": world.unique("Tour "),
        "recording_ids": [make_recording(world, variant)],
        "coder_ids": [world.people[who].id, world.id("account", "any")],
        "blind": False,
    }
    url = f"/api/v1/studies/{world.id('study', variant)}/rounds"
    return int(created(world.api[who].post(url, json=body))["id"])


def make_decision(world: World, variant: str) -> int:
    """A consensus decision (a new segment) on the recording of `variant`."""
    who = R2 if variant == "s2" else R1
    code = world.id("code", "s2") if variant == "s2" else world.codes["schemes"]
    body = {"kind": "new", "start_ms": 0, "end_ms": 1_000, "code_ids": [code]}
    url = f"/api/v1/recordings/{world.id('recording', variant)}/consensus"
    return int(created(world.api[who].post(url, json=body))["id"])


def record_consents(world: World) -> None:
    """Both parties' consent on the world's recordings (`processed` gave C1's already)."""
    world.ids["consent"] = {}
    for variant, recording_id in world.ids["recording"].items():
        owner = world.api[R2 if variant == "s2" else R1]
        url = f"/api/v1/recordings/{recording_id}/consents"
        given = {c["party"] for c in created(owner.get(url))}
        for party in CONSENT_PARTIES:
            if party not in given:
                give_consent(world, variant, recording_id, party)
        world.ids["consent"][variant] = created(owner.get(url))[0]["id"]


def build_world(app: FastAPI, settings: Settings) -> World:
    engine: Engine = app.state.engine
    people = {
        ADMIN_ROLE: factories.account(engine, "ada", "admin"),
        R1: factories.account(engine, "rachel", "researcher"),
        R2: factories.account(engine, "robin", "researcher"),
    }
    api = {role: new_client(app, False, factories.token(engine, p)) for role, p in people.items()}
    world = World(app, engine, settings, people, api, {})
    r1, r2 = api[R1], api[R2]
    s1 = created(r1.post("/api/v1/studies", json={"name": "Étude 1"}))["id"]
    s2 = created(r2.post("/api/v1/studies", json={"name": "Étude 2"}))["id"]
    world.ids["study"] = {"s1": s1, "s2": s2}
    for role, name in ((C1, "camille"), (C2, "chris")):
        person, record = factories.counsellor_member(engine, r1, s1, name, role.upper())
        people[role] = person
        world.counsellor_ids[role] = record
        api[role] = new_client(app, False, factories.token(engine, person))
    world.ids["account"] = {"any": factories.account(engine, "zoe", "researcher").id}
    for client, study in ((r1, s1), (r2, s2)):  # a second coder for the rounds
        zoe = {"username": "zoe", "role": "researcher"}
        created(client.post(f"/api/v1/studies/{study}/members", json=zoe))
    api[ANON] = new_client(app, False)
    for role in ROLES:
        world.pages[role] = new_client(app, True)
        if role != ANON:
            factories.login(world.pages[role], people[role])

    # C1's recording is processed first (the job runner takes every queued recording).
    mine = factories.processed(r1, engine, settings, s1, "C1 - 1")
    assert mine["status"] == "ready", mine
    patched = r1.patch(
        f"/api/v1/recordings/{mine['id']}", json={"counsellor_id": world.counsellor_ids[C1]}
    )
    assert patched.status_code == 200, patched.text
    world.ids["recording"] = {"c1": mine["id"]}
    for variant in ("c2", "s1", "s2"):
        world.ids["recording"][variant] = make_recording(world, variant, f"{variant.upper()} - 1")
    record_consents(world)
    vtt = r1.get(f"/api/v1/recordings/{mine['id']}/thumbnails.vtt")
    found = re.search(r"sprite-\d{3}\.jpg", vtt.text)
    world.sprite = found.group(0) if found else world.sprite

    world.ids["interview"] = {}
    for variant in ("c1", "c2", "s1", "s2"):
        body: dict[str, Any] = {"code": f"E-{variant}"}
        body["recording_ids"] = [world.id("recording", variant)]
        if variant in ("c1", "c2"):
            body["counsellor_id"] = world.counsellor_ids[variant]
        who, study = RECORDING_OWNERS[variant]
        url = f"/api/v1/studies/{world.id('study', study)}/interviews"
        world.ids["interview"][variant] = created(api[who].post(url, json=body))["id"]

    for study in ("s1", "s2"):
        reader = r2 if study == "s2" else r1
        books = created(reader.get(f"/api/v1/studies/{world.id('study', study)}/codebooks"))
        schemes = next(b for b in books if b["kind"] == "schemes")
        world.ids.setdefault("codebook", {})[study] = schemes["id"]
        world.ids.setdefault("code", {})[study] = schemes["codes"][0]["id"]
        if study == "s1":
            world.codes = {b["kind"]: b["codes"][-1]["id"] for b in books}

    marks = {v: make_annotation(world, v, NOTES[v]) for v in ANNOTATION_SPECS}
    transcript = r1.post(
        f"/api/v1/recordings/{mine['id']}/transcript",
        files={"file": ("seance.vtt", factories.DEMO_TRANSCRIPT.read_bytes(), "text/vtt")},
    )
    assert transcript.status_code == 200, transcript.text
    listed = created(r1.get(f"/api/v1/recordings/{mine['id']}/annotations"))
    marks["transcript"] = next(a["id"] for a in listed if a["layer"] == "transcript")

    lives = {variant: make_live(world, variant) for variant in ("c1", "c2", "s2")}
    world.ids["live"] = {v: live["id"] for v, live in lives.items()}
    world.ids["livecode"] = {v: live["code"] for v, live in lives.items()}
    stops = {}
    for variant, who_role in (("c1", C1), ("c2", C2), ("s2", R2)):
        url = f"/api/v1/live/{world.id('live', variant)}/stops"
        stops[variant] = created(api[who_role].post(url, json={"position_ms": 10_000}))["id"]
    world.ids["stop"] = stops
    marks["stop"] = stops["c1"]
    world.ids["annotation"] = marks
    world.ids["comment"] = {
        variant: make_comment(world, variant, COMMENT_TEXT if variant == "c1" else "Dit là.")
        for variant in ("c1", "c2", "s2")
    }
    world.prepared = {"c1": marks["shown"], "c2": marks["c2"], "s2": marks["s2"]}
    world.ids["round"] = {variant: make_round(world, variant) for variant in ("s1", "s2")}
    world.ids["token"] = {"own": None, "other": None}  # made per call
    return world


@pytest.fixture(scope="module")
def app_under_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder = tmp_path_factory.mktemp("matrix")
    settings = settings_for(
        folder / "data",
        max_upload_bytes=5 * 1024 * 1024,
        media_workers=0,
        metrics_token="m" * 32,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    support.migrated(settings)
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture(scope="module")
def world(app_under_test: FastAPI) -> Iterator[World]:
    with factories.PageClient(app_under_test):  # the lifespan, for the whole module
        yield build_world(app_under_test, app_under_test.state.settings)


# --------------------------------------------------------------------------------------
# The route table
# --------------------------------------------------------------------------------------


def route_table(app: FastAPI) -> set[Key]:
    """Every (method, path) the application answers, the WebSocket as "WS"; the mounts
    apart. (`iter_route_contexts`: FastAPI keeps included routers nested in `app.routes`.)"""
    found: set[Key] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path or ""
        if isinstance(route, Mount):
            assert path in SKIPPED_MOUNTS, f"new mount {path}: say who may read it"
            continue
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            found.add(("WS", path))
            continue
        found.update((method, path) for method in context.methods or ())
    return found


def test_every_route_says_who_may_use_it(app_under_test: FastAPI) -> None:
    table = route_table(app_under_test)
    missing = sorted(table - EXPECTATIONS.keys() - SKIPPED.keys())
    assert not missing, "new route: say who may use it in EXPECTATIONS:\n" + "\n".join(
        f"  {method} {path}" for method, path in missing
    )
    gone = sorted((EXPECTATIONS.keys() | SKIPPED.keys()) - table)
    assert not gone, "route gone: remove it from EXPECTATIONS/SKIPPED:\n" + "\n".join(
        f"  {method} {path}" for method, path in gone
    )
    with factories.PageClient(app_under_test) as client:
        schema = client.get("/api/v1/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented <= table


# --------------------------------------------------------------------------------------
# Bodies: minimal valid input, so that the access check is what answers
# --------------------------------------------------------------------------------------

Body = Callable[[World, str, str], dict[str, Any]]  # (world, role, variant) -> request kwargs


def _no_body(world: World, role: str, variant: str) -> dict[str, Any]:
    return {}


def _json(value: Any) -> Body:
    return lambda world, role, variant: {"json": value}


def _credentials(page: bool) -> Body:
    def body(world: World, role: str, variant: str) -> dict[str, Any]:
        person = world.people[R1 if role == ANON else role]
        fields = {"username": person.username, "password": person.password}
        return {"data": {**fields, "next": "/studies"}} if page else {"json": fields}

    return body


def _upload(world: World, role: str, variant: str) -> dict[str, Any]:
    return {
        "data": {"code": world.unique("U-")},
        "files": {"file": ("seance.mp4", b"not processed", "video/mp4")},
    }


def _transcript(world: World, role: str, variant: str) -> dict[str, Any]:
    content = factories.DEMO_TRANSCRIPT.read_bytes()
    return {"files": {"file": ("seance.vtt", content, "text/vtt")}}


def _eaf(world: World, role: str, variant: str) -> dict[str, Any]:
    content = (Path(__file__).parents[1] / "data/eaf/old-2.7.eaf").read_bytes()
    return {"files": {"file": ("codage.eaf", content, "application/xml")}}  # a preview


def _qdpx(world: World, role: str, variant: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # an empty project: nothing to import
        archive.writestr("project.qde", '<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>')
    return {"files": {"file": ("vide.qdpx", buffer.getvalue(), "application/zip")}}


def _member(world: World, role: str, variant: str) -> dict[str, Any]:
    # Someone already there, with the role they have: the call changes nothing.
    if variant == "s2":
        return {"json": {"username": "robin", "role": "researcher"}}
    return {"json": {"username": "camille", "role": "counsellor"}}


def _settings_form(world: World, role: str, variant: str) -> dict[str, Any]:
    # Unchecked boxes are not sent: this keeps consent required and co-validation off.
    return {"data": {"consent_required": "true"}}


def _draft_cue(fields: dict[str, Any]) -> Body:
    """A cue of a new two-cue draft of the path's recording, at version 1, and `fields`."""

    def body(world: World, role: str, variant: str) -> dict[str, Any]:
        cue_id = UNKNOWN_ID
        if variant != UNKNOWN:
            recording_id = world.id("recording", variant)
            words = (Word(0, 600, " Bonjour", 1.0), Word(700, 1500, " monsieur.", 1.0))
            turns = [
                Turn(0, 1500, "Conseillère", "Bonjour monsieur.", words),
                Turn(2000, 3000, "Bénéficiaire", "Bonjour.", ()),
            ]
            with session_scope(world.engine) as session:
                replace_draft(session, recording_id, turns)
                cue_id = drafts.draft_of(session, recording_id)[0].id or UNKNOWN_ID
        return {"json": {"cue_id": cue_id, "version": 1, **fields}}

    return body


BODIES: dict[Key, Body] = {
    ("POST", "/api/v1/auth/login"): _credentials(page=False),
    ("POST", "/login"): _credentials(page=True),
    ("PATCH", "/api/v1/me"): _json({}),
    ("POST", "/api/v1/me/password"): _json(
        {"current_password": "not the password", "new_password": "another long password"}
    ),
    ("POST", "/api/v1/me/tokens"): _json({"name": "matrice"}),
    ("PATCH", "/api/v1/users/{user_id}"): _json({"is_active": True}),
    ("POST", "/api/v1/studies"): _json({"name": "Étude de la matrice"}),
    ("PATCH", "/api/v1/studies/{study_id}"): _json({}),
    ("POST", "/api/v1/studies/{study_id}/members"): _member,
    ("POST", "/api/v1/studies/{study_id}/structures"): lambda w, r, v: {
        "json": {"code": w.unique("ST")}
    },
    ("POST", "/api/v1/studies/{study_id}/counsellors"): lambda w, r, v: {
        "json": {"code": w.unique("Z")}
    },
    ("POST", "/api/v1/studies/{study_id}/interviews"): lambda w, r, v: {
        "json": {"code": w.unique("EZ")}
    },
    ("POST", "/api/v1/codebooks/{codebook_id}/codes"): lambda w, r, v: {
        "json": {"label": w.unique("matrice ")}
    },
    ("PATCH", "/api/v1/codes/{code_id}"): _json({}),
    ("POST", "/api/v1/studies/{study_id}/recordings"): _upload,
    ("PATCH", "/api/v1/recordings/{recording_id}"): _json({}),
    ("POST", "/api/v1/recordings/{recording_id}/annotations"): _json(
        {"start_ms": 1_000, "origin": "prepared", "note": "matrice"}
    ),
    ("PATCH", "/api/v1/annotations/{annotation_id}"): _json({"version": 1}),
    ("POST", "/api/v1/recordings/{recording_id}/transcript"): _transcript,
    ("PATCH", "/api/v1/recordings/{recording_id}/draft"): _draft_cue({"text": "Bonjour."}),
    ("POST", "/api/v1/recordings/{recording_id}/draft/split"): _draft_cue({"at": 8}),
    ("POST", "/api/v1/recordings/{recording_id}/draft/merge"): _draft_cue({}),
    ("POST", "/api/v1/recordings/{recording_id}/draft/speakers"): _json(
        {"names": {"Conseillère": "Bénéficiaire", "Bénéficiaire": "Conseillère"}}
    ),
    ("POST", "/api/v1/recordings/{recording_id}/import/eaf"): _eaf,
    ("POST", "/api/v1/studies/{study_id}/import/qdpx"): _qdpx,
    ("POST", "/studies/{study_id}/import/qdpx"): _qdpx,
    ("POST", "/api/v1/live/{session_id}/stops"): _json({"position_ms": 1_000}),
    ("PATCH", "/api/v1/live/stops/{stop_id}"): _json({"prepared_id": None}),
    ("POST", "/api/v1/live/stops/{stop_id}/comments"): _json(
        {"speaker": "counsellor", "text": "matrice"}
    ),
    ("PATCH", "/api/v1/live/comments/{comment_id}"): _json({"version": 1}),
    ("DELETE", "/api/v1/live/comments/{comment_id}"): lambda w, r, v: {"params": {"version": 1}},
    ("PUT", "/api/v1/live/{session_id}/agenda/{prepared_id}"): _json({"status": "planned"}),
    ("PATCH", "/api/v1/interviews/{interview_id}/recording"): _json({"recording_id": None}),
    # One consent in force per party: recording it again is refused (409) once access passed.
    ("POST", "/api/v1/recordings/{recording_id}/consents"): _json(
        {"party": "counsellor", "scopes": ["research"], "given_on": "2026-01-01"}
    ),
    ("POST", "/recordings/{recording_id}/counsellor"): lambda w, r, v: {
        "data": {"counsellor_id": ""}
    },
    ("POST", "/recordings/{recording_id}/consents"): lambda w, r, v: {
        "data": {"party": "counsellor", "scopes": ["research"], "given_on": "2026-01-01"}
    },
    ("POST", "/me/language"): lambda w, r, v: {"data": {"language": "fr"}},
    # One coder named twice: refused (422) once access passed; nothing is started.
    ("POST", "/api/v1/studies/{study_id}/rounds"): lambda w, r, v: {
        "json": {"name": "matrice", "recording_ids": [1], "coder_ids": [1, 1]}
    },
    ("POST", "/studies/{study_id}/rounds"): lambda w, r, v: {
        "data": {"name": "matrice", "recording_ids": ["1"], "coder_ids": ["1"]}
    },
    # No interval: refused (422) once access passed.
    ("POST", "/api/v1/recordings/{recording_id}/consensus"): _json({"kind": "none"}),
    ("PUT", "/api/v1/recordings/{recording_id}/covalidation/{annotation_id}"): _json(
        {"state": "agreed"}
    ),
    ("POST", "/recordings/{recording_id}/covalidation/{annotation_id}"): lambda w, r, v: {
        "data": {"state": "agreed"}
    },
    # One coder named twice: refused (422) once access passed; nothing is adopted.
    ("POST", "/api/v1/recordings/{recording_id}/consensus/agreements"): _json(
        {"coder_ids": [1, 1]}
    ),
    # Taking back one's "done": the round stays open for the next call.
    ("POST", "/api/v1/rounds/{round_id}/done"): _json({"done": False}),
    ("POST", "/rounds/{round_id}/done"): lambda w, r, v: {"data": {"done": "false"}},
    ("POST", "/account/password"): lambda w, r, v: {
        "data": {
            "current_password": "not the password",
            "new_password": "another long password",
            "confirmation": "another long password",
        }
    },
    ("POST", "/account/tokens"): lambda w, r, v: {"data": {"name": "matrice"}},
    ("POST", "/users/{user_id}/active"): lambda w, r, v: {"data": {"is_active": "true"}},
    ("POST", "/studies"): lambda w, r, v: {"data": {"name": "Étude de la matrice"}},
    ("POST", "/studies/{study_id}/recordings"): _upload,
    ("POST", "/studies/{study_id}/settings"): _settings_form,
    ("POST", "/recordings/{recording_id}/transcript"): _transcript,
}

# --------------------------------------------------------------------------------------
# Calling a route and judging the answer
# --------------------------------------------------------------------------------------

PARAM = re.compile(r"{(\w+)}")


def primary_kind(path: str) -> str | None:
    """What the path names first (a study, a recording…); None: nothing."""
    for name in PARAM.findall(path):
        if name == "user_id" and "/members/" in path:
            continue  # the member is the study's: the study decides
        if name in PARAM_KINDS:
            return PARAM_KINDS[name]
    return None


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str

    def judged(self, page: bool) -> str:
        if self.status == 401 or (page and self.location.startswith("/login")):
            return "login"
        if self.status == 403:
            return "forbidden"
        if self.status == 404:
            return "404"
        if 200 <= self.status < 400 or self.status in (400, 409, 422):
            return "ok"
        return f"status {self.status}"


def path_values(
    world: World, key: Key, kind: str | None, variant: str, role: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in PARAM.findall(key[1]):
        if name == "sprite":
            values[name] = world.sprite
        elif FRESH.get(key) == name:
            values[name] = fresh(world, name, kind or "", variant, role)
        elif variant == UNKNOWN:
            values[name] = UNKNOWN_LIVE_CODE if name == "code" else UNKNOWN_ID
        elif name == "prepared_id":
            values[name] = world.prepared[variant]
        elif name == "counsellor_id":  # the study decides; an unknown one is refused after
            values[name] = UNKNOWN_ID
        else:
            values[name] = world.id(PARAM_KINDS[name], variant)
    return values


def call(world: World, key: Key, role: str, values: dict[str, Any], variant: str) -> Answer:
    method, template = key
    url = PARAM.sub(lambda m: str(values[m.group(1)]), template)
    page = not template.startswith("/api/")
    if key in OWN_CLIENT:
        client = new_client(world.app, page)
        if role != ANON:
            factories.login(client, world.people[role])
    else:
        client = (world.pages if page else world.api)[role]
    if method == "WS":
        try:
            with client.websocket_connect(url) as socket:
                first = socket.receive_json()
                return Answer(200 if first.get("type") == "state" else 500, "", json.dumps(first))
        except WebSocketDisconnect as closed:
            # A socket has no 401 nor 404: a refused one is closed before it opens. Read
            # as "login" for the anonymous, else as a 404 compared with an unknown id's.
            return Answer(401 if role == ANON else 404, "", f"closed {closed.code}")
    body = BODIES.get(key, _no_body)(world, role, variant)
    response = client.request(method, url, **body)
    return Answer(response.status_code, response.headers.get("location", ""), response.text)


def gist(text: str) -> str:
    """What an answer says, in short: an error page's message, else its beginning."""
    found = re.search(r'class="card error-page">.*?<p>(.*?)</p>', text, re.S)
    return (found.group(1) if found else text)[:160].replace("\n", " ")


def same_as_unknown(answer: Answer, unknown: Answer, values: list[Any]) -> bool:
    """Whether a 404 says no more than the one an unknown id gets, ids aside."""

    def normal(text: str) -> str:
        for value in sorted({str(v) for v in values}, key=len, reverse=True):
            text = text.replace(value, "#")
        return text

    return unknown.status == 404 and normal(answer.text) == normal(unknown.text)


def check_route(world: World, key: Key) -> list[str]:
    rule = EXPECTATIONS[key]
    kind = primary_kind(key[1])
    tried = ["-"] if kind is None else [*(rule.only or world.ids[kind]), UNKNOWN]
    page = not key[1].startswith("/api/")
    failures = []
    for role in ROLES:
        unknown: Answer | None = None
        unknown_values: dict[str, Any] = {}
        if kind is not None:
            unknown_values = path_values(world, key, kind, UNKNOWN, role)
            unknown = call(world, key, role, unknown_values, UNKNOWN)
        for variant in tried:
            want = expected(rule, role, kind, variant)
            if variant == UNKNOWN:
                values, answer = unknown_values, unknown
            else:
                values = path_values(world, key, kind, variant, role)
                answer = call(world, key, role, values, variant)
            assert answer is not None
            got = answer.judged(page)
            if got == "404" and unknown is not None:
                all_values = [*values.values(), *unknown_values.values()]
                got = "hidden" if same_as_unknown(answer, unknown, all_values) else "404 unlike"
            if got != want:
                detail = gist(answer.text)
                if got == "404 unlike" and unknown is not None:
                    detail += f" | unknown id: {gist(unknown.text)}"
                failures.append(
                    f"{key[0]} {key[1]} as {role} on {variant}: expected {want}, got {got} "
                    f"({answer.status} {answer.location} {detail})"
                )
    return failures


def test_every_route_answers_as_the_policy_says(world: World) -> None:
    table = route_table(world.app)
    failures = []
    for key in sorted(EXPECTATIONS.keys() & table):
        failures += check_route(world, key)
    assert not failures, f"{len(failures)} unexpected answers:\n" + "\n".join(failures)


# --------------------------------------------------------------------------------------
# What a counsellor sees and writes on their own recording
# --------------------------------------------------------------------------------------

NOT_FOR_C1 = ("s1", "private", "schemes", "consensus", "phases", "categories")


def annotator_data(html: str) -> dict[str, Any]:
    found = re.search(
        r"<script type=\"application/json\" data-annotator-data>(.*?)</script>", html, re.S
    )
    assert found, "the recording page holds no annotator data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_a_counsellor_sees_none_of_the_coding_nor_the_researchers_marks(world: World) -> None:
    recording = world.id("recording", "c1")
    listed = created(world.api[C1].get(f"/api/v1/recordings/{recording}/annotations"))
    ids = {a["id"] for a in listed}
    hidden = {world.id("annotation", v) for v in NOT_FOR_C1}
    assert not ids & hidden
    assert {world.id("annotation", v) for v in SEEN_BY_C1} <= ids
    assert not {a["layer"] for a in listed} & set(CODING_LAYERS)
    for variant in NOT_FOR_C1:
        assert not any(NOTES[variant] in a["note"] for a in listed), variant

    page = world.pages[C1].get(f"/recordings/{recording}")
    assert page.status_code == 200, page.text[:300]
    data = annotator_data(page.text)
    assert not {a["id"] for a in data["annotations"]} & hidden
    assert not {a["layer"] for a in data["annotations"]} & set(CODING_LAYERS)
    for variant in NOT_FOR_C1:
        assert NOTES[variant] not in page.text, variant
    assert NOTES["c1"] in page.text and NOTES["shown"] in page.text

    notes = world.pages[C1].get(f"/recordings/{recording}/preparation")
    assert notes.status_code == 200
    for variant in NOT_FOR_C1:
        assert NOTES[variant] not in notes.text, variant
    assert NOTES["c1"] in notes.text and NOTES["shown"] in notes.text


def test_a_counsellor_lists_only_their_own(world: World) -> None:
    c1, s1, s2 = world.api[C1], world.id("study", "s1"), world.id("study", "s2")
    studies = {s["id"] for s in created(c1.get("/api/v1/studies"))}
    assert s1 in studies and s2 not in studies
    recordings = created(c1.get(f"/api/v1/studies/{s1}/recordings"))
    assert world.id("recording", "c1") in {r["id"] for r in recordings}
    assert {r["counsellor_id"] for r in recordings} == {world.counsellor_ids[C1]}
    interviews = created(c1.get(f"/api/v1/studies/{s1}/interviews"))
    assert world.id("interview", "c1") in {i["id"] for i in interviews}
    assert {i["counsellor_id"] for i in interviews} == {world.counsellor_ids[C1]}
    counsellors = created(c1.get(f"/api/v1/studies/{s1}/counsellors"))
    assert [c["id"] for c in counsellors] == [world.counsellor_ids[C1]]
    members = {m["username"] for m in created(c1.get(f"/api/v1/studies/{s1}/members"))}
    assert "chris" not in members and "camille" in members
    assert s1 not in {s["id"] for s in created(world.api[R2].get("/api/v1/studies"))}


def test_a_counsellor_follows_the_stops_and_comments_of_their_session(world: World) -> None:
    log = created(world.api[C1].get(f"/api/v1/live/{world.id('live', 'c1')}/log"))
    assert world.id("stop", "c1") in {s["id"] for s in log["stops"]}
    said = [c["text"] for s in log["stops"] for c in s.get("comments", [])]
    assert COMMENT_TEXT in said, "policy: a counsellor sees the comments of their own sessions"
    agenda = {item["prepared_id"] for item in log.get("agenda", [])}
    assert not agenda & {world.id("annotation", v) for v in ("s1", "private")}


def count_annotations(world: World, recording_id: int) -> int:
    with session_scope(world.engine) as session:
        statement = select(func.count()).where(Annotation.recording_id == recording_id)
        return int(session.exec(statement).one())


def test_a_counsellor_writes_only_their_marks_and_stops(world: World) -> None:
    c1, recording = world.api[C1], world.id("recording", "c1")
    url = f"/api/v1/recordings/{recording}/annotations"
    before = count_annotations(world, recording)
    code_of_layer = {"schemes": "schemes", "consensus": "schemes"}
    for layer in CODING_LAYERS:
        code = world.codes[code_of_layer.get(layer, layer)]
        body = {"start_ms": 1_000, "end_ms": 2_000, "layer": layer, "code_ids": [code]}
        refused = c1.post(url, json=body)
        assert refused.status_code == 403, (layer, refused.text)
    coded = c1.post(
        url, json={"start_ms": 1_000, "origin": "prepared", "code_ids": [world.codes["schemes"]]}
    )
    assert coded.status_code == 403, coded.text
    showing = c1.post(
        url, json={"start_ms": 1_000, "origin": "prepared", "shown_to_counsellor": True}
    )
    assert showing.status_code == 403, showing.text
    assert count_annotations(world, recording) == before

    mine = c1.post(url, json={"start_ms": 1_500, "origin": "prepared", "note": "À reprendre"})
    assert mine.status_code == 201, mine.text
    assert mine.json()["layer"] == "prepared"
    mark = f"/api/v1/annotations/{mine.json()['id']}"
    for change in ({"layer": "schemes"}, {"code_ids": [world.codes["schemes"]]}):
        assert c1.patch(mark, json={"version": 1, **change}).status_code == 403, change
    assert c1.delete(mark).status_code == 204
    assert count_annotations(world, recording) == before


def set_co_validation(world: World, on: bool) -> None:
    study = world.id("study", "s1")
    response = world.api[R1].patch(f"/api/v1/studies/{study}", json={"co_validation": on})
    assert response.status_code == 200, response.text


def show(world: World, variant: str, shown: bool) -> Response:
    url = f"/api/v1/annotations/{world.id('annotation', variant)}"
    version = created(world.api[R1].get(url))["version"]
    return world.api[R1].patch(url, json={"version": version, "shown_to_counsellor": shown})


def test_with_co_validation_a_counsellor_sees_the_segments_shown_to_them(world: World) -> None:
    c1, recording = world.api[C1], world.id("recording", "c1")
    segment = world.id("annotation", "schemes")
    assert c1.get(f"/api/v1/annotations/{segment}").status_code == 404
    set_co_validation(world, True)
    try:
        shown = show(world, "schemes", True)
        assert shown.status_code == 200, shown.text
        listed = {a["id"] for a in created(c1.get(f"/api/v1/recordings/{recording}/annotations"))}
        assert segment in listed
        others = {world.id("annotation", v) for v in NOT_FOR_C1 if v != "schemes"}
        assert not listed & others
        assert c1.get(f"/api/v1/annotations/{segment}").status_code == 200
        unknown = c1.get(f"/api/v1/annotations/{UNKNOWN_ID}")
        consensus = c1.get(f"/api/v1/annotations/{world.id('annotation', 'consensus')}")
        assert consensus.status_code == 404
        assert consensus.json()["detail"].replace(
            str(world.id("annotation", "consensus")), "#"
        ) == unknown.json()["detail"].replace(str(UNKNOWN_ID), "#")
        page = world.pages[C1].get(f"/recordings/{recording}")
        assert NOTES["schemes"] in page.text and NOTES["consensus"] not in page.text
    finally:
        show(world, "schemes", False)
        set_co_validation(world, False)
    assert c1.get(f"/api/v1/annotations/{segment}").status_code == 404


def test_joining_by_someone_elses_code_says_what_an_unknown_code_says(world: World) -> None:
    # The join page takes the code as a query parameter: the matrix does not reach it.
    theirs = world.id("livecode", "c1")
    for client, url in (
        (world.pages[C2], "/live?code={}"),
        (world.api[C2], "/api/v1/live/code/{}"),
    ):
        known, unknown = client.get(url.format(theirs)), client.get(url.format(UNKNOWN_LIVE_CODE))
        assert known.status_code == unknown.status_code == 404, url
        assert gist(known.text) == gist(unknown.text), url
