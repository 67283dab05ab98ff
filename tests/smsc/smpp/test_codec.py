"""SMPP 3.4 §3-§4 codec: byte-exact vectors, round trips of every PDU, and what each malformed
body is answered with (§5.1.3)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.errors import LocalProtocolError, RemoteProtocolError, SmscError
from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode, error_response, has_response
from smsc.smpp.constants import CommandId, CommandStatus
from smsc.smpp.errors import PduError, SmppEncodeError, SmppError
from tests.smsc.smpp.samples import VECTORS
from tests.smsc.smpp.strategies import STRATEGIES

S = CommandStatus


def pdu_octets(command_id: int, body: bytes = b"", *, status: int = 0, sequence: int = 1) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def c(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


def submit_body(
    *,
    service_type: bytes = b"\0",
    source: bytes = c("MyBank"),
    destination: bytes = c("447700900123"),
    schedule: bytes = b"\0",
    validity: bytes = b"\0",
    message: bytes = b"\x05Hello",
    tail: bytes = b"",
) -> bytes:
    """A submit_sm body (§4.4.1) with the given raw fields."""
    return (
        service_type
        + b"\x05\x00"
        + source
        + b"\x01\x01"
        + destination
        + b"\x00\x00\x00"
        + schedule
        + validity
        + b"\x01\x00\x00\x00"
        + message
        + tail
    )


def bind_body(
    system_id: bytes = c("esme"),
    password: bytes = c("pw"),
    system_type: bytes = c(""),
    address_range: bytes = c(""),
) -> bytes:
    return system_id + password + system_type + b"\x34\x00\x00" + address_range


# --- byte-exact vectors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("octets", "expected"), [v[1:] for v in VECTORS], ids=[v[0] for v in VECTORS]
)
def test_vector_decodes_to_its_fields_and_encodes_to_its_octets(
    octets: bytes, expected: p.Pdu
) -> None:
    assert struct.unpack(">I", octets[:4])[0] == len(octets)  # the hand-made length is right
    assert decode(octets) == expected
    assert encode(expected) == octets


def test_the_vectors_cover_every_kind_of_layout() -> None:
    kinds = {type(v[2]) for v in VECTORS}
    assert {p.SubmitSm, p.DeliverSm, p.DataSm, p.SubmitMulti, p.SubmitMultiResp} <= kinds
    assert {p.BindTransmitter, p.QuerySmResp, p.ReplaceSm, p.AlertNotification} <= kinds


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(STRATEGIES), ids=lambda cls: cls.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_pdu_round_trips(cls: type, data: st.DataObject) -> None:
    pdu = data.draw(STRATEGIES[cls])
    octets = encode(pdu)
    assert struct.unpack(">II", octets[:8]) == (len(octets), cls.command_id)  # type: ignore[attr-defined]
    assert decode(octets) == pdu


def test_the_strategies_cover_every_command() -> None:
    assert {cls.command_id for cls in STRATEGIES} == set(CommandId)  # type: ignore[attr-defined]


def test_encode_can_stamp_another_sequence_number() -> None:
    octets = encode(p.SubmitSmResp(message_id="7", sequence_number=1), sequence_number=0x7FFFFFFF)
    assert decode(octets) == p.SubmitSmResp(message_id="7", sequence_number=0x7FFFFFFF)


def test_unknown_tlvs_are_kept_in_order() -> None:
    """§3.2.4: unknown optional parameters are ignored by the codec, not dropped."""
    tlvs = ((0x1400, b"vendor"), (0x0204, b"\x00\x07"), (0x3FFF, b""))
    body = submit_body(tail=b"\x14\x00\x00\x06vendor\x02\x04\x00\x02\x00\x07\x3f\xff\x00\x00")
    decoded = decode(pdu_octets(CommandId.SUBMIT_SM, body))
    assert isinstance(decoded, p.SubmitSm)
    assert decoded.tlvs == tlvs
    assert encode(decoded) == pdu_octets(CommandId.SUBMIT_SM, body)


# --- responses without a body ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", [p.DeliverSmResp, p.DataSmResp, p.SubmitSmResp, p.QuerySmResp, p.BindTransceiverResp]
)
def test_a_response_without_body_decodes_to_its_defaults(cls: type) -> None:
    """Many ESMEs answer deliver_sm with the 16-octet header alone; §4.4.2 asks it of errors."""
    decoded = decode(pdu_octets(cls.command_id, sequence=9))  # type: ignore[attr-defined]
    assert decoded == cls(sequence_number=9)


@pytest.mark.parametrize("cls", [p.SubmitSmResp, p.BindTransmitterResp, p.BindReceiverResp])
def test_an_error_response_goes_without_body_whatever_it_holds(cls: type) -> None:
    """§4.1.2, §4.1.4, §4.4.2: "not returned if the command_status field contains a non-zero
    value" (bind_transceiver_resp too, as its siblings)."""
    field = "message_id" if cls is p.SubmitSmResp else "system_id"
    pdu = cls(**{field: "x"}, command_status=S.ESME_RSYSERR, sequence_number=3)
    assert encode(pdu) == pdu_octets(cls.command_id, status=8, sequence=3)  # type: ignore[attr-defined]


def test_a_data_sm_resp_error_keeps_its_body() -> None:
    """§4.7.2: data_sm_resp carries delivery_failure_reason and friends with its error."""
    pdu = p.DataSmResp(tlvs=((0x0425, b"\x01"),), command_status=S.ESME_RDELIVERYFAILURE)
    assert decode(encode(pdu)) == pdu


def test_error_response_is_the_requests_resp_or_a_generic_nack() -> None:
    assert error_response(CommandId.SUBMIT_SM, 0x45, 4) == p.SubmitSmResp(
        command_status=0x45, sequence_number=4
    )
    assert error_response(CommandId.QUERY_SM, 0x67, 4) == p.QuerySmResp(
        command_status=0x67, sequence_number=4
    )
    for command_id in (CommandId.OUTBIND, CommandId.ALERT_NOTIFICATION, 0x1234, 0x80000004):
        assert error_response(command_id, 4, 5) == p.GenericNack(4, 5)
    assert has_response(CommandId.DATA_SM) and has_response(CommandId.ENQUIRE_LINK)
    assert not has_response(CommandId.ALERT_NOTIFICATION)
    assert not has_response(CommandId.GENERIC_NACK) and not has_response(CommandId.OUTBIND)


# --- malformed PDUs and their answers ------------------------------------------------------------

SUBMIT = CommandId.SUBMIT_SM


def sm(**fields: bytes) -> bytes:
    """A submit_sm with these raw body fields."""
    return pdu_octets(SUBMIT, submit_body(**fields))


def bind(command_id: int = CommandId.BIND_TRANSMITTER, **fields: bytes) -> bytes:
    return pdu_octets(command_id, bind_body(**fields))


def multi(tail: bytes) -> bytes:
    """A submit_multi whose body goes on after service_type and the source address."""
    return pdu_octets(CommandId.SUBMIT_MULTI, b"\0\0\0\0" + tail)


MALFORMED: list[tuple[str, bytes, int]] = [
    ("header of 15 octets", pdu_octets(CommandId.ENQUIRE_LINK)[:15], S.ESME_RINVCMDLEN),
    ("command_length one too many", b"\0\0\0\x11" + pdu_octets(0x15)[4:], S.ESME_RINVCMDLEN),
    ("unknown command_id", pdu_octets(0x00000099), S.ESME_RINVCMDID),
    ("unknown response command_id", pdu_octets(0x80000099), S.ESME_RINVCMDID),
    ("enquire_link with a body", pdu_octets(CommandId.ENQUIRE_LINK, b"\0"), S.ESME_RINVCMDLEN),
    ("generic_nack with a body", pdu_octets(CommandId.GENERIC_NACK, b"\0"), S.ESME_RINVCMDLEN),
    ("submit_sm cut in source_addr", pdu_octets(SUBMIT, submit_body()[:6]), S.ESME_RINVCMDLEN),
    ("submit_sm cut before esm_class", pdu_octets(SUBMIT, submit_body()[:24]), S.ESME_RINVCMDLEN),
    ("submit_sm without sm_length", sm(message=b""), S.ESME_RINVCMDLEN),
    ("submit_sm with an empty body", pdu_octets(SUBMIT), S.ESME_RINVCMDLEN),
    ("service_type of 6", sm(service_type=c("ABCDEF")), S.ESME_RINVSERTYP),
    ("source_addr of 21", sm(source=c("1" * 21)), S.ESME_RINVSRCADR),
    ("destination_addr of 25", sm(destination=c("2" * 25)), S.ESME_RINVDSTADR),
    ("sm_length 255", sm(message=b"\xff" + b"x" * 255), S.ESME_RINVMSGLEN),
    ("sm_length past the end", sm(message=b"\x06Hello"), S.ESME_RINVMSGLEN),
    ("schedule of 15", sm(schedule=c("240102153000004")), S.ESME_RINVSCHED),
    ("schedule of 17", sm(schedule=c("2401021530000041+")), S.ESME_RINVSCHED),
    ("schedule month 13", sm(schedule=c("241302153000004+")), S.ESME_RINVSCHED),
    ("validity with letters", sm(validity=c("24010215300000A+")), S.ESME_RINVEXPIRY),
    ("validity sign ?", sm(validity=c("240102153000004?")), S.ESME_RINVEXPIRY),
    ("validity offset 49", sm(validity=c("240102153000049+")), S.ESME_RINVEXPIRY),
    ("TLV header cut", sm(tail=b"\x02\x04\x00"), S.ESME_RINVOPTPARSTREAM),
    ("TLV past the end", sm(tail=b"\x04\x24\x00\x09abc"), S.ESME_RINVOPTPARSTREAM),
    ("sar_msg_ref_num of 1", sm(tail=b"\x02\x0c\x00\x01\x01"), S.ESME_RINVPARLEN),
    ("network_error_code of 2", sm(tail=b"\x04\x23\x00\x02\x03\x00"), S.ESME_RINVPARLEN),
    ("system_id of 16", bind(system_id=c("s" * 16)), S.ESME_RINVSYSID),
    ("password of 9", bind(CommandId.BIND_RECEIVER, password=c("p" * 9)), S.ESME_RINVPASWD),
    ("system_type of 13", bind(0x09, system_type=c("t" * 13)), S.ESME_RINVSYSTYP),
    ("address_range of 41", bind(address_range=c("9" * 41)), S.ESME_RBINDFAIL),
    ("bind cut in password", pdu_octets(0x02, bind_body()[:7]), S.ESME_RINVCMDLEN),
    ("query_sm message_id of 65", pdu_octets(0x03, c("m" * 65) + b"\0\0\0"), S.ESME_RINVMSGID),
    ("submit_sm_resp message_id of 65", pdu_octets(0x80000004, c("m" * 65)), S.ESME_RINVMSGID),
    ("submit_sm_resp without NUL", pdu_octets(0x80000004, b"abc"), S.ESME_RINVCMDLEN),
    ("number_of_dests 0", multi(b"\x00"), S.ESME_RINVNUMDESTS),
    ("number_of_dests 255", multi(b"\xff"), S.ESME_RINVNUMDESTS),
    ("dest_flag 3", multi(b"\x01\x03"), S.ESME_RINVDESTFLAG),
    ("dl_name of 21", multi(b"\x01\x02" + c("d" * 21)), S.ESME_RINVDLNAME),
    ("dest cut after its flag", multi(b"\x01\x01\x01"), S.ESME_RINVCMDLEN),
    ("unsuccess_sme cut", pdu_octets(0x80000021, b"\0\x01\x01\x01\x31\0\0\0"), S.ESME_RINVCMDLEN),
]  # fmt: skip


@pytest.mark.parametrize(
    ("octets", "status"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_pdu_raises_pdu_error_with_the_status_to_answer(
    octets: bytes, status: int
) -> None:
    with pytest.raises(PduError) as caught:
        decode(octets)
    assert caught.value.command_status == status, caught.value
    assert caught.value.__cause__ is None  # a planned refusal, not the safety net
    if len(octets) >= 16:
        command_id, sequence = struct.unpack(">I4xI", octets[4:16])
        assert (caught.value.command_id, caught.value.sequence_number) == (command_id, sequence)
    else:
        assert caught.value.command_id is None and caught.value.sequence_number is None


def test_pdu_error_sits_in_the_error_tree() -> None:
    assert issubclass(PduError, SmppError) and issubclass(PduError, RemoteProtocolError)
    assert issubclass(SmppEncodeError, SmppError) and issubclass(
        SmppEncodeError, LocalProtocolError
    )
    assert issubclass(SmppError, SmscError)


def test_integers_and_c_strings_are_not_judged_by_the_codec() -> None:
    """Reserved values (a TON of 7, priority 9) and non-ASCII octets decode; the application
    decides what it accepts."""
    body = submit_body(source=b"\xe9t\xe9\0")
    body = body[:1] + b"\x07\x63" + body[3:]
    decoded = decode(pdu_octets(SUBMIT, body))
    assert isinstance(decoded, p.SubmitSm)
    assert (decoded.source_addr_ton, decoded.source_addr_npi, decoded.source_addr) == (7, 99, "été")


# --- what encode refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        p.BindTransmitter(system_id="s" * 16),
        p.BindTransmitter(password="p" * 9),
        p.BindTransmitter(system_type="t" * 13),
        p.BindTransmitter(interface_version=256),
        p.SubmitSm(destination_addr="1" * 21),
        p.SubmitSm(source_addr="a\0b"),
        p.SubmitSm(source_addr="€uro"),
        p.SubmitSm(short_message=b"x" * 255),
        p.SubmitSm(esm_class=-1),
        p.SubmitSm(schedule_delivery_time="tomorrow"),
        p.SubmitSm(validity_period="241302153000004+"),
        p.SubmitSm(tlvs=((0x020C, b"\x01"),)),
        p.SubmitSm(tlvs=((0x10000, b""),)),
        p.SubmitSm(sequence_number=1 << 32),
        p.SubmitMulti(),
        p.SubmitMulti(dest_addresses=(p.DistributionList("x"),) * 255),
        p.SubmitMulti(dest_addresses=(p.SmeAddress(destination_addr="1" * 21),)),
        p.SubmitMultiResp(unsuccess_smes=(p.UnsuccessSme(error_status_code=-1),)),
        p.DataSm(source_addr="1" * 65),
        p.GenericNack(command_status=1 << 32),
    ],
    ids=repr,
)
def test_encode_refuses_what_smpp_cannot_carry(pdu: p.Pdu) -> None:
    with pytest.raises(SmppEncodeError):
        encode(pdu)


def test_encode_refuses_what_is_no_pdu() -> None:
    with pytest.raises(SmppEncodeError):
        encode(p.SmeAddress())  # type: ignore[arg-type]
