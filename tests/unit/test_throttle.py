"""The turns of password checks: clean addresses first, leavers leave the line."""

import anyio

from autoconf.auth.throttle import AddressGates, CheckQueue
from autoconf.errors import TooManyAttempts


def test_clean_addresses_are_served_before_those_with_failures() -> None:
    order: list[str] = []

    async def main() -> None:
        queue = CheckQueue(slots=1)
        release = anyio.Event()

        async def check(name: str, clean: bool) -> None:
            async with queue.turn(clean):
                order.append(name)
                if name == "first":
                    await release.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(check, "first", True)
            await anyio.sleep(0.01)
            for name, clean in (("suspect 1", False), ("suspect 2", False), ("clean", True)):
                group.start_soon(check, name, clean)
                await anyio.sleep(0.01)
            release.set()

    anyio.run(main)
    assert order == ["first", "clean", "suspect 1", "suspect 2"]


def test_a_waiter_that_leaves_gives_its_place() -> None:
    served: list[str] = []

    async def main() -> None:
        queue = CheckQueue(slots=1)
        release = anyio.Event()

        async def check(name: str) -> None:
            async with queue.turn(False):
                served.append(name)
                if name == "holder":
                    await release.wait()

        async with anyio.create_task_group() as group:
            group.start_soon(check, "holder")
            await anyio.sleep(0.01)
            with anyio.move_on_after(0.05):  # gives up while waiting
                await check("leaver")
            group.start_soon(check, "next")
            await anyio.sleep(0.01)
            release.set()
        async with queue.turn(True):  # every slot came back
            served.append("after")

    anyio.run(main)
    assert served == ["holder", "next", "after"]


def test_one_address_has_one_check_running_and_four_waiting() -> None:
    outcomes: list[str] = []

    async def main() -> None:
        gates = AddressGates(waiting=4)
        release = anyio.Event()

        async def attempt() -> None:
            try:
                async with gates.enter("198.51.100.9"):
                    await release.wait()
                outcomes.append("checked")
            except TooManyAttempts:
                outcomes.append("refused")

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(attempt)
            await anyio.sleep(0.05)
            async with gates.enter("192.0.2.1"):  # another address goes straight in
                outcomes.append("other")
            release.set()

    anyio.run(main)
    # Three refused at once; the other address did not wait for the five let in.
    assert outcomes == ["refused"] * 3 + ["other"] + ["checked"] * 5
