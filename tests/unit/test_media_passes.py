"""Media passes (autoconf.media.passes): what nginx's secure_link checks."""

import base64
import hashlib

from autoconf.media import passes

SECRET = "k" * 40
PATH = "/api/v1/recordings/7/media"
KEY = "recordings/0cee7a4d/proxy.mp4"


def test_the_signature_is_nginx_secure_link_md5_of_the_documented_text() -> None:
    # secure_link_md5 "$expires|$file|$uri|$cookie_autoconf_session|SECRET", base64url, no "="
    digest = hashlib.md5(f"1700000000|{KEY}|{PATH}|sess|{SECRET}".encode()).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert passes.signature(1700000000, KEY, PATH, "sess", SECRET) == expected
    assert len(expected) == 22


def test_a_pass_lasts_at_most_its_seconds_in_nginx_whole_seconds() -> None:
    now = 1_700_000_000.7
    value = passes.issue(KEY, PATH, "sess", SECRET, now, 5)
    assert value is not None
    expires = int(value.split(".", 1)[0])
    # nginx takes it while expires >= the current whole second: until expires + 1 s.
    assert now + 4 <= expires + 1 <= now + 5
    assert passes.valid(value, PATH, "sess", SECRET, now) == KEY
    assert passes.valid(value, PATH, "sess", SECRET, expires + 0.99) == KEY
    assert passes.valid(value, PATH, "sess", SECRET, expires + 1) is None


def test_a_pass_binds_its_file_url_session_and_secret() -> None:
    now = 1_700_000_000.0
    value = passes.issue(KEY, PATH, "sess", SECRET, now, 5)
    assert value is not None
    expires, signature, _ = value.split(".", 2)
    assert passes.valid(value, PATH, "other", SECRET, now) is None
    assert passes.valid(value, "/api/v1/recordings/8/media", "sess", SECRET, now) is None
    assert passes.valid(value, PATH, "sess", "m" * 40, now) is None
    other_file = f"{expires}.{signature}.recordings/0cee7a4d/poster.jpg"
    assert passes.valid(other_file, PATH, "sess", SECRET, now) is None
    later = f"{int(expires) + 60}.{signature}.{KEY}"
    assert passes.valid(later, PATH, "sess", SECRET, now) is None


def test_no_pass_where_nginx_could_not_take_one() -> None:
    now = 1_700_000_000.0
    assert passes.issue(KEY, PATH, "sess", "", now, 5) is None  # no secret
    assert passes.issue(KEY, PATH, "", SECRET, now, 5) is None  # no login session
    assert passes.issue("recordings/../autoconf.sqlite3", PATH, "sess", SECRET, now, 5) is None
    assert passes.issue("recordings/é/proxy.mp4", PATH, "sess", SECRET, now, 5) is None
    assert passes.valid("garbage", PATH, "sess", SECRET, now) is None
