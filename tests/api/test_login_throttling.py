"""Sign-in throttling: per account and per address, in the database, and a flood of wrong
passwords from one address does not make others wait."""

import html
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from autoconf.app import create_app
from autoconf.auth import throttle
from autoconf.models import AuditEvent, LoginFailure
from autoconf.settings import Settings
from tests import factories
from tests.support import cli, serve

S = timedelta(seconds=1)


def _login(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def test_an_account_is_locked_after_ten_failures_from_anywhere(
    app: FastAPI, engine: Engine, researcher: factories.Account
) -> None:
    for attempt in range(throttle.LIMIT):  # from ten different addresses
        wrong = _login(_from(app, f"10.0.0.{attempt}"), "claire", "pas le bon")
        assert wrong.status_code == 401, attempt
    # The eleventh, even with the right password, is not tried: 429 and when to come back.
    locked = _login(_from(app, "10.0.1.1"), "claire", factories.PASSWORD)
    assert locked.status_code == 429
    assert 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "Trop de tentatives" in locked.json()["detail"]
    assert "15 minutes" in locked.json()["detail"]
    # The sign-in page says the same, beside the form.
    page = _from(app, "10.0.1.2").post(
        "/login", data={"username": "claire", "password": factories.PASSWORD}
    )
    assert page.status_code == 429 and page.headers["retry-after"]
    assert "réessayez dans 15 minutes" in html.unescape(page.text)
    # Another account is not affected.
    colleague = factories.account(engine, "marc", "researcher")
    assert _login(_from(app, "10.0.1.1"), "marc", colleague.password).status_code == 200
    with Session(engine) as session:
        actions = Counter(e.action for e in session.exec(select(AuditEvent)))
    assert actions["login_failed"] == throttle.LIMIT
    # Refusals are logged, one entry per account and address per minute (a flood of them
    # does not flood the log).
    assert actions["login_throttled"] == 2


def test_an_address_is_throttled_for_every_account_and_a_success_does_not_reset_it(
    app: FastAPI, engine: Engine, researcher: factories.Account
) -> None:
    mine = _from(app, "192.0.2.7")
    for attempt in range(throttle.LIMIT - 1):
        assert _login(mine, f"inconnu{attempt}", "x" * 12).status_code == 401
    # A right password from the same address clears its account, not the address.
    assert _login(mine, "claire", factories.PASSWORD).status_code == 200
    assert _login(mine, "inconnu", "x" * 12).status_code == 401  # the tenth failure
    refused = _login(mine, "claire", factories.PASSWORD)
    assert refused.status_code == 429, refused.text
    # The same account from another address still signs in.
    assert _login(_from(app, "192.0.2.8"), "claire", factories.PASSWORD).status_code == 200


def test_the_counts_survive_a_restart_and_are_shared_by_processes(
    app: FastAPI, settings: Settings, researcher: factories.Account
) -> None:
    for _ in range(throttle.LIMIT):
        assert _login(_from(app, "203.0.113.5"), "claire", "mauvais").status_code == 401
    again = create_app(settings)  # another process, or the same one restarted
    try:
        assert _login(_from(again, "203.0.113.6"), "claire", factories.PASSWORD).status_code == 429
    finally:
        again.state.engine.dispose()


def test_failures_leave_the_window(engine: Engine) -> None:
    now = throttle.utcnow()
    with Session(engine) as session:
        # Ten failures, the oldest 2 minutes before it leaves the window: locked 2 minutes
        # (one more, out of the window already, does not count).
        session.add(LoginFailure(username="claire", address="x", at=now - throttle.WINDOW - S))
        session.add(
            LoginFailure(username="claire", address="x", at=now - throttle.WINDOW + 120 * S)
        )
        for _ in range(throttle.LIMIT - 1):
            session.add(LoginFailure(username="claire", address="x", at=now - 60 * S))
        session.commit()
        assert 100 < throttle.wait_for(session, "Claire", "y", now=now) <= 120
        assert throttle.wait_for(session, "Claire", "y", now=now + 121 * S) == 0
        # Once out of the window, failures are forgotten at the next one.
        throttle.record_failure(session, "claire", "x")
        session.commit()
        kept = session.exec(select(LoginFailure)).all()
        assert len(kept) == throttle.LIMIT + 1
        assert min(f.at for f in kept) > throttle.utcnow() - throttle.WINDOW


def test_a_flood_of_wrong_passwords_does_not_hold_back_a_valid_login(tmp_path: Path) -> None:
    """100 concurrent wrong logins from one address (through a trusted proxy's
    X-Forwarded-For): one is checked at a time, a few wait, the rest are refused at once;
    meanwhile a researcher elsewhere signs in. (The delay itself is measured by
    bench/login_flood.py.)"""
    data = tmp_path / "data"
    cli(data, "migrate")
    cli(data, "user", "add", "lea", "--role", "researcher", stdin=f"{factories.PASSWORD}\n")
    statuses: Counter[int] = Counter()
    with serve(data) as url:
        start = threading.Barrier(101)

        def attack(i: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                start.wait()
                answer = client.post(
                    "/api/v1/auth/login",
                    json={"username": f"lea{i % 3}", "password": "devinette"},
                    headers={"x-forwarded-for": "198.51.100.9"},
                )
                statuses[answer.status_code] += 1

        threads = [threading.Thread(target=attack, args=(i,)) for i in range(100)]
        for thread in threads:
            thread.start()
        start.wait()
        time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=60) as client:
            valid = client.post(
                "/api/v1/auth/login",
                json={"username": "lea", "password": factories.PASSWORD},
                # A proxy that says HTTPS (trusted from 127.0.0.1): the cookie is Secure.
                headers={"x-forwarded-for": "198.51.100.200", "x-forwarded-proto": "https"},
            )
        for thread in threads:
            thread.join()
    assert valid.status_code == 200, valid.text
    assert "; secure" in valid.headers["set-cookie"].lower()
    assert sum(statuses.values()) == 100
    # At most ten passwords were checked (then the address is locked); every other attempt
    # was refused without hashing a password.
    assert statuses[401] <= throttle.LIMIT, statuses
    assert statuses[429] >= 100 - throttle.LIMIT, statuses
