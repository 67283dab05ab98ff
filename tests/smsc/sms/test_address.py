"""TS 23.040 §9.1.2.5 / TS 24.011 §8.2.5.1 addresses, alphanumeric senders included."""

from __future__ import annotations

import pytest
from hypothesis import given

from smsc.sms.address import (
    Address,
    decode_rp_address,
    decode_tp_address,
    encode_rp_address,
    encode_tp_address,
)
from smsc.sms.constants import NumberingPlan, TypeOfNumber
from smsc.sms.errors import DecodeError, EncodeError, TpduDecodeError
from tests.smsc.sms.strategies import alphanumeric_addresses, numeric_addresses, rp_addresses


@given(numeric_addresses)
def test_numeric_tp_address_round_trips(address: Address) -> None:
    wire = encode_tp_address(address)
    assert wire[0] == len(address.value)
    assert decode_tp_address(wire, 0) == (address, len(wire))


@given(alphanumeric_addresses())
def test_alphanumeric_tp_address_round_trips(address: Address) -> None:
    wire = encode_tp_address(address)
    decoded, end = decode_tp_address(wire, 0)
    assert decoded == address
    assert end == len(wire)
    assert encode_tp_address(decoded) == wire


@given(rp_addresses)
def test_rp_address_round_trips(address: Address) -> None:
    wire = encode_rp_address(address)
    assert decode_rp_address(wire, 0) == (address, len(wire))


def test_megafon_alphanumeric_sender_uses_useful_semi_octets() -> None:
    wire = bytes.fromhex("0dd0cdf2396c7ebb01")
    address, end = decode_tp_address(wire, 0)
    assert address == Address("Megafon", TypeOfNumber.ALPHANUMERIC, NumberingPlan.UNKNOWN)
    assert end == 9
    assert encode_tp_address(Address.alphanumeric("Megafon")) == wire


def test_off_by_one_length_is_decoded_tolerantly_and_reencoded_as_received() -> None:
    wire = bytes.fromhex("0ed04f78d92d9c0e01")  # libosmocore writes 14 for 7 characters
    address, _ = decode_tp_address(wire, 0)
    assert address.value == "OpenBSC"
    assert address == Address.alphanumeric("OpenBSC")
    assert encode_tp_address(address) == wire
    # A fresh address is encoded exactly: 7 characters -> 13 semi-octets.
    assert encode_tp_address(Address.alphanumeric("OpenBSC"))[0] == 13


def test_semi_octet_filler_and_extra_digits() -> None:
    assert encode_tp_address(Address("123", TypeOfNumber.UNKNOWN)) == bytes.fromhex("038121f3")
    address, _ = decode_tp_address(bytes.fromhex("0581badcfe"), 0)
    assert address.value == "*#abc"


def test_address_limits() -> None:
    with pytest.raises(TpduDecodeError):
        decode_tp_address(bytes.fromhex("1591") + bytes(11), 0)
    with pytest.raises(TpduDecodeError):
        decode_tp_address(bytes.fromhex("0b911111"), 0)
    with pytest.raises(DecodeError):
        decode_rp_address(bytes.fromhex("0c91") + bytes(11), 0)
    with pytest.raises(EncodeError):
        encode_tp_address(Address("1" * 21))
    with pytest.raises(EncodeError):
        encode_tp_address(Address.alphanumeric("TwelveLetter"))
    with pytest.raises(EncodeError):
        encode_tp_address(Address.alphanumeric("日本"))
    with pytest.raises(EncodeError):
        encode_tp_address(Address("+49"))


def test_unknown_numbering_plan_values_are_kept() -> None:
    address, _ = decode_tp_address(bytes.fromhex("028221"), 0)
    assert address.npi == 2
    assert encode_tp_address(address) == bytes.fromhex("028221")


def test_international_helper_and_display() -> None:
    assert Address.international("+4917") == Address("4917")
    assert str(Address("4917")) == "+4917"
    assert str(Address.alphanumeric("MyBank")) == "MyBank"
