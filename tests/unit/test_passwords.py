"""Password hashes: argon2id at 64 MiB and 3 passes unless AUTOCONF_PASSWORD_MEMORY_KIB says
less; a hash made with other parameters still verifies, and asks to be made again."""

import pytest
from argon2 import extract_parameters
from pydantic import ValidationError

from autoconf.auth import passwords
from autoconf.settings import Settings


def test_the_default_is_argon2id_at_64_mib_and_three_passes() -> None:
    default = Settings.model_fields["password_memory_kib"].default
    assert default == passwords.DEFAULT_MEMORY_KIB == 65536
    previous = passwords._hasher.memory_cost
    try:
        passwords.configure(default)
        made = extract_parameters(passwords.hash_password("un long mot de passe"))
        assert (made.type.name, made.memory_cost, made.time_cost) == ("ID", 65536, 3)
    finally:
        passwords.configure(previous)


def test_a_hash_of_other_parameters_verifies_and_is_remade() -> None:
    previous = passwords._hasher.memory_cost
    try:
        passwords.configure(65536)
        strong = passwords.hash_password("un long mot de passe")
        passwords.configure(12288)
        assert passwords.verify_password(strong, "un long mot de passe")
        assert not passwords.verify_password(strong, "un autre mot de passe")
        assert passwords.needs_rehash(strong)
        lighter = passwords.hash_password("un long mot de passe")
        assert extract_parameters(lighter).memory_cost == 12288
        assert not passwords.needs_rehash(lighter)
    finally:
        passwords.configure(previous)


def test_less_than_owasp_s_lowest_setting_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(password_memory_kib=4096)
