"""Media passes: behind nginx, a player's Range requests served by nginx alone.

Once the app has allowed a login session to play a recording, it gives the browser a pass: a
cookie `autoconf_media` scoped to that recording's media URL, worth a few seconds
(AUTOCONF_MEDIA_PASS_SECONDS), holding its expiry, the file to send and a signature. nginx
checks the signature itself (`secure_link`, docs/nginx-autoconf.conf) and sends the file with
no request to the app; once the pass has expired, the next Range request asks the app again,
which gives a new pass or its refusal. So access taken back (consent withdrawn, member
removed, recording erased, logout) stops the bytes within that time.

The signature is what nginx's `secure_link_md5` computes: the MD5 of
`expires|file|path|session|secret`, in unpadded base64url. The secret comes last (no length
extension) and is shared with nginx only; the session cookie's value is signed in, so a pass
copied out of a browser is useless without that browser's login session.
"""

import base64
import hashlib
import hmac
import re

COOKIE = "autoconf_media"
# What nginx's map reads (docs/nginx-autoconf.conf): a file outside it gets no pass.
FILE = re.compile(r"(?!.*\.\.)[A-Za-z0-9/._-]+")
VALUE = re.compile(r"^([0-9]{1,12})\.([A-Za-z0-9_-]{22})\.(.+)$")


def signature(expires: int, key: str, path: str, session: str, secret: str) -> str:
    """nginx's `secure_link_md5 "$expires|$file|$uri|$cookie_autoconf_session|SECRET"`."""
    signed = f"{expires}|{key}|{path}|{session}|{secret}".encode()
    return base64.urlsafe_b64encode(hashlib.md5(signed).digest()).decode().rstrip("=")


def issue(key: str, path: str, session: str, secret: str, now: float, seconds: float) -> str | None:
    """The cookie's value for the file `key` (relative to the media folder) served at
    `path`, for `seconds` from `now`; None where nginx could not use one."""
    if not secret or not session or not FILE.fullmatch(key):
        return None
    # nginx takes a pass while its expiry is not before the current whole second: one whole
    # second less, so that it never lasts longer than `seconds` (between seconds - 1 and
    # seconds).
    expires = int(now + seconds) - 1
    return f"{expires}.{signature(expires, key, path, session, secret)}.{key}"


def valid(value: str, path: str, session: str, secret: str, now: float) -> str | None:
    """The file a pass lets `session` read at `path` at `now`, or None (what nginx decides;
    for tests and tools, the app itself never needs it)."""
    found = VALUE.match(value)
    if found is None or not FILE.fullmatch(found[3]) or int(found[1]) < int(now):
        return None
    expected = signature(int(found[1]), found[3], path, session, secret)
    return found[3] if hmac.compare_digest(expected, found[2]) else None
