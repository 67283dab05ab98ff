"""TS 24.011 RP layer: structure, strictness, RP-Cause of every rejection, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given

from smsc.sms.address import Address
from smsc.sms.constants import RpCause, RpMessageType
from smsc.sms.errors import CpDataHeaderError, DecodeError, EncodeError
from smsc.sms.rp import RpAck, RpData, RpError, RpMessage, RpSmma, decode_rp, encode_rp
from tests.smsc.sms.strategies import rp_messages

SC = Address("491710760000")


def _rejects(hex_body: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_rp(bytes.fromhex(hex_body))
    return info.value


@given(rp_messages)
def test_any_rp_message_round_trips(message: RpMessage) -> None:
    assert decode_rp(encode_rp(message)) == message


def test_mt_rp_data_has_empty_destination() -> None:
    body = encode_rp(RpData(RpMessageType.RP_DATA_N_TO_MS, 7, SC, None, b"\x04"))
    assert body[2:10] == bytes.fromhex("0791947101670000")
    assert body[10] == 0  # RP-DA length 0 (TS 24.011 §7.3.1.2)


def test_mo_rp_data_layout() -> None:
    body = encode_rp(
        RpData(RpMessageType.RP_DATA_MS_TO_N, 2, None, Address("33689004000"), b"\x01")
    )
    assert body.hex() == "00020007913386094000f00101"


def test_rp_error_with_diagnostic_and_user_data() -> None:
    message = RpError(RpMessageType.RP_ERROR_MS_TO_N, 5, 22, 0x11, b"\x00\xd3\x00")
    body = encode_rp(message)
    assert body.hex() == "040502161141" + "0300d300"
    assert decode_rp(body) == message


@pytest.mark.parametrize(
    ("hex_body", "cause"),
    [
        ("07", RpCause.MESSAGE_TYPE_NON_EXISTENT),  # reserved MTI, however short
        ("0701", RpCause.MESSAGE_TYPE_NON_EXISTENT),
        ("2001", RpCause.MESSAGE_TYPE_NON_EXISTENT),  # spare bits set
        ("", RpCause.INVALID_MANDATORY_INFORMATION),
        ("00", RpCause.INVALID_MANDATORY_INFORMATION),
        ("0501", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-ERROR without RP-Cause
        ("050100", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-Cause length 0
        ("05010315000000", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-Cause length 3
        ("050102", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-Cause truncated
        ("050101", RpCause.INVALID_MANDATORY_INFORMATION),  # cause octet missing
        ("05010195", RpCause.INVALID_MANDATORY_INFORMATION),  # extension bit set
        ("0001", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-OA missing
        ("000100", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-DA missing
        ("00010007913386094000f0", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-UD missing
        ("0001000c91" + "11" * 11 + "0101", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-DA 12
        ("0001000791338609", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-DA truncated
        ("000100079133860940000f00", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-UD length 0
        ("00010007913386094000f0030101", RpCause.INVALID_MANDATORY_INFORMATION),  # truncated
        ("00010007913386094000f0010101", RpCause.SEMANTICALLY_INCORRECT_MESSAGE),  # trailing
        ("064301", RpCause.SEMANTICALLY_INCORRECT_MESSAGE),  # octets after RP-SMMA
        ("030242", RpCause.INFORMATION_ELEMENT_NON_EXISTENT),  # unknown IEI in RP-ACK
        ("030241", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-UD TLV without length
        ("03024100", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-UD TLV length 0
        ("0302410500", RpCause.INVALID_MANDATORY_INFORMATION),  # RP-UD TLV truncated
    ],
)
def test_malformed_bodies_get_their_rp_cause(hex_body: str, cause: RpCause) -> None:
    assert _rejects(hex_body).rp_cause == cause


@pytest.mark.parametrize("first", ["09", "19", "89"])
def test_cp_data_header_is_a_clear_error(first: str) -> None:
    error = _rejects(first + "011900010007913386094000f00101")
    assert isinstance(error, CpDataHeaderError)
    assert "CP-DATA" in str(error)


def test_smma_and_bare_acks() -> None:
    assert decode_rp(bytes.fromhex("0643")) == RpSmma(0x43)
    assert decode_rp(bytes.fromhex("0244")) == RpAck(RpMessageType.RP_ACK_MS_TO_N, 0x44)
    assert encode_rp(RpAck(RpMessageType.RP_ACK_N_TO_MS, 2)) == bytes.fromhex("0302")


@pytest.mark.parametrize(
    "message",
    [
        RpData(RpMessageType.RP_ACK_N_TO_MS, 1, None, SC, b"\x01"),
        RpAck(RpMessageType.RP_DATA_MS_TO_N, 1),
        RpError(RpMessageType.RP_ACK_MS_TO_N, 1, 22),
        RpError(RpMessageType.RP_ERROR_MS_TO_N, 1, 128),
        RpError(RpMessageType.RP_ERROR_MS_TO_N, 1, 22, 256),
        RpSmma(256),
        RpData(RpMessageType.RP_DATA_N_TO_MS, 1, SC, None, b""),
        RpData(RpMessageType.RP_DATA_N_TO_MS, 1, SC, None, bytes(233)),
        RpData(RpMessageType.RP_DATA_N_TO_MS, 1, Address("1" * 21), None, b"\x01"),
        RpData(RpMessageType.RP_DATA_N_TO_MS, 1, Address.alphanumeric("Bank"), None, b"\x01"),
        RpData(RpMessageType.RP_DATA_N_TO_MS, 1, Address("12x"), None, b"\x01"),
    ],
)
def test_encoding_an_illegal_message_is_refused(message: RpMessage) -> None:
    with pytest.raises(EncodeError):
        encode_rp(message)


def test_address_digits_beyond_decimal() -> None:
    body = encode_rp(RpData(RpMessageType.RP_DATA_MS_TO_N, 1, None, Address("*#abc1"), b"\x01"))
    message = decode_rp(body)
    assert isinstance(message, RpData)
    assert message.destination == Address("*#abc1")
