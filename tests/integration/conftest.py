"""A fresh PostgreSQL database per test, on the server of AUTOCONF_TEST_POSTGRES_URL.

There is no skip: when the server is missing the tests fail, as CI requires.
"""

from collections.abc import Iterator

import pytest

from tests.support import fresh_postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url
