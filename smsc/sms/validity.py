"""TP-VP in its three formats, TS 23.040 §9.2.3.12."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from smsc.sms.constants import EnhancedVpFormat, TpFailureCause, ValidityPeriodFormat
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.timestamps import decode_timestamp, encode_timestamp

MAX_RELATIVE_VALIDITY = timedelta(weeks=63)
"""TS 23.040 §9.2.3.12.1: the longest relative TP-VP (octet 255)."""


def relative_duration(value: int) -> timedelta:
    """TS 23.040 §9.2.3.12.1: a relative TP-VP octet as a duration."""
    if value <= 143:
        return timedelta(minutes=(value + 1) * 5)
    if value <= 167:
        return timedelta(hours=12, minutes=(value - 143) * 30)
    if value <= 196:
        return timedelta(days=value - 166)
    return timedelta(weeks=value - 192)


_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)
_WEEK = timedelta(weeks=1)


def _units(duration: timedelta, unit: timedelta) -> int:
    """How many `unit`s cover `duration` (rounded up, exactly: timedeltas are integers)."""
    return -(-duration // unit)


def relative_value(duration: timedelta) -> int:
    """TS 23.040 §9.2.3.12.1: the smallest relative TP-VP octet covering `duration`."""
    if duration <= timedelta(hours=12):
        return max(0, _units(duration, 5 * _MINUTE) - 1)
    if duration <= _DAY:
        return 143 + _units(duration - timedelta(hours=12), 30 * _MINUTE)
    if duration <= 30 * _DAY:
        return 166 + max(2, _units(duration, _DAY))
    if duration <= MAX_RELATIVE_VALIDITY:
        return 192 + max(5, _units(duration, _WEEK))
    return 255


@dataclass(frozen=True, slots=True)
class RelativeValidity:
    """TS 23.040 §9.2.3.12.1."""

    value: int

    @property
    def duration(self) -> timedelta:
        return relative_duration(self.value)

    def expires(self, submitted: datetime) -> datetime:
        return submitted + self.duration


@dataclass(frozen=True, slots=True)
class AbsoluteValidity:
    """TS 23.040 §9.2.3.12.2."""

    until: datetime

    def expires(self, submitted: datetime) -> datetime:
        return self.until


@dataclass(frozen=True, slots=True)
class EnhancedValidity:
    """TS 23.040 §9.2.3.12.3: the 7 octets kept as sent, interpreted on demand."""

    octets: bytes

    @property
    def format(self) -> EnhancedVpFormat | None:
        """Bits 3..1 of the functionality indicator; None for the reserved values."""
        value = self.octets[0] & 0x7
        return EnhancedVpFormat(value) if value <= 3 else None

    @property
    def single_shot(self) -> bool:
        return bool(self.octets[0] & 0x40)

    @property
    def duration(self) -> timedelta | None:
        """The validity, or None when the format carries none."""
        fmt = self.format
        if fmt == EnhancedVpFormat.RELATIVE:
            return relative_duration(self.octets[1])
        if fmt == EnhancedVpFormat.RELATIVE_SECONDS:
            return timedelta(seconds=self.octets[1])
        if fmt == EnhancedVpFormat.RELATIVE_HHMMSS:
            h, m, s = ((o & 0xF) * 10 + (o >> 4) for o in self.octets[1:4])
            return timedelta(hours=h, minutes=m, seconds=s)
        return None

    def expires(self, submitted: datetime) -> datetime | None:
        duration = self.duration
        return None if duration is None else submitted + duration


ValidityPeriod = RelativeValidity | AbsoluteValidity | EnhancedValidity


def decode_validity(
    vpf: ValidityPeriodFormat, data: bytes, offset: int
) -> tuple[ValidityPeriod | None, int]:
    """TS 23.040 §9.2.3.12: the TP-VP at `offset`; returns it and the next offset."""
    if not vpf:
        return None, offset
    if vpf == ValidityPeriodFormat.RELATIVE:
        if offset >= len(data):
            raise TpduDecodeError("TP-VP truncated")
        return RelativeValidity(data[offset]), offset + 1
    if vpf == ValidityPeriodFormat.ABSOLUTE:
        return AbsoluteValidity(decode_timestamp(data, offset)), offset + 7
    octets = data[offset : offset + 7]
    if len(octets) != 7:
        raise TpduDecodeError("TP-VP truncated")
    if octets[0] & 0x80:
        raise TpduDecodeError(
            "enhanced TP-VP with an extended functionality indicator is not supported",
            TpFailureCause.TP_VP_NOT_SUPPORTED,
        )
    if (octets[0] & 0x7) == EnhancedVpFormat.RELATIVE_HHMMSS and any(
        (o & 0xF) > 9 or (o >> 4) > 9 for o in octets[1:4]
    ):
        raise TpduDecodeError(
            "enhanced TP-VP HH:MM:SS is not BCD", TpFailureCause.TP_VP_NOT_SUPPORTED
        )
    return EnhancedValidity(octets), offset + 7


def validity_format(validity: ValidityPeriod | None) -> ValidityPeriodFormat:
    """TS 23.040 §9.2.3.3: the TP-VPF that goes with a validity."""
    if validity is None:
        return ValidityPeriodFormat.NOT_PRESENT
    if isinstance(validity, RelativeValidity):
        return ValidityPeriodFormat.RELATIVE
    if isinstance(validity, AbsoluteValidity):
        return ValidityPeriodFormat.ABSOLUTE
    return ValidityPeriodFormat.ENHANCED


def encode_validity(validity: ValidityPeriod | None) -> bytes:
    """TS 23.040 §9.2.3.12: the TP-VP octets (empty when absent)."""
    if validity is None:
        return b""
    if isinstance(validity, RelativeValidity):
        if not 0 <= validity.value <= 255:
            raise EncodeError(f"relative TP-VP {validity.value} is not an octet")
        return bytes((validity.value,))
    if isinstance(validity, AbsoluteValidity):
        return encode_timestamp(validity.until)
    if len(validity.octets) != 7:
        raise EncodeError("an enhanced TP-VP is 7 octets")
    return bytes(validity.octets)
