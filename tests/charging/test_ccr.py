"""The SMS CCR, re-decoded by python-diameter: every AVP, its nesting, vendor and flags."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from diameter.message import Message
from diameter.message.commands.credit_control import CreditControlRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging.ccr import (
    AddressType,
    OcsProfile,
    SmsChargingEvent,
    SmsNode,
    build_ccr,
)
from charging.errors import CcrEncodeError, ChargingError
from smsc.errors import LocalProtocolError
from tests.charging.oracle import Node, plain_tree

M, VM, TGPP = 0x40, 0xC0, 10415
NTP_1970 = 2_208_988_800
WHEN = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
PANI = "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=31041043114b4cae5; network-provided"
IDS = {
    "origin_host": "smsc.ims.example.net",
    "origin_realm": "ims.example.net",
    "destination_realm": "ocs.example.net",
}

EVENT = SmsChargingEvent(
    charged_msisdn="+4915112345678",
    imsi="262011234567890",
    recipient="4917099999",
    calling_party_address="tel:+4915112345678",
    called_party_address="tel:+4917099999",
    segments=2,
    dcs=8,
    pid=0,
    udh=bytes.fromhex("050003070201"),
    reply_path=True,
    pani=PANI,
)
REL11 = OcsProfile(smsc_address="+491710760000", service_identifier=6, rating_group=100)
REL8 = OcsProfile(
    smsc_address="491710760000",
    recipient_nesting="rel8",
    sms_node=SmsNode.SMS_SC,
    multiple_services_indicator=False,
)


def _build(event: SmsChargingEvent, profile: OcsProfile, **extra: object) -> bytes:
    args: dict[str, object] = {
        "session_id": "smsc.ims.example.net;1764151200;42",
        "hop_by_hop": 0x01020304,
        "end_to_end": 0xA0B0C0D0,
        "event_time": WHEN,
        **IDS,
        **extra,
    }
    return build_ccr(event, profile, **args)  # type: ignore[arg-type]


def _digits(value: str) -> str:
    return value.removeprefix("+")


def expected_tree(
    event: SmsChargingEvent,
    profile: OcsProfile,
    *,
    session_id: str,
    ntp: int,
    destination_host: str | None = None,
) -> list[Node]:
    """The CCR as TS 32.299 §6.4.2 / §7.2 describe it, written out independently."""
    msisdn = _digits(event.charged_msisdn)
    top = [
        Node(263, 0, M, session_id),
        Node(264, 0, M, IDS["origin_host"].encode()),
        Node(296, 0, M, IDS["origin_realm"].encode()),
        Node(283, 0, M, IDS["destination_realm"].encode()),
        Node(258, 0, M, 4),
        Node(461, 0, M, "32274@3gpp.org"),
        Node(416, 0, M, 4),
        Node(415, 0, M, 0),
    ]
    if destination_host is not None:
        top.append(Node(293, 0, M, destination_host.encode()))
    top += [
        Node(55, 0, M, ntp),
        Node(443, 0, M, [Node(450, 0, M, 0), Node(444, 0, M, msisdn)]),
    ]
    if event.imsi is not None:
        top.append(Node(443, 0, M, [Node(450, 0, M, 1), Node(444, 0, M, event.imsi)]))
    top.append(Node(436, 0, M, 0))
    if profile.multiple_services_indicator:
        top.append(Node(455, 0, M, 1))
    mscc = [Node(437, 0, M, [Node(417, 0, M, event.segments)])]
    if profile.service_identifier is not None:
        mscc.append(Node(439, 0, M, profile.service_identifier))
    if profile.rating_group is not None:
        mscc.append(Node(432, 0, M, profile.rating_group))
    top.append(Node(456, 0, M, mscc))

    ims = [
        Node(829, TGPP, VM, 0),
        Node(862, TGPP, VM, 6),
        Node(831, TGPP, VM, event.calling_party_address),
        Node(832, TGPP, VM, event.called_party_address),
    ]
    if event.pani is not None:
        ims.append(Node(1263, TGPP, VM, event.pani.encode("utf-8", "surrogateescape")))
    address = [Node(899, TGPP, VM, int(event.recipient_type)), Node(897, TGPP, VM, event.recipient)]
    recipient = (
        Node(2026, TGPP, VM, [Node(1201, TGPP, VM, address)])
        if profile.recipient_nesting == "rel11"
        else Node(1201, TGPP, VM, address)
    )
    sms = [
        Node(2016, TGPP, VM, int(profile.sms_node)),
        Node(2017, TGPP, VM, (8, _digits(profile.smsc_address))),
        Node(2001, TGPP, VM, event.dcs),
        Node(2007, TGPP, VM, 0),
        Node(2013, TGPP, VM, bytes([event.pid])),
        Node(2011, TGPP, VM, int(event.reply_path)),
    ]
    if event.udh is not None:
        sms.append(Node(2015, TGPP, VM, event.udh))
    sms += [
        Node(2019, TGPP, VM, event.segments),
        recipient,
        Node(2027, TGPP, VM, [Node(899, TGPP, VM, 1), Node(897, TGPP, VM, msisdn)]),
    ]
    top.append(Node(873, TGPP, VM, [Node(876, TGPP, VM, ims), Node(2000, TGPP, VM, sms)]))
    return top


def _walk(data: bytes, start: int, end: int) -> None:
    """An independent RFC 6733 §4.1 walk: alignment, lengths, padding octets all zero."""
    offset = start
    while offset < end:
        assert offset % 4 == 0
        code, flags_length = struct.unpack_from(">II", data, offset)
        flags, length = flags_length >> 24, flags_length & 0xFFFFFF
        assert flags & 0x1F == 0, f"reserved AVP flag bits set in {code}"
        header = 12 if flags & 0x80 else 8
        padded = (length + 3) & ~3
        assert offset + padded <= end
        assert data[offset + length : offset + padded] == b"\0" * (padded - length)
        if code in {443, 456, 437, 873, 876, 2000, 2026, 1201, 2027}:
            _walk(data, offset + header, offset + length)
        offset += padded
    assert offset == end


@pytest.mark.parametrize("profile", [REL11, REL8], ids=["rel11", "rel8"])
def test_every_avp_nesting_vendor_and_flag(profile: OcsProfile) -> None:
    data = _build(EVENT, profile)
    _, tree = plain_tree(data)
    ntp = int(WHEN.timestamp()) + NTP_1970
    session = "smsc.ims.example.net;1764151200;42"
    assert tree == expected_tree(EVENT, profile, session_id=session, ntp=ntp)


def test_header() -> None:
    data = _build(EVENT, REL11)
    message, _ = plain_tree(data)
    header = message.header
    assert (header.version, header.command_code, header.application_id) == (1, 272, 4)
    assert header.command_flags == 0xC0
    assert header.length == len(data)
    assert header.hop_by_hop_identifier == 0x01020304
    assert header.end_to_end_identifier == 0xA0B0C0D0


def test_retransmission_sets_the_t_flag() -> None:
    message, _ = plain_tree(_build(EVENT, REL11, retransmission=True))
    assert message.header.command_flags == 0xD0
    assert message.header.is_retransmit


def test_lengths_alignment_and_padding() -> None:
    for profile in (REL11, REL8):
        data = _build(EVENT, profile)
        assert len(data) % 4 == 0
        assert struct.unpack_from(">I", data)[0] & 0xFFFFFF == len(data)
        _walk(data, 20, len(data))


def test_typed_decode_sees_every_field() -> None:
    ccr = Message.from_bytes(_build(EVENT, REL11, destination_host="ocs1.example.net"))
    assert isinstance(ccr, CreditControlRequest)
    assert ccr.session_id == "smsc.ims.example.net;1764151200;42"
    assert ccr.origin_host == b"smsc.ims.example.net"
    assert ccr.origin_realm == b"ims.example.net"
    assert ccr.destination_realm == b"ocs.example.net"
    assert ccr.destination_host == b"ocs1.example.net"
    assert ccr.auth_application_id == 4
    assert ccr.service_context_id == "32274@3gpp.org"
    assert (ccr.cc_request_type, ccr.cc_request_number, ccr.requested_action) == (4, 0, 0)
    assert ccr.multiple_services_indicator == 1
    assert ccr.event_timestamp.replace(tzinfo=None) == WHEN.astimezone().replace(tzinfo=None)
    ids = [(s.subscription_id_type, s.subscription_id_data) for s in ccr.subscription_id]
    assert ids == [(0, "4915112345678"), (1, "262011234567890")]
    (mscc,) = ccr.multiple_services_credit_control
    assert mscc.requested_service_unit.cc_service_specific_units == 2
    assert (mscc.service_identifier, mscc.rating_group) == ([6], 100)
    sms = ccr.service_information.sms_information
    assert sms.sms_node == SmsNode.IP_SM_GW
    assert sms.smsc_address == (8, "491710760000")
    assert (sms.data_coding_scheme, sms.sm_message_type, sms.sm_protocol_id) == (8, 0, b"\0")
    assert (sms.reply_path_requested, sms.number_of_messages_sent) == (1, 2)
    assert sms.sm_user_data_header == bytes.fromhex("050003070201")
    (recipient,) = sms.recipient_info[0].recipient_address
    assert (recipient.address_type, recipient.address_data) == (1, "4917099999")
    originator = sms.originator_received_address
    assert (originator.address_type, originator.address_data) == (1, "4915112345678")
    ims = ccr.service_information.ims_information
    assert (ims.node_functionality, ims.role_of_node) == (6, 0)
    assert ims.calling_party_address == ["tel:+4915112345678"]
    assert ims.called_party_address == "tel:+4917099999"
    assert ims.access_network_information == [PANI]


def test_pani_is_copied_byte_for_byte() -> None:
    raw = b'3GPP-E-UTRAN-FDD;utran-cell-id-3gpp="2620100011234567";np\xff\xfe;x=\xc3\xa9'
    pani = raw.decode("utf-8", "surrogateescape")  # as smsc.sip decodes headers
    data = _build(_event(pani=pani), REL11)
    _, tree = plain_tree(data)
    ims = tree[-1].child(876)
    assert ims.child(1263).value == raw
    assert raw in data


def test_no_pani_no_access_network_information() -> None:
    _, tree = plain_tree(_build(_event(pani=None), REL11))
    assert all(node.code != 1263 for node in tree[-1].child(876).value)


def test_alphanumeric_and_short_code_recipients() -> None:
    for kind, recipient in [
        (AddressType.ALPHANUMERIC_SHORTCODE, "MyBank"),
        (AddressType.NUMERIC_SHORTCODE, "22333"),
    ]:
        _, tree = plain_tree(_build(_event(recipient=recipient, recipient_type=kind), REL11))
        address = tree[-1].child(2000).child(2026).child(1201)
        assert address.value == [Node(899, TGPP, VM, kind), Node(897, TGPP, VM, recipient)]


def test_event_timestamp_wraps_into_ntp_era_1_after_2036() -> None:
    later = datetime(2040, 1, 1, tzinfo=UTC)
    _, tree = plain_tree(_build(EVENT, REL11, event_time=later))
    assert tree[8].code == 55
    assert tree[8].value == (int(later.timestamp()) + NTP_1970) % 2**32
    other_zone = WHEN.astimezone(timezone(timedelta(hours=-4)))
    assert _build(EVENT, REL11, event_time=other_zone) == _build(EVENT, REL11)


def test_profiles_do_not_leak_into_each_other() -> None:
    first = _build(EVENT, REL11)
    assert _build(EVENT, REL8) != first
    assert _build(EVENT, REL11) == first
    other = OcsProfile(smsc_address="+491710760000", service_identifier=7, rating_group=100)
    _, tree = plain_tree(_build(EVENT, other))
    assert tree[-2].child(439).value == 7


def _event(**changes: object) -> SmsChargingEvent:
    fields = {name: getattr(EVENT, name) for name in SmsChargingEvent.__dataclass_fields__}
    fields.update(changes)
    return SmsChargingEvent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "extra"),
    [
        ({"charged_msisdn": "49151abc"}, {}),
        ({"charged_msisdn": ""}, {}),
        ({"charged_msisdn": "1234567890123456"}, {}),
        ({"imsi": "1234"}, {}),
        ({"segments": 0}, {}),
        ({"segments": 256}, {}),
        ({"dcs": 256}, {}),
        ({"pid": -1}, {}),
        ({"recipient_type": 42}, {}),
        ({"pani": "bad \ud800 surrogate"}, {}),
        ({}, {"event_time": datetime(2026, 1, 1)}),  # naive: which zone?
        ({}, {"hop_by_hop": 2**32}),
        ({}, {"end_to_end": -1}),
        ({}, {"session_id": ""}),
        ({}, {"origin_host": "smsc.例え.jp"}),
    ],
)
def test_unencodable_events_raise_a_typed_error(
    change: dict[str, object], extra: dict[str, object]
) -> None:
    with pytest.raises(CcrEncodeError) as info:
        _build(_event(**change), REL11, **extra)
    assert isinstance(info.value, ChargingError)
    assert isinstance(info.value, LocalProtocolError)


@pytest.mark.parametrize(
    "profile",
    [
        OcsProfile(smsc_address="+49abc"),
        OcsProfile(smsc_address="4917", recipient_nesting="rel9"),  # type: ignore[arg-type]
        OcsProfile(smsc_address="4917", sms_node=9),  # type: ignore[arg-type]
        OcsProfile(smsc_address="4917", rating_group=2**32),
    ],
)
def test_bad_profiles_raise_a_typed_error(profile: OcsProfile) -> None:
    with pytest.raises(CcrEncodeError):
        _build(EVENT, profile)


# --- round trip of generated events --------------------------------------------------------

_digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=15)
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
events = st.builds(
    SmsChargingEvent,
    charged_msisdn=st.tuples(st.sampled_from(["", "+"]), _digit_strings).map("".join),
    imsi=st.none() | st.text(alphabet="0123456789", min_size=5, max_size=15),
    recipient=_text,
    recipient_type=st.sampled_from(AddressType),
    calling_party_address=_text,
    called_party_address=_text,
    segments=st.integers(1, 255),
    dcs=st.integers(0, 255),
    pid=st.integers(0, 255),
    udh=st.none() | st.binary(min_size=1, max_size=140),
    reply_path=st.booleans(),
    pani=st.none() | st.binary(max_size=300).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
_u32 = st.integers(0, 2**32 - 1)
profiles = st.builds(
    OcsProfile,
    smsc_address=st.text(alphabet="0123456789", min_size=1, max_size=20),
    recipient_nesting=st.sampled_from(["rel8", "rel11"]),
    sms_node=st.sampled_from(SmsNode),
    service_identifier=st.none() | _u32,
    rating_group=st.none() | _u32,
    multiple_services_indicator=st.booleans(),
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


requests = st.fixed_dictionaries(
    {
        "hop_by_hop": _u32,
        "end_to_end": _u32,
        "event_time": moments,
        "retransmission": st.booleans(),
        "destination_host": st.none() | st.just("ocs2.example"),
    }
)


@settings(max_examples=300)
@given(events, profiles, requests)
def test_generated_events_round_trip_through_python_diameter(
    event: SmsChargingEvent, profile: OcsProfile, request: dict[str, Any]
) -> None:
    session = f"smsc.ims.example.net;{request['hop_by_hop']};{request['end_to_end']}"
    data = _build(event, profile, session_id=session, **request)
    message, tree = plain_tree(data)
    assert message.header.command_flags == (0xD0 if request["retransmission"] else 0xC0)
    assert message.header.hop_by_hop_identifier == request["hop_by_hop"]
    assert message.header.end_to_end_identifier == request["end_to_end"]
    ntp = (int(request["event_time"].timestamp()) + NTP_1970) % 2**32
    expected = expected_tree(
        event, profile, session_id=session, ntp=ntp, destination_host=request["destination_host"]
    )
    assert tree == expected
    _walk(data, 20, len(data))
