"""SMPP 3.4 §7.1.1 time format: absolute "YYMMDDhhmmsstnnp" and relative "YYMMDDhhmmss000R".

An absolute time becomes an aware datetime (its UTC offset is nn quarter-hours, "+" ahead of
UTC, "-" behind; YY is 2000 + YY). A relative time becomes a timedelta; SMPP 3.4 does not say
how long its years and months are, so a year counts 365 days and a month 30 (the usual
reading), and formatting a timedelta back spreads its days the same way; the "tnn" of a
relative time are not read.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from smsc.smpp.constants import CommandStatus
from smsc.smpp.errors import PduError, SmppEncodeError

TIME_LENGTH = 16
"""§7.1.1: the characters of a time (17 octets on the wire with the NUL)."""

_MAX_OFFSET_QUARTERS = 48
_YEAR_DAYS = 365
_MONTH_DAYS = 30
_RELATIVE_LIMIT = timedelta(days=100 * _YEAR_DAYS)
_ZONES = tuple(timezone(timedelta(minutes=15 * q)) for q in range(-48, 49))


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_time(
    text: str, status: int = CommandStatus.ESME_RINVSCHED
) -> datetime | timedelta | None:
    """§7.1.1: "" -> None, absolute -> aware datetime, relative -> timedelta; an invalid time
    raises PduError with ``status`` (ESME_RINVSCHED or ESME_RINVEXPIRY, as the field asks)."""
    if not text:
        return None
    if len(text) != TIME_LENGTH or not _digits(text[:15]):
        raise PduError(f"time {text!r} is not YYMMDDhhmmsstnnp", status)
    yy, mo, dd, hh, mi, ss = (int(text[i : i + 2]) for i in range(0, 12, 2))
    sign = text[15]
    if sign == "R":
        days = yy * _YEAR_DAYS + mo * _MONTH_DAYS + dd
        return timedelta(days=days, hours=hh, minutes=mi, seconds=ss)
    if sign not in "+-":
        raise PduError(f"time {text!r}: p must be '+', '-' or 'R'", status)
    quarters = int(text[13:15])
    if quarters > _MAX_OFFSET_QUARTERS:
        raise PduError(f"time {text!r}: UTC offset of {quarters} quarter-hours", status)
    zone = _ZONES[48 + (quarters if sign == "+" else -quarters)]
    tenths = int(text[12])
    try:
        return datetime(2000 + yy, mo, dd, hh, mi, ss, tenths * 100_000, tzinfo=zone)
    except ValueError as exc:
        raise PduError(f"time {text!r}: {exc}", status) from None


def format_time(value: datetime | timedelta | None) -> str:
    """§7.1.1: the text of an aware datetime (years 2000-2099, a UTC offset in whole quarter
    hours up to 12 h; tenths of a second kept, finer parts dropped) or of a timedelta (whole
    seconds, below 100 years), "" for None."""
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return _format_relative(value)
    offset = value.utcoffset()
    if offset is None:
        raise SmppEncodeError(f"an SMPP absolute time needs an aware datetime, not {value}")
    quarters, rest = divmod(offset, timedelta(minutes=15))
    if rest or abs(quarters) > _MAX_OFFSET_QUARTERS:
        raise SmppEncodeError(f"UTC offset {offset} is not a whole number of quarter hours <= 12 h")
    if not 2000 <= value.year <= 2099:
        raise SmppEncodeError(f"year {value.year} is outside 2000-2099 (YY)")
    return (
        f"{value.year % 100:02d}{value.month:02d}{value.day:02d}{value.hour:02d}"
        f"{value.minute:02d}{value.second:02d}{value.microsecond // 100_000}"
        f"{abs(quarters):02d}{'-' if quarters < 0 else '+'}"
    )


def _format_relative(value: timedelta) -> str:
    if value < timedelta(0) or value >= _RELATIVE_LIMIT or value.microseconds:
        raise SmppEncodeError(f"relative time {value} is not whole seconds in 0..99 years")
    years, days = divmod(value.days, _YEAR_DAYS)
    months, days = divmod(days, _MONTH_DAYS)
    hours, seconds = divmod(value.seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{years:02d}{months:02d}{days:02d}{hours:02d}{minutes:02d}{seconds:02d}000R"
