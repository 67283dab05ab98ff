"""The AVP encoders, checked octet by octet and against python-diameter's Avp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from diameter.message.avp import Avp
from hypothesis import given
from hypothesis import strategies as st

from charging import avp as a
from charging.errors import CcaDecodeError, CcrEncodeError


def test_octet_string_header_and_padding() -> None:
    data = a.octet_string(263)(b"abcde")
    assert data.hex() == "00000107" + "4000000d" + b"abcde".hex() + "000000"


def test_vendor_avp_header() -> None:
    data = a.unsigned32(2016, 10415)(3)
    assert data.hex() == "000007e0" + "c0000010" + "000028af" + "00000003"


def test_integer_types() -> None:
    assert a.integer32(2001, 10415)(-1)[-4:] == b"\xff\xff\xff\xff"
    assert a.unsigned64(417)(2**40).hex() == "000001a1" + "40000010" + "0000010000000000"
    assert a.enumerated is a.integer32


def test_e164_address() -> None:
    data = a.e164_address(2017, 10415)("491710760000")
    assert data[8:12] == (10415).to_bytes(4, "big")
    assert data[12:14] == b"\x00\x08"
    assert data[14:26] == b"491710760000"
    parsed = Avp.from_bytes(data)
    assert parsed.value == (8, "491710760000")


def test_time_is_ntp_seconds() -> None:
    assert a.ntp_seconds(datetime(1970, 1, 1, tzinfo=UTC)) == 2_208_988_800
    assert a.ntp_seconds(datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)) == 0  # era 1 begins
    assert a.ntp_seconds(datetime(2036, 2, 7, 6, 28, 15, tzinfo=UTC)) == 2**32 - 1
    with pytest.raises(CcrEncodeError):
        a.ntp_seconds(datetime(2026, 1, 1))  # naive on purpose
    with pytest.raises(CcrEncodeError):
        a.ntp_seconds(datetime(1899, 12, 31, tzinfo=UTC))


def test_python_diameter_reads_our_time() -> None:
    moment = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    parsed = Avp.from_bytes(a.time(55)(moment))
    assert parsed.value == datetime.fromtimestamp(moment.timestamp())  # naive, local


def test_too_long_avp_is_refused() -> None:
    with pytest.raises(CcrEncodeError):
        a.octet_string(1)(bytes(a.MAX_LENGTH))


@given(st.integers(0, 2**24), st.binary(max_size=64), st.booleans())
def test_octet_strings_match_python_diameter(code: int, payload: bytes, vendor: bool) -> None:
    vendor_id = 10415 if vendor else 0
    ours = a.octet_string(code, vendor_id)(payload)
    theirs = Avp(code, vendor_id, payload, flags=0x40).as_bytes()
    assert ours == theirs
    assert len(ours) % 4 == 0


def test_iter_avps_walks_a_span() -> None:
    data = a.unsigned32(268)(2001) + a.octet_string(263)(b"abc") + a.unsigned32(1, 7)(5)
    found = list(a.iter_avps(data, 0, len(data)))
    assert [(code, vendor) for code, vendor, _, _ in found] == [(268, 0), (263, 0), (1, 7)]
    _, _, lo, hi = found[1]
    assert data[lo:hi] == b"abc"
    unpadded = a.octet_string(263)(b"abc")[:-1]
    assert next(a.iter_avps(unpadded, 0, len(unpadded)))[3] == 11
    with pytest.raises(CcaDecodeError):
        list(a.iter_avps(data, 0, len(data) - 5))


def test_encode_message_header() -> None:
    data = a.encode_message(0xC0, 272, 4, hop_by_hop=1, end_to_end=2, body=b"\0" * 8)
    assert data.hex() == "0100001c" + "c0000110" + "00000004" + "00000001" + "00000002" + "00" * 8
    with pytest.raises(CcrEncodeError):
        a.encode_message(0xC0, 272, 4, hop_by_hop=-1, end_to_end=2, body=b"")
