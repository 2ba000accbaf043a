"""The live hub's delivery to one browser's queue."""

import asyncio

from autoconf.live.hub import _deliver


def test_a_browser_too_far_behind_starts_again_from_the_state() -> None:
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=2)
    _deliver(queue, {"type": "seek", "seq": 1})
    _deliver(queue, {"type": "seek", "seq": 2})
    assert queue.qsize() == 2
    _deliver(queue, {"type": "seek", "seq": 3})  # it stopped reading: nothing is dropped silently
    assert queue.qsize() == 1 and queue.get_nowait() == {"type": "resync"}
