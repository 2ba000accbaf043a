"""The app's routers: FastAPI's, with an index of the paths each can match.

FastAPI tries the app's routes one by one, router after router, each through several layers
of Python, and twice for the route it picks: a route at the end of the table paid 0.35 ms
more than one at its head, and matching was 13 % of the server's time under the annotator's
load (bench/README.md, "Where a request's time goes"). A router here first compares the
path with the literal beginnings of its routes (`/api/v1/annotations/` for
`/api/v1/annotations/{annotation_id}`, one `str.startswith` over a tuple): a router none of
whose routes can match says so at once, and FastAPI's own matching decides among the others.
"""

from typing import Any

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


def literal_prefix(path_format: str) -> str:
    """What every path a route matches begins with: its path up to its first parameter."""
    return path_format.split("{", 1)[0]


class IndexedRouter(APIRouter):
    """An `APIRouter` that refuses at once a path none of its routes begins like."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._index: tuple[int, tuple[str, ...] | None] = (-1, None)

    def _prefixes(self) -> tuple[str, ...] | None:
        """The literal beginnings of the routes, or None when one route has no path (a
        router included in this one, a host): then every path is left to FastAPI."""
        count, prefixes = self._index
        if count == len(self.routes):
            return prefixes
        found: set[str] | None = set()
        for route in self.routes:
            path = getattr(route, "path_format", None)
            if not isinstance(path, str) or found is None:
                found = None
                continue
            found.add(literal_prefix(path))
        prefixes = tuple(sorted(found)) if found is not None else None
        self._index = (len(self.routes), prefixes)
        return prefixes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        prefixes = self._prefixes()
        if prefixes is not None and not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return super().matches(scope)
