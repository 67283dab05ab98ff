"""TS 23.040 §9.2.3.11 time stamps, §9.2.3.12 validity, TS 23.038 §4 data coding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sms.constants import Alphabet, DcsGroup, MessageClass, MessageWaitingType
from smsc.sms.dcs import dcs_for, decode_dcs
from smsc.sms.errors import EncodeError, TpduDecodeError
from smsc.sms.timestamps import decode_timestamp, encode_timestamp
from smsc.sms.validity import (
    EnhancedValidity,
    RelativeValidity,
    relative_duration,
    relative_value,
)
from tests.smsc.sms.strategies import timestamps


@given(timestamps)
def test_timestamp_round_trips(moment: datetime) -> None:
    assert decode_timestamp(encode_timestamp(moment)) == moment


@pytest.mark.parametrize(
    ("tz_octet", "offset"),
    [
        (0x80, timedelta(hours=2)),  # +08 quarters
        (0x69, timedelta(hours=-4)),  # sign bit 0x08 with 16 quarters (doubango)
        (0x40, timedelta(hours=1)),
        (0x61, timedelta(hours=4)),
        (0x00, timedelta(0)),
        (0x09, timedelta(minutes=-150)),  # -10 quarters
    ],
)
def test_time_zone_quarter_hours_and_sign(tz_octet: int, offset: timedelta) -> None:
    moment = decode_timestamp(bytes.fromhex("710191117275") + bytes((tz_octet,)))
    assert moment.utcoffset() == offset
    assert (moment.year, moment.month, moment.day) == (2017, 10, 19)
    assert (moment.hour, moment.minute, moment.second) == (11, 27, 57)
    assert encode_timestamp(moment)[6] == tz_octet


@pytest.mark.parametrize(
    "hex_stamp",
    ["71019111727580"[:12], "7a019111727580", "71319111727580", "710191117275a0", "71029111727580"],
)
def test_invalid_timestamps_are_typed_errors(hex_stamp: str) -> None:
    raw = bytes.fromhex(hex_stamp)
    if raw[:2] == bytes.fromhex("7102"):  # 2017-20-19: month 20
        raw = bytes.fromhex("710291117275") + b"\x80"
    with pytest.raises(TpduDecodeError):
        decode_timestamp(raw)


def test_encode_refuses_what_cannot_be_written() -> None:
    with pytest.raises(EncodeError):
        encode_timestamp(datetime(2026, 1, 1))
    with pytest.raises(EncodeError):
        encode_timestamp(datetime(2026, 1, 1, tzinfo=timezone(timedelta(minutes=10))))
    with pytest.raises(EncodeError):
        encode_timestamp(datetime(2200, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "duration"),
    [
        (0, timedelta(minutes=5)),
        (143, timedelta(hours=12)),
        (144, timedelta(hours=12, minutes=30)),
        (0xA7, timedelta(hours=24)),
        (168, timedelta(days=2)),
        (0xA9, timedelta(days=3)),
        (196, timedelta(days=30)),
        (197, timedelta(weeks=5)),
        (255, timedelta(weeks=63)),
    ],
)
def test_relative_validity(value: int, duration: timedelta) -> None:
    assert RelativeValidity(value).duration == duration
    assert relative_value(duration) == value


@given(st.integers(0, 255))
def test_relative_value_is_monotonic_inverse(value: int) -> None:
    assert relative_value(relative_duration(value)) == value


def _smallest_covering(duration: timedelta) -> int:
    """The definition, by search: the first octet whose duration covers `duration`."""
    return next((v for v in range(256) if relative_duration(v) >= duration), 255)


@given(st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(weeks=70)))
def test_relative_value_is_the_smallest_octet_covering_the_duration(duration: timedelta) -> None:
    assert relative_value(duration) == _smallest_covering(duration)


@pytest.mark.parametrize("value", range(256))
@pytest.mark.parametrize("offset_us", [-1, 0, 1])
def test_relative_value_at_every_boundary(value: int, offset_us: int) -> None:
    duration = relative_duration(value) + timedelta(microseconds=offset_us)
    assert relative_value(duration) == _smallest_covering(duration)


def test_enhanced_validity_formats() -> None:
    assert EnhancedValidity(bytes.fromhex("01a70000000000")).duration == timedelta(hours=24)
    assert EnhancedValidity(bytes.fromhex("021e0000000000")).duration == timedelta(seconds=30)
    hhmmss = EnhancedValidity(bytes.fromhex("03103254000000"))
    assert hhmmss.duration == timedelta(hours=1, minutes=23, seconds=45)
    assert EnhancedValidity(bytes.fromhex("40000000000000")).single_shot
    assert EnhancedValidity(bytes.fromhex("07000000000000")).format is None


@pytest.mark.parametrize(
    ("dcs", "alphabet", "message_class", "group"),
    [
        (0x00, Alphabet.GSM7, None, DcsGroup.GENERAL),
        (0x04, Alphabet.EIGHT_BIT, None, DcsGroup.GENERAL),
        (0x08, Alphabet.UCS2, None, DcsGroup.GENERAL),
        (0x0C, Alphabet.GSM7, None, DcsGroup.GENERAL),  # reserved alphabet -> GSM7
        (0x10, Alphabet.GSM7, MessageClass.CLASS_0, DcsGroup.GENERAL),
        (0x18, Alphabet.UCS2, MessageClass.CLASS_0, DcsGroup.GENERAL),
        (0x16, Alphabet.EIGHT_BIT, MessageClass.CLASS_2, DcsGroup.GENERAL),
        (0x48, Alphabet.UCS2, None, DcsGroup.AUTOMATIC_DELETION),
        (0x80, Alphabet.GSM7, None, DcsGroup.RESERVED),
        (0xC8, Alphabet.GSM7, None, DcsGroup.MWI_DISCARD),
        (0xD8, Alphabet.GSM7, None, DcsGroup.MWI_STORE_GSM7),
        (0xE0, Alphabet.UCS2, None, DcsGroup.MWI_STORE_UCS2),
        (0xF0, Alphabet.GSM7, MessageClass.CLASS_0, DcsGroup.DATA_CODING_MESSAGE_CLASS),
        (0xF4, Alphabet.EIGHT_BIT, MessageClass.CLASS_0, DcsGroup.DATA_CODING_MESSAGE_CLASS),
        (0xF6, Alphabet.EIGHT_BIT, MessageClass.CLASS_2, DcsGroup.DATA_CODING_MESSAGE_CLASS),
        (0xF9, Alphabet.GSM7, MessageClass.CLASS_1, DcsGroup.DATA_CODING_MESSAGE_CLASS),
    ],
)
def test_every_coding_group(
    dcs: int, alphabet: Alphabet, message_class: MessageClass | None, group: DcsGroup
) -> None:
    coding = decode_dcs(dcs)
    assert (coding.alphabet, coding.message_class, coding.group) == (alphabet, message_class, group)


def test_compression_auto_delete_and_message_waiting() -> None:
    assert decode_dcs(0x20).compressed and not decode_dcs(0x20).user_data_in_septets
    assert decode_dcs(0x40).auto_delete
    mwi = decode_dcs(0xD8)
    assert mwi.mwi_active and mwi.mwi_type == MessageWaitingType.VOICEMAIL
    assert decode_dcs(0xC3).mwi_type == MessageWaitingType.OTHER
    assert not decode_dcs(0xC3).mwi_active


def test_dcs_for() -> None:
    assert dcs_for(Alphabet.UCS2) == 0x08
    assert dcs_for(Alphabet.GSM7, MessageClass.CLASS_0) == 0x10
