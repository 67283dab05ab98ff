"""TP-SCTS, TP-DT and absolute TP-VP: 7 swapped-BCD octets, TS 23.040 §9.2.3.11."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from smsc.sms.errors import EncodeError, TpduDecodeError

TIMESTAMP_LENGTH = 7

# Zone objects for every representable offset (-79..+79 quarter hours), built once.
_ZONES: dict[int, timezone] = {
    q: UTC if q == 0 else timezone(timedelta(minutes=15 * q)) for q in range(-79, 80)
}
# Per octet: the two swapped-BCD digits as a number, or -1 when a nibble is not a decimal digit.
_SWAPPED: tuple[int, ...] = tuple(
    (o & 0xF) * 10 + (o >> 4) if (o & 0xF) <= 9 and (o >> 4) <= 9 else -1 for o in range(256)
)


def decode_timestamp(data: bytes, offset: int = 0) -> datetime:
    """TS 23.040 §9.2.3.11: 7 octets at `offset` -> aware datetime."""
    raw = data[offset : offset + TIMESTAMP_LENGTH]
    if len(raw) != TIMESTAMP_LENGTH:
        raise TpduDecodeError("time stamp truncated")
    sw = _SWAPPED
    year, month, day, hour, minute, second = (sw[o] for o in raw[:6])
    tz = raw[6]
    quarters = (tz & 0x7) * 10 + (tz >> 4)
    if min(year, month, day, hour, minute, second) < 0 or tz >> 4 > 9:
        raise TpduDecodeError(f"time stamp {raw.hex()} is not BCD")
    if tz & 0x08:
        quarters = -quarters
    try:
        return datetime(
            (1900 if year >= 90 else 2000) + year,
            month,
            day,
            hour,
            minute,
            second,
            tzinfo=_ZONES[quarters],
        )
    except ValueError as exc:
        raise TpduDecodeError(f"time stamp {raw.hex()} is not a valid date: {exc}") from None


def _swap(value: int) -> int:
    return (value % 10) << 4 | value // 10


def encode_timestamp(moment: datetime) -> bytes:
    """TS 23.040 §9.2.3.11: aware datetime -> 7 octets (zone in whole quarter hours)."""
    offset = moment.utcoffset()
    if offset is None:
        raise EncodeError("time stamps need an aware datetime")
    minutes, rem = divmod(int(offset.total_seconds()), 60)
    quarters, qrem = divmod(abs(minutes), 15)
    if rem or qrem or quarters > 79:
        raise EncodeError(f"zone offset {offset} is not a whole number of quarter hours (max 79)")
    if not 1990 <= moment.year <= 2089:
        raise EncodeError(f"year {moment.year} cannot be written in two digits")
    tz = _swap(quarters) | (0x08 if minutes < 0 else 0)
    return bytes(
        (
            _swap(moment.year % 100),
            _swap(moment.month),
            _swap(moment.day),
            _swap(moment.hour),
            _swap(moment.minute),
            _swap(moment.second),
            tz,
        )
    )
