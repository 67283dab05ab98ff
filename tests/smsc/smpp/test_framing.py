"""SMPP 3.4 §3.2 framing: whole PDUs out of any split of the stream; a bad length is final."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.smpp.codec import encode
from smsc.smpp.constants import CommandStatus
from smsc.smpp.errors import PduError
from smsc.smpp.framing import MAX_PDU_LENGTH, PduFramer
from tests.smsc.smpp.samples import VECTORS
from tests.smsc.smpp.strategies import any_pdu

ENQUIRE = VECTORS[0][1]


def feed_all(framer: PduFramer, pieces: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for piece in pieces:
        out += framer.feed(piece)
    return out


@settings(max_examples=100, deadline=None)
@given(pdus=st.lists(any_pdu, min_size=1, max_size=6), data=st.data())
def test_any_split_of_the_stream_gives_the_same_pdus(
    pdus: list[object], data: st.DataObject
) -> None:
    octets = [encode(pdu) for pdu in pdus]  # type: ignore[arg-type]
    stream = b"".join(octets)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    framer = PduFramer()
    assert feed_all(framer, pieces) == octets
    assert framer.buffered == 0 and framer.error is None


def test_one_octet_at_a_time() -> None:
    stream = b"".join(v[1] for v in VECTORS)
    framer = PduFramer()
    assert feed_all(framer, [stream[i : i + 1] for i in range(len(stream))]) == [
        v[1] for v in VECTORS
    ]


def test_a_partial_pdu_waits_in_the_buffer() -> None:
    framer = PduFramer()
    assert framer.feed(ENQUIRE + ENQUIRE[:5]) == [ENQUIRE]
    assert framer.buffered == 5
    assert framer.feed(ENQUIRE[5:]) == [ENQUIRE]
    assert framer.buffered == 0


@pytest.mark.parametrize("length", [0, 1, 15, MAX_PDU_LENGTH + 1, 0xFFFFFFFF])
def test_a_bad_command_length_breaks_the_stream(length: int) -> None:
    framer = PduFramer()
    bad = struct.pack(">IIII", length, 4, 0, 77)
    with pytest.raises(PduError) as caught:
        framer.feed(bad)
    error = caught.value
    assert error.command_status == CommandStatus.ESME_RINVCMDLEN
    assert (error.command_id, error.sequence_number) == (4, 77)
    assert framer.error is error
    with pytest.raises(PduError):
        framer.feed(ENQUIRE)  # every later call: the stream cannot be resynchronised


def test_the_pdus_before_a_bad_length_are_returned_first() -> None:
    framer = PduFramer()
    assert framer.feed(ENQUIRE + ENQUIRE + b"\x00\x00\x00\x08") == [ENQUIRE, ENQUIRE]
    assert framer.error is not None
    assert framer.error.command_id is None and framer.error.sequence_number is None
    with pytest.raises(PduError):
        framer.feed(b"")


def test_a_bad_length_is_seen_from_its_first_four_octets() -> None:
    framer = PduFramer()
    with pytest.raises(PduError) as caught:
        framer.feed(b"\x00\x00\x00\x05\x00\x00\x00\x15")
    assert caught.value.command_id == 0x15 and caught.value.sequence_number is None


def test_the_maximum_is_configurable() -> None:
    framer = PduFramer(max_length=16)
    assert framer.feed(ENQUIRE) == [ENQUIRE]
    with pytest.raises(PduError):
        framer.feed(b"\x00\x00\x00\x11")
    with pytest.raises(ValueError):
        PduFramer(max_length=15)


def test_the_largest_message_payload_fits_the_default_maximum() -> None:
    """§5.3.2.32: a message_payload of 65,535 octets in a data_sm with long addresses."""
    from smsc.smpp import pdu as p

    pdu = p.DataSm(source_addr="1" * 64, destination_addr="2" * 64, tlvs=((0x0424, b"x" * 0xFFFF),))
    octets = encode(pdu)
    assert len(octets) <= MAX_PDU_LENGTH
    assert PduFramer().feed(octets) == [octets]
