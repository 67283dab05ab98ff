"""Random and mutated PDUs into decode and into the session: decode raises only PduError, the
session never raises, answers every request it does not hand on, and closes on a broken
stream. A short share of tests/fuzz_smpp.py runs here too."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode, has_response
from smsc.smpp.errors import PduError
from smsc.smpp.events import BindRequested, Event, RequestReceived, UnbindReceived
from smsc.smpp.framing import PduFramer
from smsc.smpp.session import SessionState, SessionTimers, SmppSession
from tests.fuzz_smpp import run, with_length
from tests.smsc.smpp.samples import VECTORS
from tests.smsc.smpp.strategies import any_pdu

CORPUS = [octets for _, octets, _ in VECTORS]


def decodes_or_refuses(octets: bytes) -> p.Pdu | None:
    try:
        return decode(octets)
    except PduError as exc:
        assert exc.__cause__ is None, exc.__cause__  # a planned refusal, not the safety net
        return None


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus PDU or a generated one, truncated, bit-flipped, overwritten or length-tampered."""
    base = draw(st.sampled_from(CORPUS) if draw(st.integers(0, 3)) else any_pdu.map(encode))
    buf = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "length"]))
        if kind == "flip" and buf:
            i = draw(st.integers(0, len(buf) - 1))
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and buf:
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        elif kind == "cut":
            del buf[draw(st.integers(0, len(buf))) :]
        elif kind == "insert":
            buf[draw(st.integers(0, len(buf))) : 0] = draw(st.binary(min_size=1, max_size=4))
        elif len(buf) >= 4:
            buf[0:4] = struct.pack(">I", draw(st.integers(0, 0xFFFFFFFF)))
    fixed = draw(st.booleans())
    return with_length(bytes(buf)) if fixed else bytes(buf)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=80))
def test_random_octets_decode_or_raise_pdu_error(octets: bytes) -> None:
    decodes_or_refuses(octets)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=80).map(with_length))
def test_random_bodies_behind_a_right_length_decode_or_raise_pdu_error(octets: bytes) -> None:
    decodes_or_refuses(octets)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_pdus_decode_or_raise_pdu_error_and_what_decodes_re_encodes(octets: bytes) -> None:
    pdu = decodes_or_refuses(octets)
    if pdu is not None:
        again = encode(pdu)
        assert encode(decode(again)) == again


def bound_session() -> SmppSession:
    session = SmppSession(SessionTimers(), window=3, now=0.0)
    (event,) = session.receive_data(encode(p.BindTransceiver(sequence_number=1)), 0.0)
    assert isinstance(event, BindRequested)
    session.accept_bind(event, "SMSC")
    session.data_to_send()
    return session


HANDED_ON = (BindRequested, RequestReceived, UnbindReceived)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), any_pdu.map(encode)), min_size=1, max_size=8))
def test_the_session_answers_or_hands_on_every_request_and_never_raises(
    stream: list[bytes],
) -> None:
    session = bound_session()
    now = 0.0
    for octets in stream:
        now += 1.0
        events: list[Event] = session.receive_data(octets, now)
        for event in events:
            if isinstance(event, RequestReceived) and event.pdu.sequence_number % 2:
                session.respond(event, p.GenericNack(8))  # answer some, keep others pending
        answers = [decode(a) for a in PduFramer().feed(session.data_to_send())]
        if session.state is SessionState.CLOSED:
            return  # a broken stream or an unbind ends the connection
        if len(octets) < 16 or struct.unpack(">I", octets[:4])[0] != len(octets):
            return  # a PDU longer than its octets: the session waits for its end
        command_id, sequence = struct.unpack(">I4xI", octets[4:16])
        if has_response(command_id) and command_id != 0x80000000:
            answered = [a for a in answers if a.sequence_number == sequence]
            handed_on = [e for e in events if isinstance(e, HANDED_ON)]
            assert answered or handed_on, (octets.hex(), events, answers)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.lists(st.integers(1, 50), max_size=6))
def test_garbage_in_any_pieces_never_makes_the_session_raise(data: bytes, cuts: list[int]) -> None:
    session = bound_session()
    pos = 0
    for size in [*cuts, len(data)]:
        session.receive_data(data[pos : pos + size], 1.0)
        pos += size
        for answer in PduFramer().feed(session.data_to_send()):
            decode(answer)
    session.on_timer(1000.0)


def test_a_short_run_of_the_fuzz_script_finds_nothing() -> None:
    outcomes = run(mutations=3000, seed=7)
    assert outcomes["valid"] > 500 and outcomes["rejected"] > 500
