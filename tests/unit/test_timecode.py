import pytest

from autoconf.errors import Invalid
from autoconf.schemes.timecode import format_ms, parse_time


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0’00"),
        (2_000, "0’02"),
        (602_000, "10’02"),
        (602_999, "10’02"),
        (913_000, "15’13"),
        (3_599_000, "59’59"),
        (3_600_000, "1h00’00"),
        (4_510_000, "1h15’10"),
    ],
)
def test_format_as_researchers_write(ms: int, text: str) -> None:
    assert format_ms(ms) == text


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("10’02", 602_000),
        ("10'02", 602_000),
        ("10:02", 602_000),
        ("1:15:10", 4_510_000),
        ("1h15’10", 4_510_000),
        ("75:10", 4_510_000),
        (" 0:02.5 ", 2_500),
        ("0’02,250", 2_250),
    ],
)
def test_parse_accepts_the_usual_spellings(text: str, ms: int) -> None:
    assert parse_time(text) == ms


@pytest.mark.parametrize("text", ["", "10", "ten past", "10:75", "1:75:00", "-1:00"])
def test_parse_refuses_with_a_readable_message(text: str) -> None:
    with pytest.raises(Invalid, match=r"temps|secondes|minutes"):
        parse_time(text)


def test_round_trip() -> None:
    for ms in (0, 59_000, 61_000, 3_661_000, 5_400_000):
        assert parse_time(format_ms(ms)) == ms


def test_negative_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        format_ms(-1)
