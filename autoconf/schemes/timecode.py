"""Timestamps as researchers write them: `10’02`, `1h15’10`; stored as integer milliseconds."""

import re

from autoconf.errors import Invalid

_APOSTROPHE = "\u2019"
_MINUTES_SECONDS = re.compile(r"^(\d+)['\u2019:](\d{1,2}(?:[.,]\d{1,3})?)$")
_HOURS = re.compile(r"^(\d+)(?:h|:)(\d{1,2})['\u2019:](\d{1,2}(?:[.,]\d{1,3})?)$")


def format_ms(ms: int) -> str:
    """`602000` -> `10’02`; past an hour `4510000` -> `1h15’10` (seconds truncated)."""
    if ms < 0:
        raise ValueError("a time cannot be negative")
    total = ms // 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}{_APOSTROPHE}{seconds:02d}"
    return f"{minutes}{_APOSTROPHE}{seconds:02d}"


def _seconds_ms(text: str) -> int:
    value = text.replace(",", ".")
    whole, _, fraction = value.partition(".")
    if int(whole) >= 60:
        raise Invalid(f"« {text} » : les secondes doivent être inférieures à 60.")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def parse_time(text: str) -> int:
    """Accepts `10’02`, `10'02`, `10:02`, `1:15:10`, `1h15’10`, `75:10`; returns milliseconds."""
    value = text.strip()
    match = _HOURS.match(value)
    if match:
        hours, minutes, seconds = match.groups()
        if int(minutes) >= 60:
            raise Invalid(f"« {text} » : les minutes doivent être inférieures à 60.")
        return (int(hours) * 3600 + int(minutes) * 60) * 1000 + _seconds_ms(seconds)
    match = _MINUTES_SECONDS.match(value)
    if match:
        minutes, seconds = match.groups()
        return int(minutes) * 60_000 + _seconds_ms(seconds)
    raise Invalid(f"« {text} » n'est pas un temps reconnu (exemples : 10’02, 10:02, 1:15:10).")


def format_vtt(ms: int) -> str:
    """WebVTT's timestamp: `01:02:03.456`."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
