"""Every route that writes takes SQLite's write lock (see autoconf.api.deps.write_session)."""

import inspect

from fastapi.routing import APIRoute

from autoconf.api.deps import write_session
from autoconf.app import ROUTERS

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _calls(dependant) -> set:
    found = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found


def test_unsafe_routes_write_under_the_lock() -> None:
    checked = []
    for route in (route for router in ROUTERS for route in router.routes):
        if not isinstance(route, APIRoute) or not route.methods & UNSAFE:
            continue
        locked = write_session in _calls(route.dependant) or "await write(" in inspect.getsource(
            route.endpoint
        )
        assert locked, f"{route.methods} {route.path} writes without the write lock"
        checked.append(route.path)
    assert "/api/v1/recordings/{recording_id}/annotations" in checked
    assert "/api/v1/studies/{study_id}/recordings" in checked
    assert "/login" in checked
