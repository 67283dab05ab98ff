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
    if len(data) < offset + TIMESTAMP_LENGTH:
        raise TpduDecodeError("time stamp truncated")
    sw = _SWAPPED
    year = sw[data[offset]]
    month = sw[data[offset + 1]]
    day = sw[data[offset + 2]]
    hour = sw[data[offset + 3]]
    minute = sw[data[offset + 4]]
    second = sw[data[offset + 5]]
    tz = data[offset + 6]
    if (year | month | day | hour | minute | second) < 0 or tz > 0x9F:
        raw = data[offset : offset + TIMESTAMP_LENGTH].hex()
        raise TpduDecodeError(f"time stamp {raw} is not BCD")
    quarters = (tz & 0x7) * 10 + (tz >> 4)
    try:
        return datetime(
            (1900 if year >= 90 else 2000) + year,
            month,
            day,
            hour,
            minute,
            second,
            0,
            _ZONES[-quarters if tz & 0x08 else quarters],
        )
    except ValueError as exc:
        raw = data[offset : offset + TIMESTAMP_LENGTH].hex()
        raise TpduDecodeError(f"time stamp {raw} is not a valid date: {exc}") from None


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
