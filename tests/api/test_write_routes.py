"""Every route that writes does it through `write()` (or `commit_as_writer` in a step of
`in_one_step`): as SQLite's one writer, in one step."""

import inspect

from fastapi.routing import APIRoute

from autoconf.app import ROUTERS

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def test_unsafe_routes_write_under_the_lock() -> None:
    checked = []
    for route in (route for router in ROUTERS for route in router.routes):
        if not isinstance(route, APIRoute) or not route.methods & UNSAFE:
            continue
        source = inspect.getsource(route.endpoint)
        assert inspect.iscoroutinefunction(route.endpoint), route.path
        assert any(
            call in source
            for call in (
                "await write(",
                "commit_as_writer(",  # inside `await in_one_step(`, in the same worker step
                "await log_in(",
                "await store_upload(",
                "await reprocess(",
                "await stop_processing(",
                "await erase(",
                "await import_transcript_file(",
                "await eaf_file(",
                "await qdpx_file(",
                "await study_archive_file(",
                "await end_session(",
                "await update_study_settings(",
                "await remove_member_from(",
                "await change_password_of(",
                "await new_api_token(",
                "await revoke_api_token(",
                "await set_account_active(",
                "await queue_transcription(",
            )
        ), f"{route.methods} {route.path} writes without the write lock"
        checked.append(route.path)
    assert "/api/v1/recordings/{recording_id}/annotations" in checked
    assert "/api/v1/studies/{study_id}/recordings" in checked
    assert "/login" in checked
