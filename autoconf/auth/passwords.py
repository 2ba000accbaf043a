"""Password hashing with argon2id: argon2-cffi's recommended parameters (RFC 9106's second
choice: 64 MiB, 3 passes), or less memory where AUTOCONF_PASSWORD_MEMORY_KIB says so (a
small server; the test suite). A hash keeps its parameters: one made with others still
verifies, and is made again with the current ones at the next sign-in."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_MEMORY_KIB = PasswordHasher().memory_cost

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login with an unknown username the same; made
# at the first sign-in, with the parameters then in force (not at import: every command
# would pay for a hash it never uses).
_dummy: list[str] = []


def configure(memory_kib: int) -> None:
    """Hash with `memory_kib` KiB from now on (in this process)."""
    global _hasher
    if memory_kib != _hasher.memory_cost:
        _hasher = PasswordHasher(memory_cost=memory_kib)
        _dummy.clear()


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash("autoconf: no such user"))
    return _dummy[0]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; always spends the time of one verification."""
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
