"""SMPP 3.4 §3.2.4 / §5.3.2 optional parameters: the table, the stream and the typed values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from smsc.smpp.constants import CommandStatus, Tag
from smsc.smpp.errors import PduError, SmppEncodeError
from smsc.smpp.tlv import (
    TLV_FORMATS,
    TlvKind,
    Tlvs,
    decode_tlvs,
    encode_tlvs,
    find_tlv,
    make_tlv,
    tlv_int,
    tlv_str,
)
from tests.smsc.smpp.strategies import tlvs as tlv_lists


def test_every_tag_of_the_table_has_its_format() -> None:
    assert set(TLV_FORMATS) == set(Tag)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (Tag.DEST_ADDR_SUBUNIT, 0x0005),
        (Tag.USER_MESSAGE_REFERENCE, 0x0204),
        (Tag.SOURCE_PORT, 0x020A),
        (Tag.DESTINATION_PORT, 0x020B),
        (Tag.SAR_MSG_REF_NUM, 0x020C),
        (Tag.SAR_TOTAL_SEGMENTS, 0x020E),
        (Tag.SAR_SEGMENT_SEQNUM, 0x020F),
        (Tag.SC_INTERFACE_VERSION, 0x0210),
        (Tag.PAYLOAD_TYPE, 0x0019),
        (Tag.MESSAGE_PAYLOAD, 0x0424),
        (Tag.RECEIPTED_MESSAGE_ID, 0x001E),
        (Tag.MESSAGE_STATE, 0x0427),
        (Tag.NETWORK_ERROR_CODE, 0x0423),
        (Tag.MS_MSG_WAIT_FACILITIES, 0x0030),
        (Tag.ALERT_ON_MESSAGE_DELIVERY, 0x130C),
        (Tag.ITS_SESSION_INFO, 0x1383),
    ],
)
def test_tags_have_their_spec_values(tag: Tag, value: int) -> None:
    assert tag == value


@pytest.mark.parametrize(
    ("tag", "value", "octets"),
    [
        (Tag.SAR_MSG_REF_NUM, 0x1234, b"\x12\x34"),
        (Tag.SAR_TOTAL_SEGMENTS, 3, b"\x03"),
        (Tag.QOS_TIME_TO_LIVE, 86400, b"\x00\x01\x51\x80"),
        (Tag.DEST_TELEMATICS_ID, 1, b"\x00\x01"),
        (Tag.SOURCE_TELEMATICS_ID, 1, b"\x01"),
        (Tag.RECEIPTED_MESSAGE_ID, "0123456789", b"0123456789\0"),
        (Tag.ADDITIONAL_STATUS_INFO_TEXT, "", b"\0"),
        (Tag.MESSAGE_PAYLOAD, b"\x00" * 1000, b"\x00" * 1000),
        (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x22", b"\x03\x00\x22"),
        (Tag.ALERT_ON_MESSAGE_DELIVERY, b"", b""),
        (0x1400, b"vendor", b"vendor"),
    ],
)
def test_make_tlv_encodes_by_the_tags_type(
    tag: int, value: int | str | bytes, octets: bytes
) -> None:
    assert make_tlv(tag, value) == (tag, octets)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (Tag.SAR_TOTAL_SEGMENTS, 256),
        (Tag.SAR_MSG_REF_NUM, -1),
        (Tag.SAR_MSG_REF_NUM, "1"),
        (Tag.RECEIPTED_MESSAGE_ID, "x" * 65),
        (Tag.RECEIPTED_MESSAGE_ID, 5),
        (Tag.MESSAGE_PAYLOAD, "text"),
        (Tag.NETWORK_ERROR_CODE, b"\x03"),
        (Tag.CALLBACK_NUM, b"123"),
        (Tag.SC_INTERFACE_VERSION, b"\x34\x00"),
        (0x1400, 5),
    ],
)
def test_make_tlv_refuses_a_value_of_the_wrong_type_or_length(tag: int, value: object) -> None:
    with pytest.raises(SmppEncodeError):
        make_tlv(tag, value)  # type: ignore[arg-type]


def test_typed_readers_take_the_first_of_a_tag() -> None:
    tlvs: Tlvs = (
        make_tlv(Tag.SAR_MSG_REF_NUM, 0xBEEF),
        make_tlv(Tag.RECEIPTED_MESSAGE_ID, "abc"),
        (Tag.SAR_MSG_REF_NUM, b"\x00\x01"),
        (Tag.ADDITIONAL_STATUS_INFO_TEXT, b"no NUL"),
    )
    assert tlv_int(tlvs, Tag.SAR_MSG_REF_NUM) == 0xBEEF
    assert tlv_str(tlvs, Tag.RECEIPTED_MESSAGE_ID) == "abc"
    assert tlv_str(tlvs, Tag.ADDITIONAL_STATUS_INFO_TEXT) == "no NUL"  # tolerated
    assert find_tlv(tlvs, Tag.MESSAGE_PAYLOAD) is None
    assert tlv_int(tlvs, Tag.MESSAGE_STATE) is None and tlv_str(tlvs, Tag.DPF_RESULT) is None


def test_the_stream_is_read_in_order() -> None:
    data = b"xx" + b"\x02\x0c\x00\x02\x12\x34" + b"\x14\x00\x00\x00" + b"\x04\x24\x00\x01Z"
    assert decode_tlvs(data, 2) == ((0x020C, b"\x12\x34"), (0x1400, b""), (0x0424, b"Z"))
    assert decode_tlvs(data, len(data)) == ()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"\x02", CommandStatus.ESME_RINVOPTPARSTREAM),
        (b"\x02\x0c\x00", CommandStatus.ESME_RINVOPTPARSTREAM),
        (b"\x02\x0c\x00\x02\x12", CommandStatus.ESME_RINVOPTPARSTREAM),
        (b"\x14\x00\xff\xff", CommandStatus.ESME_RINVOPTPARSTREAM),
        (b"\x02\x0c\x00\x03\x00\x00\x00", CommandStatus.ESME_RINVPARLEN),
        (b"\x00\x1e\x00\x00", CommandStatus.ESME_RINVPARLEN),  # C-string without even a NUL
        (b"\x13\x0c\x00\x01\x00", CommandStatus.ESME_RINVPARLEN),  # alert_on_message_delivery
    ],
)
def test_a_bad_stream_or_length_is_refused(data: bytes, status: int) -> None:
    with pytest.raises(PduError) as caught:
        decode_tlvs(data, 0)
    assert caught.value.command_status == status


@settings(max_examples=200, deadline=None)
@given(tlv_lists)
def test_tlvs_round_trip(tlvs: Tlvs) -> None:
    assert decode_tlvs(encode_tlvs(tlvs), 0) == tlvs


def test_formats_have_sane_bounds() -> None:
    for tag, fmt in TLV_FORMATS.items():
        assert 0 <= fmt.min_length <= fmt.max_length <= 0xFFFF, tag
        if fmt.kind is TlvKind.INTEGER:
            assert fmt.min_length == fmt.max_length in (1, 2, 4), tag
