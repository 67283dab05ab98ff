"""RFC 6733 §5 base messages: our encoders against python-diameter, our decoder on its bytes."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import pytest
from diameter.message import Message  # type: ignore[import-untyped]
from diameter.message.avp.grouped import (  # type: ignore[import-untyped]
    VendorSpecificApplicationId,
)
from diameter.message.commands import (  # type: ignore[import-untyped]
    CapabilitiesExchangeAnswer,
    CapabilitiesExchangeRequest,
    DeviceWatchdogAnswer,
    DeviceWatchdogRequest,
    DisconnectPeerAnswer,
    DisconnectPeerRequest,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from charging.avp import encode_message, octet_string, unsigned32
from charging.diameter.base import (
    BaseAvpCode,
    BaseCommandCode,
    BaseMessage,
    CapabilitiesAnswer,
    CapabilitiesRequest,
    DisconnectAnswer,
    DisconnectCause,
    DisconnectRequest,
    LocalIdentity,
    WatchdogAnswer,
    WatchdogRequest,
    decode_base,
    encode_cea,
    encode_cer,
    encode_dpa,
    encode_dpr,
    encode_dwa,
    encode_dwr,
    encode_unsupported_answer,
)
from charging.diameter.errors import DiameterDecodeError, DiameterEncodeError
from charging.diameter.framing import parse_header
from charging.errors import ChargingError
from smsc.errors import LocalProtocolError, RemoteProtocolError

ME = LocalIdentity(
    "smsc.ims.example.net",
    "ims.example.net",
    ("192.0.2.1", "2001:db8::1"),
    vendor_id=99999,
    product_name="smsc",
    origin_state_id=1_764_151_200,
    firmware_revision=10203,
)
OCS = LocalIdentity("ocs.example.net", "example.net", ("198.51.100.7",), 0, "ocs", 5)
M = 0x40


@dataclass(frozen=True)
class Node:
    """One top-level AVP as python-diameter reads it (plain_msg=True)."""

    code: int
    vendor: int
    flags: int
    value: Any


def plain_tree(data: bytes) -> tuple[Any, list[Node]]:
    message = Message.from_bytes(data, plain_msg=True)
    return message, [Node(x.code, x.vendor_id, x.flags, x.value) for x in message.avps]


def test_cer_read_by_python_diameter() -> None:
    data = encode_cer(ME, hop_by_hop=0x01020304, end_to_end=0xA0B0C0D0)
    cer = Message.from_bytes(data)
    assert isinstance(cer, CapabilitiesExchangeRequest)
    assert cer.header.is_request and not cer.header.is_proxyable and not cer.header.is_error
    assert cer.header.application_id == 0
    assert cer.header.command_code == 257
    assert cer.header.hop_by_hop_identifier == 0x01020304
    assert cer.header.end_to_end_identifier == 0xA0B0C0D0
    assert cer.origin_host == b"smsc.ims.example.net"
    assert cer.origin_realm == b"ims.example.net"
    assert cer.host_ip_address == [(1, "192.0.2.1"), (2, "2001:db8::1")]
    assert cer.vendor_id == 99999
    assert cer.product_name == "smsc"
    assert cer.origin_state_id == 1_764_151_200
    assert cer.supported_vendor_id == [10415]
    assert cer.auth_application_id == [4]
    assert cer.acct_application_id == []
    assert cer.vendor_specific_application_id == []
    assert cer.firmware_revision == 10203


def test_cer_avps_order_and_flags() -> None:
    _, tree = plain_tree(encode_cer(ME, hop_by_hop=1, end_to_end=2))
    assert [(n.code, n.vendor, n.flags) for n in tree] == [
        (264, 0, M),  # Origin-Host
        (296, 0, M),  # Origin-Realm
        (257, 0, M),  # Host-IP-Address
        (257, 0, M),
        (266, 0, M),  # Vendor-Id
        (269, 0, 0),  # Product-Name: M must not be set (RFC 6733 §5.3.7)
        (278, 0, M),  # Origin-State-Id
        (265, 0, M),  # Supported-Vendor-Id
        (258, 0, M),  # Auth-Application-Id
        (267, 0, 0),  # Firmware-Revision: M must not be set (§5.3.4)
    ]


def test_cer_without_firmware_revision() -> None:
    identity = LocalIdentity("a.example", "example", ("10.0.0.1",), 1, "p", 2)
    _, tree = plain_tree(encode_cer(identity, hop_by_hop=1, end_to_end=2))
    assert BaseAvpCode.FIRMWARE_REVISION not in [n.code for n in tree]
    assert [n.value for n in tree if n.code == 257] == [(1, "10.0.0.1")]


def test_host_ip_address_octets() -> None:
    data = encode_cer(ME, hop_by_hop=1, end_to_end=2)
    assert bytes.fromhex("00000101 4000000e 0001 c0000201 0000") in data
    assert bytes.fromhex("00000101 4000001a 0002 20010db8" + "00" * 11 + "01 0000") in data


def test_round_trips() -> None:
    cer = encode_cer(ME, hop_by_hop=7, end_to_end=8)
    assert decode_base(cer) == CapabilitiesRequest(
        7, 8, ME.origin_host, ME.origin_realm, ME.host_ip_addresses, 99999, "smsc",
        1_764_151_200, (10415,), (4,), (), 10203,
    )  # fmt: skip
    cea = encode_cea(OCS, result_code=2001, hop_by_hop=7, end_to_end=8, auth_application_ids=(4, 1))
    assert decode_base(cea) == CapabilitiesAnswer(
        2001, "ocs.example.net", "example.net", (4, 1), (), None, "ocs", 5
    )
    bad = encode_cea(OCS, result_code=3010, hop_by_hop=7, end_to_end=8, error_message="who?")
    assert decode_base(bad) == CapabilitiesAnswer(
        3010, "ocs.example.net", "example.net", (4,), (), "who?", "ocs", 5, error_bit=True
    )
    assert decode_base(encode_dwr(ME, hop_by_hop=1, end_to_end=2)) == WatchdogRequest(
        1, 2, ME.origin_host, ME.origin_realm, ME.origin_state_id
    )
    assert decode_base(encode_dwa(OCS, hop_by_hop=1, end_to_end=2)) == WatchdogAnswer(
        2001, "ocs.example.net", 5
    )
    dpr = encode_dpr(ME, DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU, hop_by_hop=3, end_to_end=4)
    assert decode_base(dpr) == DisconnectRequest(3, 4, 2, ME.origin_host)
    assert decode_base(encode_dpa(OCS, hop_by_hop=3, end_to_end=4, result_code=5012)) == (
        DisconnectAnswer(5012, "ocs.example.net")
    )


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        (encode_dwr(ME, hop_by_hop=5, end_to_end=6), DeviceWatchdogRequest),
        (encode_dwa(ME, hop_by_hop=5, end_to_end=6), DeviceWatchdogAnswer),
        (encode_dpr(ME, DisconnectCause.BUSY, hop_by_hop=5, end_to_end=6), DisconnectPeerRequest),
        (encode_dpa(ME, hop_by_hop=5, end_to_end=6), DisconnectPeerAnswer),
        (encode_cea(ME, result_code=2001, hop_by_hop=5, end_to_end=6), CapabilitiesExchangeAnswer),
    ],
)
def test_our_messages_read_by_python_diameter(data: bytes, cls: type[Message]) -> None:
    message = Message.from_bytes(data)
    assert type(message) is cls
    assert message.header.application_id == 0
    assert not message.header.is_proxyable
    assert (message.header.hop_by_hop_identifier, message.header.end_to_end_identifier) == (5, 6)
    assert message.origin_host == ME.origin_host.encode()
    assert message.origin_realm == ME.origin_realm.encode()
    if not message.header.is_request:
        assert message.result_code == 2001
    if cls is DisconnectPeerRequest:
        assert message.disconnect_cause == DisconnectCause.BUSY
    if cls is DeviceWatchdogRequest:
        assert message.origin_state_id == ME.origin_state_id


def _theirs(message: Message, hop: int = 0x11, e2e: int = 0x22) -> bytes:
    message.header.hop_by_hop_identifier = hop
    message.header.end_to_end_identifier = e2e
    message.origin_host = b"ocs.example.net"
    message.origin_realm = b"example.net"
    data: bytes = message.as_bytes()
    return data


def test_python_diameter_cea() -> None:
    cea = CapabilitiesExchangeAnswer()
    cea.result_code = 2001
    cea.host_ip_address = ["198.51.100.7"]
    cea.vendor_id = 10415
    cea.product_name = "Some OCS"
    cea.origin_state_id = 9
    cea.auth_application_id = [4, 16777238]
    cea.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=10415, auth_application_id=16777236),
        VendorSpecificApplicationId(vendor_id=10415, acct_application_id=3),
    ]
    assert decode_base(_theirs(cea)) == CapabilitiesAnswer(
        2001, "ocs.example.net", "example.net", (4, 16777238), (16777236,), None, "Some OCS", 9
    )


def test_python_diameter_cea_error() -> None:
    cea = CapabilitiesExchangeAnswer()
    cea.header.is_error = True
    cea.result_code = 5010
    cea.error_message = "no common application"
    decoded = decode_base(_theirs(cea))
    assert isinstance(decoded, CapabilitiesAnswer)
    assert (decoded.result_code, decoded.auth_application_ids, decoded.error_bit) == (
        5010,
        (),
        True,
    )
    assert decoded.error_message == "no common application"


def test_python_diameter_dwr_dwa_dpr_dpa() -> None:
    dwr = DeviceWatchdogRequest()
    dwr.origin_state_id = 77
    assert decode_base(_theirs(dwr)) == WatchdogRequest(
        0x11, 0x22, "ocs.example.net", "example.net", 77
    )
    dwa = DeviceWatchdogAnswer()
    dwa.result_code = 2001
    assert decode_base(_theirs(dwa)) == WatchdogAnswer(2001, "ocs.example.net")
    dpr = DisconnectPeerRequest()
    dpr.disconnect_cause = DisconnectCause.REBOOTING
    assert decode_base(_theirs(dpr, 9, 10)) == DisconnectRequest(9, 10, 0, "ocs.example.net")
    dpa = DisconnectPeerAnswer()
    dpa.result_code = 2001
    assert decode_base(_theirs(dpa)) == DisconnectAnswer(2001, "ocs.example.net")


def _ccr_like(*, flags: int = 0xC0, session: bool = True) -> bytes:
    body = octet_string(263)(b"ocs;1;2") if session else b""
    body += octet_string(264)(b"ocs.example.net") + unsigned32(258)(4)
    return encode_message(flags, 258, 4, hop_by_hop=0xABC, end_to_end=0xDEF, body=body)


def test_unsupported_answer() -> None:
    request = _ccr_like()
    answer = encode_unsupported_answer(ME, request)
    header = parse_header(answer)
    assert (header.flags, header.command_code, header.application_id) == (0x60, 258, 4)
    assert (header.hop_by_hop, header.end_to_end, header.length) == (0xABC, 0xDEF, len(answer))
    message, tree = plain_tree(answer)
    assert message.header.is_error and not message.header.is_request
    assert [(n.code, n.value) for n in tree] == [
        (263, "ocs;1;2"),
        (264, ME.origin_host.encode()),
        (296, ME.origin_realm.encode()),
        (268, 3001),
    ]


def test_unsupported_answer_without_session_and_not_proxiable() -> None:
    answer = encode_unsupported_answer(ME, _ccr_like(flags=0x80, session=False), 3007)
    assert parse_header(answer).flags == 0x20
    _, tree = plain_tree(answer)
    assert [n.code for n in tree] == [264, 296, 268]
    assert tree[-1].value == 3007


def test_unsupported_answer_to_a_broken_request() -> None:
    broken = encode_message(0x80, 258, 4, hop_by_hop=1, end_to_end=2, body=b"\0\0\1\7\0\0\0\x30")
    assert parse_header(encode_unsupported_answer(ME, broken)).hop_by_hop == 1
    with pytest.raises(DiameterEncodeError):
        encode_unsupported_answer(ME, b"\1\0\0")
    with pytest.raises(DiameterEncodeError):
        encode_unsupported_answer(ME, broken[:-4])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin_host": ""},
        {"origin_host": "smsc.exämple"},
        {"origin_realm": ""},
        {"host_ip_addresses": ()},
        {"host_ip_addresses": ("300.1.1.1",)},
        {"host_ip_addresses": ("smsc.example",)},
        {"vendor_id": -1},
        {"origin_state_id": 1 << 32},
        {"firmware_revision": 1 << 32},
    ],
)
def test_identity_checks(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "origin_host": "a",
        "origin_realm": "b",
        "host_ip_addresses": ("10.0.0.1",),
        "vendor_id": 0,
        "product_name": "p",
        "origin_state_id": 0,
        **kwargs,
    }
    with pytest.raises(DiameterEncodeError) as caught:
        LocalIdentity(**fields)  # type: ignore[arg-type]
    assert isinstance(caught.value, LocalProtocolError)


def test_encode_out_of_range_ids() -> None:
    with pytest.raises(DiameterEncodeError):
        encode_dwr(ME, hop_by_hop=1 << 32, end_to_end=0)


def _base(command: int, flags: int, body: bytes, application: int = 0) -> bytes:
    return encode_message(flags, command, application, hop_by_hop=1, end_to_end=2, body=body)


RESULT = unsigned32(268)(2001)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", "malformed"),
        (_base(280, 0x00, RESULT)[:-4], "length"),
        (_base(280, 0x00, RESULT) + b"\0\0\0\0", "header length"),
        (_base(280, 0x00, RESULT, application=4), "Application-Id 4"),
        (_base(272, 0x00, RESULT), "not a base-protocol command"),
        (_base(280, 0x00, b""), "without Result-Code"),
        (_base(282, 0x00, b""), "without Result-Code"),
        (_base(257, 0x00, b""), "without Result-Code"),
        (_base(280, 0x00, RESULT + RESULT), "Result-Code appears 2 times"),
        (_base(280, 0x00, octet_string(268)(b"\0\0\x07\xd1\0")), "expected 4"),
        (_base(280, 0x80, octet_string(264)(b"\xff\xfe")), "malformed"),
        (_base(257, 0x80, octet_string(257)(b"\0\1\1\2\3")), "family 1 with 3"),
        (_base(257, 0x80, octet_string(257)(b"\0\x08123")), "family 8"),
        (_base(257, 0x80, octet_string(257)(b"\0")), "shorter than its family"),
        (_base(282, 0x80, octet_string(273)(b"\0")), "Disconnect-Cause has 1"),
        (_base(280, 0x00, b"\0\0\1\x0c\0\0\0\x40"), "overruns"),
        (_base(280, 0x00, b"\0\0\1\x0c\0\0\0\x04"), "length 4 < 8"),
        (b"\2" + _base(280, 0, RESULT)[1:], "version 2"),
    ],
)
def test_decode_errors(data: bytes, text: str) -> None:
    with pytest.raises(DiameterDecodeError, match=text) as caught:
        decode_base(data)
    assert isinstance(caught.value, RemoteProtocolError)
    assert isinstance(caught.value, ChargingError)


def test_vendor_avps_and_unknown_avps_are_skipped() -> None:
    vendor_result = octet_string(268, 10415)(b"\0\0\0\0")
    data = _base(280, 0x00, vendor_result + RESULT + octet_string(9999)(b"xyz"))
    assert decode_base(data) == WatchdogAnswer(2001)


def test_product_name_that_is_not_utf8_is_kept_readable() -> None:
    data = _base(257, 0x00, RESULT + octet_string(269)(b"\xffocs"))
    decoded = decode_base(data)
    assert isinstance(decoded, CapabilitiesAnswer)
    assert decoded.product_name == "\ufffdocs"


VALID = [
    encode_cer(ME, hop_by_hop=1, end_to_end=2),
    encode_cea(OCS, result_code=2001, hop_by_hop=1, end_to_end=2, error_message="ok"),
    encode_dwr(ME, hop_by_hop=1, end_to_end=2),
    encode_dwa(ME, hop_by_hop=1, end_to_end=2),
    encode_dpr(ME, DisconnectCause.BUSY, hop_by_hop=1, end_to_end=2),
    encode_dpa(ME, hop_by_hop=1, end_to_end=2),
]
TYPES = (
    CapabilitiesRequest,
    CapabilitiesAnswer,
    WatchdogRequest,
    WatchdogAnswer,
    DisconnectRequest,
    DisconnectAnswer,
)


def _only_typed_errors(data: bytes) -> BaseMessage | None:
    try:
        decoded = decode_base(data)
    except DiameterDecodeError:
        return None
    assert isinstance(decoded, TYPES)
    return decoded


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
@example(b"\1\0\0\x14\0\0\1\x18" + b"\0" * 12)
def test_fuzz_random_bytes(data: bytes) -> None:
    _only_typed_errors(data)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(0, 400),
)
def test_fuzz_mutated_messages(base: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(base)
    for position, value in edits:
        data[position % len(data)] = value
    _only_typed_errors(bytes(data))
    _only_typed_errors(bytes(data[: cut % (len(data) + 1)]))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.integers(20, 400), st.binary(min_size=1, max_size=12))
def test_fuzz_inserted_bytes(base: bytes, position: int, junk: bytes) -> None:
    at = position % len(base)
    data = base[:at] + junk + base[at:]
    fixed = struct.pack(">I", 1 << 24 | len(data)) + data[4:]
    _only_typed_errors(fixed)


def test_commands_and_codes() -> None:
    assert [int(c) for c in BaseCommandCode] == [257, 280, 282]
    assert [int(c) for c in DisconnectCause] == [0, 1, 2]
