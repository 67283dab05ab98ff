"""An independent cross-check: smpplib (a PyPI SMPP client) parses our PDUs to the same fields
and we parse its PDUs to the same values.

smpplib's PDU classes know a subset of the TLVs, some with sizes other than SMPP 3.4's
(source_addr_subunit and source_telematics_id as 2 octets, §5.3.2.2 and §5.3.2.8 say 1), so the
generated TLVs stay within the tags both sides read alike.
"""

from __future__ import annotations

from typing import Any

import pytest
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode
from smsc.smpp.constants import Tag
from smsc.smpp.tlv import Tlvs, make_tlv, tlv_int, tlv_str
from tests.smsc.smpp.samples import VECTORS
from tests.smsc.smpp.strategies import smpp_time


class _Counter:
    """What smpplib's PDUs ask of their client: a sequence counter."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def parsed_by_smpplib(octets: bytes) -> Any:
    return smpplib.smpp.parse_pdu(octets, client=_Counter())


def built_by_smpplib(name: str, sequence: int, **fields: object) -> bytes:
    pdu = smpplib.smpp.make_pdu(name, client=_Counter(), **fields)
    pdu.sequence = sequence
    octets: bytes = pdu.generate()
    return octets


SM_FIELDS = (
    "service_type",
    "source_addr_ton",
    "source_addr_npi",
    "source_addr",
    "dest_addr_ton",
    "dest_addr_npi",
    "destination_addr",
    "esm_class",
    "protocol_id",
    "priority_flag",
    "schedule_delivery_time",
    "validity_period",
    "registered_delivery",
    "replace_if_present_flag",
    "data_coding",
    "sm_default_msg_id",
    "short_message",
)
BIND_FIELDS = (
    "system_id",
    "password",
    "system_type",
    "interface_version",
    "addr_ton",
    "addr_npi",
    "address_range",
)
# TLVs both sides type alike: smpplib name -> (tag, our value strategy)
SHARED_INT_TLVS = {
    "user_message_reference": (Tag.USER_MESSAGE_REFERENCE, st.integers(0, 0xFFFF)),
    "source_port": (Tag.SOURCE_PORT, st.integers(0, 0xFFFF)),
    "destination_port": (Tag.DESTINATION_PORT, st.integers(0, 0xFFFF)),
    "sar_msg_ref_num": (Tag.SAR_MSG_REF_NUM, st.integers(0, 0xFFFF)),
    "sar_total_segments": (Tag.SAR_TOTAL_SEGMENTS, st.integers(0, 255)),
    "sar_segment_seqnum": (Tag.SAR_SEGMENT_SEQNUM, st.integers(0, 255)),
    "payload_type": (Tag.PAYLOAD_TYPE, st.integers(0, 255)),
    "more_messages_to_send": (Tag.MORE_MESSAGES_TO_SEND, st.integers(0, 255)),
}


def ascii_text(limit: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=limit - 1)


octet = st.integers(0, 255)
sm_fields = st.fixed_dictionaries(
    {
        "service_type": ascii_text(6),
        "source_addr_ton": octet,
        "source_addr_npi": octet,
        "source_addr": ascii_text(21),
        "dest_addr_ton": octet,
        "dest_addr_npi": octet,
        "destination_addr": ascii_text(21),
        "esm_class": octet,
        "protocol_id": octet,
        "priority_flag": octet,
        "schedule_delivery_time": smpp_time,
        "validity_period": smpp_time,
        "registered_delivery": octet,
        "replace_if_present_flag": octet,
        "data_coding": octet,
        "sm_default_msg_id": octet,
        "short_message": st.binary(max_size=254),
    }
)
shared_tlvs = st.lists(st.sampled_from(sorted(SHARED_INT_TLVS)), unique=True, max_size=4).flatmap(
    lambda names: st.fixed_dictionaries({name: SHARED_INT_TLVS[name][1] for name in names})
)


def their_value(theirs: Any, field: str) -> object:
    value = getattr(theirs, field)
    if field == "short_message":
        return b"" if value is None else value  # smpplib stops reading at the body's end
    return value.decode("latin-1") if isinstance(value, bytes) else value


def assert_same_fields(ours: p.Pdu, theirs: Any, fields: tuple[str, ...]) -> None:
    assert theirs.sequence == ours.sequence_number
    for field in fields:
        assert their_value(theirs, field) == getattr(ours, field), field


def tlvs_of(named: dict[str, int]) -> Tlvs:
    return tuple(make_tlv(SHARED_INT_TLVS[name][0], value) for name, value in named.items())


# --- ours parsed by smpplib ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "enquire_link",
        "bind_transmitter (§4.1.1, the spec's example values)",
        "submit_sm from an alphanumeric sender",
        "submit_sm_resp",
        "deliver_sm delivery receipt with receipted_message_id and message_state",
        "deliver_sm_resp",
        "unbind",
        "generic_nack ESME_RINVCMDID",
    ],
)
def test_our_vectors_parse_in_smpplib(name: str) -> None:
    octets, ours = next((v[1], v[2]) for v in VECTORS if v[0] == name)
    theirs = parsed_by_smpplib(octets)
    assert theirs.command == name.split(maxsplit=1)[0]
    assert theirs.sequence == ours.sequence_number
    assert theirs.status == getattr(ours, "command_status", 0)
    if isinstance(ours, p.BindTransmitter):
        assert_same_fields(ours, theirs, BIND_FIELDS)
    elif isinstance(ours, p.SubmitSm | p.DeliverSm):
        assert_same_fields(ours, theirs, SM_FIELDS)
    elif isinstance(ours, p.SubmitSmResp):
        assert theirs.message_id == b"0123456789"
    if isinstance(ours, p.DeliverSm):
        assert theirs.receipted_message_id == b"0123456789"
        assert theirs.message_state == 2


@settings(max_examples=100, deadline=None)
@given(
    fields=sm_fields,
    named_tlvs=shared_tlvs,
    deliver=st.booleans(),
    sequence=st.integers(1, 0x7FFFFFFF),
)
def test_smpplib_reads_our_submit_and_deliver_sm(
    fields: dict[str, Any], named_tlvs: dict[str, int], deliver: bool, sequence: int
) -> None:
    cls = p.DeliverSm if deliver else p.SubmitSm
    ours = cls(**fields, tlvs=tlvs_of(named_tlvs), sequence_number=sequence)
    theirs = parsed_by_smpplib(encode(ours))
    assert theirs.command == ("deliver_sm" if deliver else "submit_sm")
    assert_same_fields(ours, theirs, SM_FIELDS)
    assert theirs.sm_length == len(ours.short_message)
    for name, value in named_tlvs.items():
        assert getattr(theirs, name) == value, name


binds = st.builds(
    lambda kind, numbers, **fields: kind(
        **fields, interface_version=numbers[0], addr_ton=numbers[1], addr_npi=numbers[2]
    ),
    kind=st.sampled_from([p.BindTransmitter, p.BindReceiver, p.BindTransceiver]),
    numbers=st.tuples(octet, octet, octet),
    system_id=ascii_text(16),
    password=ascii_text(9),
    system_type=ascii_text(13),
    address_range=ascii_text(41),
    sequence_number=st.integers(1, 0x7FFFFFFF),
)


@settings(max_examples=50, deadline=None)
@given(binds)
def test_smpplib_reads_our_binds(ours: p.Bind) -> None:
    theirs = parsed_by_smpplib(encode(ours))
    assert_same_fields(ours, theirs, BIND_FIELDS)


def test_smpplib_reads_our_bind_resp_with_sc_interface_version() -> None:
    ours = p.BindTransceiverResp("SMSC", (make_tlv(Tag.SC_INTERFACE_VERSION, 0x34),), 0, 9)
    theirs = parsed_by_smpplib(encode(ours))
    assert (theirs.command, theirs.system_id, theirs.sc_interface_version) == (
        "bind_transceiver_resp",
        b"SMSC",
        0x34,
    )


# --- smpplib's parsed by us ----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    fields=sm_fields,
    named_tlvs=shared_tlvs,
    deliver=st.booleans(),
    sequence=st.integers(1, 0x7FFFFFFF),
)
def test_we_read_smpplibs_submit_and_deliver_sm(
    fields: dict[str, Any], named_tlvs: dict[str, int], deliver: bool, sequence: int
) -> None:
    name = "deliver_sm" if deliver else "submit_sm"
    octets = built_by_smpplib(name, sequence, **fields, **named_tlvs)
    ours = decode(octets)
    assert isinstance(ours, p.DeliverSm if deliver else p.SubmitSm)
    assert ours.sequence_number == sequence
    for field in SM_FIELDS:
        assert getattr(ours, field) == fields[field], field
    for tlv_name, value in named_tlvs.items():
        assert tlv_int(ours.tlvs, SHARED_INT_TLVS[tlv_name][0]) == value, tlv_name
    assert encode(ours) == octets  # and we write the very same octets back


def test_we_read_smpplibs_delivery_receipt_tlvs() -> None:
    octets = built_by_smpplib(
        "deliver_sm",
        12,
        esm_class=4,
        source_addr="447700900123",
        destination_addr="MyBank",
        short_message=b"id:1 stat:DELIVRD",
        receipted_message_id="1",
        message_state=2,
        network_error_code=b"\x03\x00\x00",
    )
    ours = decode(octets)
    assert isinstance(ours, p.DeliverSm)
    assert tlv_str(ours.tlvs, Tag.RECEIPTED_MESSAGE_ID) == "1"
    assert tlv_int(ours.tlvs, Tag.MESSAGE_STATE) == 2
    assert (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x00") in ours.tlvs


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        (
            "bind_transmitter",
            {"system_id": "SMPP3TEST", "password": "secret08", "system_type": "SUBMIT1"},
            p.BindTransmitter(
                system_id="SMPP3TEST", password="secret08", system_type="SUBMIT1", sequence_number=4
            ),
        ),
        (
            "submit_sm_resp",
            {"message_id": "abc"},
            p.SubmitSmResp(message_id="abc", sequence_number=4),
        ),
        ("deliver_sm_resp", {}, p.DeliverSmResp(sequence_number=4)),
        ("enquire_link", {}, p.EnquireLink(sequence_number=4)),
        ("enquire_link_resp", {}, p.EnquireLinkResp(sequence_number=4)),
        ("unbind", {}, p.Unbind(sequence_number=4)),
        ("generic_nack", {"status": 3}, p.GenericNack(3, 4)),
    ],
)
def test_we_read_smpplibs_other_pdus(name: str, fields: dict[str, object], expected: p.Pdu) -> None:
    assert decode(built_by_smpplib(name, 4, **fields)) == expected
