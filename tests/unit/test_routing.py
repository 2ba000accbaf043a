"""The routers' index: a path no route of a router begins like skips that router, and every
route still answers as FastAPI would have it (parameters, 405, slash redirect, nested)."""

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from autoconf.api.routing import IndexedRouter, literal_prefix


def test_a_routes_literal_prefix_stops_at_its_first_parameter() -> None:
    assert literal_prefix("/api/v1/annotations/{annotation_id}") == "/api/v1/annotations/"
    assert literal_prefix("/api/v1/health") == "/api/v1/health"
    assert literal_prefix("/{path:path}") == "/"


def _app() -> FastAPI:
    first = IndexedRouter(prefix="/api/v1")
    second = IndexedRouter(prefix="/api/v1")
    inner = APIRouter()
    nested = IndexedRouter()

    @first.get("/studies/{study_id}")
    def study(study_id: int) -> dict[str, object]:
        return {"router": "first", "study": study_id}

    @first.post("/studies")
    def make_study() -> dict[str, str]:
        return {"router": "first"}

    @second.get("/studies/{study_id}/members")
    def members(study_id: int) -> dict[str, object]:
        return {"router": "second", "study": study_id}

    @second.get("/annotations/{annotation_id}")
    def annotation(annotation_id: int) -> dict[str, object]:
        return {"router": "second", "annotation": annotation_id}

    @inner.get("/nested/{name}")
    def in_nested(name: str) -> dict[str, str]:
        return {"router": "nested", "name": name}

    nested.include_router(inner)
    app = FastAPI()
    for router in (first, second, nested):
        app.include_router(router)
    return app


def test_every_route_answers_through_the_index() -> None:
    client = TestClient(_app())
    assert client.get("/api/v1/studies/3").json() == {"router": "first", "study": 3}
    assert client.get("/api/v1/studies/3/members").json() == {"router": "second", "study": 3}
    assert client.get("/api/v1/annotations/9").json() == {"router": "second", "annotation": 9}
    assert client.post("/api/v1/studies").json() == {"router": "first"}
    # A router whose routes include another router keeps no index: FastAPI matches in it.
    assert client.get("/nested/x").json() == {"router": "nested", "name": "x"}
    # The path of a route with another method: 405, as without the index.
    assert client.delete("/api/v1/studies").status_code == 405
    # A trailing slash is redirected to the route without it.
    moved = client.get("/api/v1/annotations/9/", follow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"].endswith("/api/v1/annotations/9")
    assert client.get("/api/v1/nothing").status_code == 404


def test_a_router_refuses_at_once_a_path_none_of_its_routes_begins_like() -> None:
    app = _app()
    asked = []
    original = APIRouter.matches

    def counted(self: APIRouter, scope: Scope) -> tuple[Match, Scope]:
        asked.append(self)
        return original(self, scope)

    APIRouter.matches = counted  # type: ignore[method-assign]
    try:
        assert TestClient(app).get("/api/v1/annotations/9").status_code == 200
    finally:
        APIRouter.matches = original  # type: ignore[method-assign]
    # The first router (no route begins `/api/v1/annotations/`) was refused by its index;
    # only the second went on to FastAPI's matching, which found the route there.
    second = app.router.routes[-2].original_router  # type: ignore[attr-defined]
    assert asked == [second]
