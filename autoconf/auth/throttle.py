"""Sign-in throttling: failed sign-ins counted per account and per client address.

After LIMIT failures in WINDOW, for an account (from any address) or from an address (for
any account), further attempts are refused without checking the password until the oldest
of those failures leaves the window. The failures are rows of the database (`LoginFailure`):
they survive a restart and every app process counts the same ones. A successful sign-in
clears its account's failures, not its address's (an attacker holding one account cannot
reset the count of the others).

`AddressGates` and `CheckQueue` are the other half: checking a password is slow by design
(argon2, on two threads), so one address may have only one check running and a few waiting
(the rest are refused at once), and the checks of addresses without recent failures go before
those of addresses with some. A flood, from one address or many, cannot fill the queue a
researcher's sign-in waits in.
"""

import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
from sqlmodel import Session, col, delete, select

from autoconf.errors import TooManyAttempts
from autoconf.models import LoginFailure, utcnow

LIMIT = 10
WINDOW = timedelta(minutes=15)
REFUSAL_DELAY_S = 1.0  # a refused sign-in is answered after this (a flood slows down)


def _account(username: str) -> str:
    return username.strip().lower()[:64]


@dataclass(frozen=True)
class Standing:
    """What the window holds for a sign-in: the seconds before the account, and the address,
    may be tried again (0: now), and whether the address has failed at all."""

    waits: dict[tuple[str, str], int]
    clean: bool

    @property
    def wait(self) -> int:
        return max(self.waits.values())


def standing(
    session: Session, username: str, address: str, now: datetime | None = None
) -> Standing:
    """Two look-ups: the account's last LIMIT failures in the window, the address's."""
    now = now or utcnow()
    waits, clean = {}, True
    for key, column in (
        (("account", _account(username)), LoginFailure.username),
        (("address", address[:64]), LoginFailure.address),
    ):
        recent = session.exec(
            select(LoginFailure.at)
            .where(column == key[1], col(LoginFailure.at) > now - WINDOW)
            .order_by(col(LoginFailure.at).desc())
            .limit(LIMIT)
        ).all()
        waits[key] = 0
        if len(recent) >= LIMIT:  # free again when the oldest of these leaves the window
            waits[key] = max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))
        if key[0] == "address":
            clean = not recent
    return Standing(waits, clean)


def wait_for(session: Session, username: str, address: str, now: datetime | None = None) -> int:
    """Seconds before `username` may be tried again from `address` (0: now)."""
    return standing(session, username, address, now).wait


def check(session: Session, username: str, address: str, locks: "Locks | None" = None) -> bool:
    """TooManyAttempts (in French, with the wait) when the sign-in must not be tried now
    (remembered in `locks`); else whether the address is clean (no failure in the window)."""
    found = standing(session, username, address)
    if locks is not None:
        locks.remember(found.waits)
    refuse(found.wait)
    return found.clean


def refuse(wait: int) -> None:
    """TooManyAttempts saying how long to wait, if there is a wait."""
    if wait:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Trop de tentatives de connexion manquées ({LIMIT} en "
            f"{int(WINDOW.total_seconds() // 60)} minutes) pour ce compte ou depuis cette "
            f"adresse : réessayez dans {minutes} minute{'s' if minutes > 1 else ''}.",
            retry_after=wait,
        )


class Locks:
    """The locks this process has read from the database, until they end: a locked account
    or address is refused again without a look-up (the database stays the reference; a lock
    only ever ends with time, so remembering it is safe)."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}

    def remember(self, found: dict[tuple[str, str], int]) -> None:
        now = time.monotonic()
        if len(self._until) > 10_000:
            self._until = {k: t for k, t in self._until.items() if t > now}
        for key, wait in found.items():
            if wait:
                self._until[key] = now + wait

    def wait(self, username: str, address: str) -> int:
        """Seconds left of a remembered lock of the account or the address (0: none)."""
        now = time.monotonic()
        ends = (
            self._until.get(("account", _account(username)), 0),
            self._until.get(("address", address[:64]), 0),
        )
        return max(0, math.ceil(max(ends) - now))


def record_failure(session: Session, username: str, address: str) -> None:
    """Count a failed sign-in (and forget those that left the window)."""
    now = utcnow()
    session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - WINDOW))
    session.add(LoginFailure(username=_account(username), address=address[:64], at=now))


def forget_account(session: Session, username: str) -> None:
    """A successful sign-in: its account starts again from zero."""
    session.exec(delete(LoginFailure).where(col(LoginFailure.username) == _account(username)))


@dataclass
class _Gate:
    running: anyio.Semaphore
    holders: int = 0


@dataclass
class AddressGates:
    """One password check at a time per client address, `waiting` more in line (per
    process: it bounds concurrency, not counts)."""

    waiting: int = 4
    _gates: dict[str, _Gate] = field(default_factory=dict)

    @asynccontextmanager
    async def enter(self, address: str) -> AsyncIterator[None]:
        gate = self._gates.setdefault(address, _Gate(anyio.Semaphore(1)))
        if gate.holders > self.waiting:
            raise TooManyAttempts(
                "Trop de connexions en même temps depuis cette adresse : réessayez dans un "
                "instant.",
                retry_after=1,
            )
        gate.holders += 1
        try:
            async with gate.running:
                yield
        finally:
            gate.holders -= 1
            if gate.holders == 0:
                self._gates.pop(address, None)


@dataclass
class RefusalLog:
    """Which refused sign-ins go to the audit log: the first per account and address in
    each minute, with the number refused since (a flood must not flood the log)."""

    every: timedelta = timedelta(minutes=1)
    _last: dict[tuple[str, str], tuple[datetime, int]] = field(default_factory=dict)

    def refused(self, username: str, address: str) -> int | None:
        """The count to log now (refusals since the last entry), or None: not this time."""
        key = (_account(username), address[:64])
        now = utcnow()
        last, count = self._last.get(key, (None, 0))
        if last is not None and now - last < self.every:
            self._last[key] = (last, count + 1)
            return None
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = (now, 0)
        return count + 1


class CheckQueue:
    """The turns of password checks at sign-in: `slots` at once; who waits is served
    first-come, those from clean addresses (no recent failure) before the others."""

    def __init__(self, slots: int = 2) -> None:
        self._free = slots
        self._waiting: dict[bool, deque[anyio.Event]] = {True: deque(), False: deque()}

    @asynccontextmanager
    async def turn(self, clean: bool) -> AsyncIterator[None]:
        if self._free > 0:
            self._free -= 1
        else:
            called = anyio.Event()
            self._waiting[clean].append(called)
            try:
                await called.wait()
            except BaseException:  # gone before its turn (or given it as it left)
                if called.is_set():
                    self._next()
                else:
                    self._waiting[clean].remove(called)
                raise
        try:
            yield
        finally:
            self._next()

    def _next(self) -> None:
        for line in (self._waiting[True], self._waiting[False]):
            if line:
                line.popleft().set()
                return
        self._free += 1
