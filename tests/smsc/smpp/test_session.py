"""The sans-IO SMSC session: every (state, incoming PDU) pair, the application's decisions, the
windows both ways, every timer on a fake clock, sequence numbers and unbind both ways."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from smsc.smpp import pdu as p
from smsc.smpp.codec import decode, encode
from smsc.smpp.constants import CommandStatus, Tag
from smsc.smpp.errors import SessionStateError, SmppEncodeError, WindowFull
from smsc.smpp.events import (
    BindRequested,
    Closed,
    Event,
    Rejected,
    RequestReceived,
    ResponseReceived,
    ResponseTimeout,
    UnbindReceived,
)
from smsc.smpp.framing import PduFramer
from smsc.smpp.session import SessionState, SessionTimers, SmppSession

S = CommandStatus
OPEN, BOUND_TX, BOUND_RX, BOUND_TRX, UNBINDING, CLOSED = (
    SessionState.OPEN,
    SessionState.BOUND_TX,
    SessionState.BOUND_RX,
    SessionState.BOUND_TRX,
    SessionState.UNBINDING,
    SessionState.CLOSED,
)
T0 = 1000.0
TIMERS = SessionTimers(session_init_s=5.0, enquire_link_s=30.0, inactivity_s=300.0, response_s=10.0)
BIND_OF = {BOUND_TX: p.BindTransmitter, BOUND_RX: p.BindReceiver, BOUND_TRX: p.BindTransceiver}


def sent(session: SmppSession) -> list[p.Pdu]:
    """The PDUs the session wrote since the last call (each must decode)."""
    return [decode(octets) for octets in PduFramer().feed(session.data_to_send())]


def new_session(window: int = 2, **kwargs: object) -> SmppSession:
    return SmppSession(TIMERS, window, now=T0, **kwargs)  # type: ignore[arg-type]


def bound(state: SessionState = BOUND_TRX, **kwargs: object) -> SmppSession:
    session = new_session(**kwargs)
    (event,) = session.receive_data(encode(BIND_OF[state](system_id="esme", sequence_number=1)), T0)
    assert isinstance(event, BindRequested)
    session.accept_bind(event, "SMSC")
    session.data_to_send()
    return session


def in_state(state: SessionState) -> SmppSession:
    if state is OPEN:
        return new_session()
    if state is UNBINDING:
        session = bound(BOUND_TRX)
        assert session.unbind(T0) == []
        assert sent(session) == [p.Unbind(sequence_number=1)]
        return session
    return bound(state)


def submit(sequence: int) -> bytes:
    return encode(
        p.SubmitSm(destination_addr="447700900123", short_message=b"x", sequence_number=sequence)
    )


def types(events: list[Event]) -> list[type]:
    return [type(e) for e in events]


# --- the state table -----------------------------------------------------------------------------

SEQ = 5
INCOMING: dict[str, bytes] = {
    "bind_transmitter": encode(p.BindTransmitter(system_id="esme2", sequence_number=SEQ)),
    "submit_sm": submit(SEQ),
    "submit_multi": encode(
        p.SubmitMulti(dest_addresses=(p.SmeAddress(1, 1, "1"),), sequence_number=SEQ)
    ),
    "data_sm": encode(p.DataSm(destination_addr="1", sequence_number=SEQ)),
    "query_sm": encode(p.QuerySm(message_id="m1", sequence_number=SEQ)),
    "cancel_sm": encode(p.CancelSm(message_id="m1", sequence_number=SEQ)),
    "replace_sm": encode(p.ReplaceSm(message_id="m1", sequence_number=SEQ)),
    "deliver_sm": encode(p.DeliverSm(sequence_number=SEQ)),
    "enquire_link": encode(p.EnquireLink(sequence_number=SEQ)),
    "unbind": encode(p.Unbind(sequence_number=SEQ)),
    "outbind": encode(p.Outbind(system_id="x", sequence_number=SEQ)),
    "alert_notification": encode(p.AlertNotification(sequence_number=SEQ)),
    "generic_nack": encode(p.GenericNack(S.ESME_RSYSERR, SEQ)),
    "deliver_sm_resp (unmatched)": encode(p.DeliverSmResp(sequence_number=SEQ)),
    "unknown command_id": struct.pack(">IIII", 16, 0x00000099, 0, SEQ),
    "malformed submit_sm": submit(SEQ).replace(b"447700900123\0", b"4477009001234567890123\0")[4:],
}
INCOMING["malformed submit_sm"] = (
    struct.pack(">I", 4 + len(INCOMING["malformed submit_sm"])) + INCOMING["malformed submit_sm"]
)
ANSWER_CLASS: dict[str, type] = {
    "bind_transmitter": p.BindTransmitterResp,
    "submit_sm": p.SubmitSmResp,
    "submit_multi": p.SubmitMultiResp,
    "data_sm": p.DataSmResp,
    "query_sm": p.QuerySmResp,
    "cancel_sm": p.CancelSmResp,
    "replace_sm": p.ReplaceSmResp,
    "deliver_sm": p.DeliverSmResp,
    "enquire_link": p.EnquireLinkResp,
    "unbind": p.UnbindResp,
    "outbind": p.GenericNack,
    "alert_notification": p.GenericNack,
    "unknown command_id": p.GenericNack,
    "malformed submit_sm": p.SubmitSmResp,
}
STATES = (OPEN, BOUND_TX, BOUND_RX, BOUND_TRX, UNBINDING)
# Outcomes: "bind" BindRequested, no answer; "request" RequestReceived, no answer; "-" nothing;
# a status name: Rejected, answered with it; "ok" answered ESME_ROK; "unbound": UnbindReceived
# then Closed, answered unbind_resp; "crossed": Closed, answered unbind_resp.
REQ = ("RINVBNDSTS", "request", "RINVBNDSTS", "request", "RINVBNDSTS")
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    #                        OPEN          BOUND_TX      BOUND_RX      BOUND_TRX     UNBINDING
    "bind_transmitter":     ("bind",       "RALYBND",    "RALYBND",    "RALYBND",    "RINVBNDSTS"),
    "submit_sm": REQ,
    "submit_multi": REQ,
    "data_sm": REQ,
    "query_sm": REQ,
    "cancel_sm": REQ,
    "replace_sm": REQ,
    "deliver_sm":           ("RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS"),
    "enquire_link":         ("ok",         "ok",         "ok",         "ok",         "ok"),
    "unbind":               ("RINVBNDSTS", "unbound",    "unbound",    "unbound",    "crossed"),
    "outbind":              ("RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS"),
    "alert_notification":   ("RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS", "RINVBNDSTS"),
    "generic_nack":         ("-",          "-",          "-",          "-",          "-"),
    "deliver_sm_resp (unmatched)": ("-",   "-",          "-",          "-",          "-"),
    "unknown command_id":   ("RINVCMDID",  "RINVCMDID",  "RINVCMDID",  "RINVCMDID",  "RINVCMDID"),
    "malformed submit_sm":  ("RINVDSTADR", "RINVDSTADR", "RINVDSTADR", "RINVDSTADR", "RINVDSTADR"),
}  # fmt: skip
CASES = [(state, name, TABLE[name][i]) for name in TABLE for i, state in enumerate(STATES)]


def test_the_table_covers_every_incoming_pdu() -> None:
    assert set(TABLE) == set(INCOMING)


@pytest.mark.parametrize(
    ("state", "name", "outcome"), CASES, ids=[f"{c[0].value}-{c[1]}" for c in CASES]
)
def test_state_table(state: SessionState, name: str, outcome: str) -> None:
    session = in_state(state)
    events = session.receive_data(INCOMING[name], T0 + 1)
    answers = sent(session)
    if outcome == "bind":
        assert types(events) == [BindRequested] and answers == []
        assert session.state is OPEN
    elif outcome == "request":
        assert types(events) == [RequestReceived] and answers == []
        assert session.inbound_pending == 1
    elif outcome == "-":
        assert events == [] and answers == []
    elif outcome == "ok":
        assert events == [] and answers == [ANSWER_CLASS[name](S.ESME_ROK, SEQ)]
    elif outcome in ("unbound", "crossed"):
        expected = [UnbindReceived, Closed] if outcome == "unbound" else [Closed]
        assert types(events) == expected
        assert answers == [p.UnbindResp(S.ESME_ROK, SEQ)]
        assert session.state is CLOSED
    else:
        status = S[f"ESME_{outcome}"]
        (rejected,) = events
        assert isinstance(rejected, Rejected)
        assert (rejected.sequence_number, rejected.command_status) == (SEQ, status)
        assert answers == [ANSWER_CLASS[name](command_status=status, sequence_number=SEQ)]
    if outcome not in ("unbound", "crossed"):
        assert session.state is state


# --- binds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind_cls", "resp_cls", "state"),
    [
        (p.BindTransmitter, p.BindTransmitterResp, BOUND_TX),
        (p.BindReceiver, p.BindReceiverResp, BOUND_RX),
        (p.BindTransceiver, p.BindTransceiverResp, BOUND_TRX),
    ],
)
def test_accept_bind_answers_with_the_smsc_system_id(
    bind_cls: type, resp_cls: type, state: SessionState
) -> None:
    session = new_session()
    bind = bind_cls(system_id="esme", password="pw", sequence_number=7)
    (event,) = session.receive_data(encode(bind), T0)
    assert event == BindRequested(bind)
    assert session.state is OPEN and session.bind is None
    session.accept_bind(event, "SMSC")
    assert sent(session) == [resp_cls("SMSC", ((Tag.SC_INTERFACE_VERSION, b"\x34"),), 0, 7)]
    assert session.state is state and session.bind == bind


def test_a_3_3_esme_gets_no_tlv_in_its_bind_resp() -> None:
    """§5.3.2.25: sc_interface_version only to an ESME that knows TLVs (interface 3.4)."""
    session = new_session()
    bind = p.BindTransmitter(system_id="old", interface_version=0x33, sequence_number=1)
    assert types(session.receive_data(encode(bind), T0)) == [BindRequested]
    session.accept_bind(bind, "SMSC")  # the PDU itself also names the bind
    assert sent(session) == [p.BindTransmitterResp("SMSC", (), 0, 1)]


def test_reject_bind_answers_the_status_and_stays_open() -> None:
    session = new_session()
    (event,) = session.receive_data(
        encode(p.BindTransceiver(password="bad", sequence_number=1)), T0
    )
    session.reject_bind(event, S.ESME_RINVPASWD)
    assert sent(session) == [
        p.BindTransceiverResp(command_status=S.ESME_RINVPASWD, sequence_number=1)
    ]
    assert session.data_to_send() == b""
    assert session.state is OPEN
    (again,) = session.receive_data(
        encode(p.BindTransceiver(password="ok", sequence_number=2)), T0 + 1
    )
    session.accept_bind(again, "SMSC")
    assert session.state is BOUND_TRX


def test_bind_decisions_need_the_pending_bind() -> None:
    session = new_session()
    stranger = p.BindTransmitter(system_id="x")
    with pytest.raises(SessionStateError):
        session.accept_bind(stranger, "SMSC")
    (event,) = session.receive_data(encode(p.BindTransmitter(sequence_number=1)), T0)
    with pytest.raises(SessionStateError):
        session.reject_bind(event, S.ESME_ROK)
    with pytest.raises(SmppEncodeError):
        session.accept_bind(event, "an SMSC name too long")
    session.accept_bind(event, "SMSC")
    with pytest.raises(SessionStateError):
        session.accept_bind(event, "SMSC")


def test_a_bind_decided_after_the_connection_went_is_ignored() -> None:
    session = new_session()
    (event,) = session.receive_data(encode(p.BindTransmitter(sequence_number=1)), T0)
    session.connection_lost()
    session.accept_bind(event, "SMSC")
    session.reject_bind(event, S.ESME_RBINDFAIL)
    assert session.state is CLOSED and session.data_to_send() == b""


def test_a_second_bind_while_the_first_awaits_its_answer() -> None:
    session = new_session()
    session.receive_data(encode(p.BindTransmitter(sequence_number=1)), T0)
    (rejected,) = session.receive_data(encode(p.BindReceiver(sequence_number=2)), T0)
    assert isinstance(rejected, Rejected) and rejected.command_status == S.ESME_RINVBNDSTS
    assert sent(session) == [
        p.BindReceiverResp(command_status=S.ESME_RINVBNDSTS, sequence_number=2)
    ]


# --- requests from the ESME and the inbound window ---------------------------------------------


def test_responses_go_in_any_order_with_their_requests_sequence_numbers() -> None:
    session = bound(window=3)
    events = session.receive_data(submit(10) + submit(11) + submit(12), T0)
    assert types(events) == [RequestReceived] * 3
    first, second, third = events
    assert isinstance(first, RequestReceived) and isinstance(third, RequestReceived)
    assert session.respond(third, p.SubmitSmResp(message_id="c")) == []
    assert session.respond(first.pdu, p.SubmitSmResp(message_id="a", sequence_number=999)) == []
    assert session.respond(second, p.GenericNack(S.ESME_RSYSERR)) == []
    assert sent(session) == [
        p.SubmitSmResp(message_id="c", sequence_number=12),
        p.SubmitSmResp(message_id="a", sequence_number=10),
        p.GenericNack(S.ESME_RSYSERR, 11),
    ]
    assert session.inbound_pending == 0


def test_a_full_inbound_window_answers_esme_rmsgqful() -> None:
    session = bound(window=2)
    first, _ = session.receive_data(submit(1) + submit(2), T0)
    (rejected,) = session.receive_data(submit(3), T0)
    assert isinstance(rejected, Rejected) and rejected.command_status == S.ESME_RMSGQFUL
    assert sent(session) == [p.SubmitSmResp(command_status=S.ESME_RMSGQFUL, sequence_number=3)]
    assert isinstance(first, RequestReceived)
    session.respond(first, p.SubmitSmResp(message_id="1"))
    assert types(session.receive_data(submit(4), T0)) == [RequestReceived]


def test_the_window_full_status_can_be_chosen() -> None:
    session = bound(window=1, window_full_status=S.ESME_RTHROTTLED)
    session.receive_data(submit(1), T0)
    session.receive_data(submit(2), T0)
    assert sent(session) == [p.SubmitSmResp(command_status=S.ESME_RTHROTTLED, sequence_number=2)]


def test_enquire_link_and_unbind_never_count_against_the_window() -> None:
    session = bound(window=1)
    session.receive_data(submit(1), T0)
    session.receive_data(encode(p.EnquireLink(sequence_number=2)), T0)
    assert sent(session) == [p.EnquireLinkResp(S.ESME_ROK, 2)]


def test_the_same_sequence_number_twice_is_two_requests() -> None:
    session = bound(window=3)
    first, second = session.receive_data(submit(4) + submit(4), T0)
    assert isinstance(first, RequestReceived) and isinstance(second, RequestReceived)
    session.respond(first, p.SubmitSmResp(message_id="a"))
    session.respond(second, p.SubmitSmResp(message_id="b"))
    with pytest.raises(SessionStateError):
        session.respond(second, p.SubmitSmResp(message_id="c"))


def test_respond_checks_what_it_answers() -> None:
    session = bound()
    (event,) = session.receive_data(submit(1), T0)
    assert isinstance(event, RequestReceived)
    with pytest.raises(SessionStateError):
        session.respond(event, p.DataSmResp())
    with pytest.raises(SessionStateError):
        session.respond(replace(event.pdu, sequence_number=2), p.SubmitSmResp())
    with pytest.raises(SmppEncodeError):
        session.respond(event, p.SubmitSmResp(message_id="m" * 65))
    assert session.inbound_pending == 1  # nothing was taken by the refused answers
    session.respond(event, p.SubmitSmResp(message_id="m"))
    with pytest.raises(SessionStateError):
        session.respond(event, p.SubmitSmResp(message_id="m"))


def test_each_request_kind_is_answered_by_its_resp() -> None:
    session = bound(window=6)
    names = ("submit_sm", "submit_multi", "data_sm", "query_sm", "cancel_sm", "replace_sm")
    events = session.receive_data(b"".join(INCOMING[n] for n in names), T0)
    for event, name in zip(events, names, strict=True):
        assert isinstance(event, RequestReceived)
        session.respond(event, ANSWER_CLASS[name](command_status=S.ESME_RSYSERR))
    assert [type(a) for a in sent(session)] == [ANSWER_CLASS[n] for n in names]


# --- requests to the ESME and the outbound window ------------------------------------------------


def test_send_request_numbers_tracks_and_matches_the_response() -> None:
    session = bound(BOUND_RX, send_window=2)
    deliver = p.DeliverSm(destination_addr="esme", short_message=b"hi")
    sequence = session.send_request(deliver, T0)
    assert sequence == 1
    (out,) = sent(session)
    assert out == replace(deliver, sequence_number=1)
    assert session.outbound_pending == 1 and session.send_window_free == 1
    (event,) = session.receive_data(encode(p.DeliverSmResp(sequence_number=1)), T0 + 1)
    assert event == ResponseReceived(
        replace(deliver, sequence_number=1), p.DeliverSmResp(sequence_number=1)
    )
    assert session.outbound_pending == 0


def test_out_of_order_responses_and_a_generic_nack_match_their_requests() -> None:
    session = bound(send_window=3)
    one = session.send_request(p.DeliverSm(short_message=b"1"), T0)
    two = session.send_request(p.DataSm(destination_addr="2"), T0)
    three = session.send_request(p.DeliverSm(short_message=b"3"), T0)
    sent(session)
    events = session.receive_data(
        encode(p.DataSmResp(message_id="x", sequence_number=two))
        + encode(p.GenericNack(S.ESME_RINVCMDID, three))
        + encode(p.DeliverSmResp(sequence_number=one)),
        T0 + 1,
    )
    assert [(e.request.sequence_number, type(e.response)) for e in events] == [  # type: ignore[union-attr]
        (two, p.DataSmResp),
        (three, p.GenericNack),
        (one, p.DeliverSmResp),
    ]


def test_a_response_of_the_wrong_kind_is_dropped() -> None:
    session = bound()
    sequence = session.send_request(p.DeliverSm(), T0)
    assert session.receive_data(encode(p.SubmitSmResp(sequence_number=sequence)), T0) == []
    assert session.outbound_pending == 1


def test_a_full_outbound_window_raises_window_full() -> None:
    session = bound(send_window=2)
    session.send_request(p.DeliverSm(), T0)
    session.send_request(p.DeliverSm(), T0)
    assert session.send_window_free == 0
    with pytest.raises(WindowFull):
        session.send_request(p.DeliverSm(), T0)
    session.send_request(p.AlertNotification(source_addr="1"), T0)  # no answer, no slot
    session.receive_data(encode(p.DeliverSmResp(sequence_number=1)), T0)
    assert session.send_request(p.DeliverSm(), T0) == 4


@pytest.mark.parametrize(
    ("state", "outbound"),
    [
        (OPEN, p.EnquireLink()),
        (OPEN, p.DeliverSm()),
        (BOUND_TX, p.DeliverSm()),
        (BOUND_TX, p.DataSm()),
        (BOUND_TX, p.AlertNotification()),
        (UNBINDING, p.DeliverSm()),
        (UNBINDING, p.EnquireLink()),
    ],
)
def test_send_request_refuses_the_wrong_state(state: SessionState, outbound: p.DeliverSm) -> None:
    session = in_state(state)
    with pytest.raises(SessionStateError):
        session.send_request(outbound, T0)
    assert session.data_to_send() == b""


def test_a_transmitter_may_be_sent_enquire_link() -> None:
    session = bound(BOUND_TX)
    sequence = session.send_request(p.EnquireLink(), T0)
    (event,) = session.receive_data(encode(p.EnquireLinkResp(sequence_number=sequence)), T0)
    assert isinstance(event, ResponseReceived)


def test_sequence_numbers_wrap_to_1_and_skip_those_in_flight() -> None:
    session = bound(send_window=4, first_sequence=0x7FFFFFFE)
    assert session.send_request(p.DeliverSm(), T0) == 0x7FFFFFFE
    assert session.send_request(p.DeliverSm(), T0) == 0x7FFFFFFF
    assert session.send_request(p.DeliverSm(), T0) == 1
    session.receive_data(encode(p.DeliverSmResp(sequence_number=0x7FFFFFFE)), T0)
    session._next_sequence = 0x7FFFFFFF  # as after 2**31 - 2 more requests
    assert session.send_request(p.DeliverSm(), T0) == 2  # 0x7FFFFFFF and 1 still await answers


def test_first_sequence_must_be_in_range() -> None:
    for first in (0, 0x80000000):
        with pytest.raises(ValueError):
            new_session(first_sequence=first)
    with pytest.raises(ValueError):
        new_session(window=0)


# --- timers --------------------------------------------------------------------------------------


def test_session_init_timer_closes_an_unbound_session() -> None:
    session = new_session()
    assert session.next_deadline() == T0 + 5
    assert session.on_timer(T0 + 4.9) == []
    session.receive_data(encode(p.EnquireLink(sequence_number=1)), T0 + 1)  # not a bind
    assert session.next_deadline() == T0 + 5
    (closed,) = session.on_timer(T0 + 5)
    assert closed == Closed("no bind within 5 s", ())
    assert session.state is CLOSED and session.next_deadline() is None


def test_session_init_timer_also_ends_an_undecided_bind() -> None:
    session = new_session()
    session.receive_data(encode(p.BindTransmitter(sequence_number=1)), T0 + 1)
    assert types(session.on_timer(T0 + 5)) == [Closed]


def test_enquire_link_timer_probes_the_link_and_closes_when_unanswered() -> None:
    session = bound()
    assert session.next_deadline() == T0 + 30
    assert session.on_timer(T0 + 29) == []
    assert session.on_timer(T0 + 30) == []
    (probe,) = sent(session)
    assert probe == p.EnquireLink(sequence_number=1)
    assert session.next_deadline() == T0 + 40
    (closed,) = session.on_timer(T0 + 40)
    assert closed == Closed("no answer to enquire_link within 10 s", ())


def test_an_answered_enquire_link_rearms_the_timer() -> None:
    session = bound()
    session.on_timer(T0 + 30)
    (probe,) = sent(session)
    assert (
        session.receive_data(
            encode(p.EnquireLinkResp(sequence_number=probe.sequence_number)), T0 + 32
        )
        == []
    )
    assert session.next_deadline() == T0 + 62
    assert session.on_timer(T0 + 40) == [] and session.state is BOUND_TRX


def test_any_pdu_from_the_esme_proves_the_link() -> None:
    session = bound()
    session.on_timer(T0 + 30)
    sent(session)
    session.receive_data(submit(9), T0 + 35)
    assert session.on_timer(T0 + 40) == [] and session.state is BOUND_TRX
    assert session.next_deadline() == T0 + 65


def test_inactivity_timer_unbinds_even_while_enquire_links_flow() -> None:
    timers = SessionTimers(session_init_s=5, enquire_link_s=30, inactivity_s=100, response_s=10)
    session = SmppSession(timers, 2, now=T0)
    (event,) = session.receive_data(encode(p.BindTransceiver(sequence_number=1)), T0)
    session.accept_bind(event, "SMSC")
    sent(session)
    for t in range(10, 100, 10):
        session.receive_data(encode(p.EnquireLink(sequence_number=t)), T0 + t)
    assert session.next_deadline() == T0 + 100
    assert session.on_timer(T0 + 100) == []
    assert sent(session)[-1] == p.Unbind(sequence_number=1)
    assert session.state is UNBINDING
    (closed,) = session.receive_data(encode(p.UnbindResp(sequence_number=1)), T0 + 101)
    assert closed == Closed("inactive for 100 s", ())


def test_an_unanswered_unbind_closes_after_the_response_timer() -> None:
    session = in_state(UNBINDING)
    assert session.next_deadline() == T0 + 10
    assert session.receive_data(encode(p.UnbindResp(sequence_number=77)), T0 + 1) == []  # not ours
    (closed,) = session.on_timer(T0 + 10)
    assert closed == Closed("no unbind_resp within 10 s", ())


def test_response_timer_gives_the_request_back_and_frees_its_slot() -> None:
    session = bound(send_window=1)
    deliver = p.DeliverSm(short_message=b"x")
    sequence = session.send_request(deliver, T0 + 1)
    assert session.next_deadline() == T0 + 11
    (timeout,) = session.on_timer(T0 + 11)
    assert timeout == ResponseTimeout(replace(deliver, sequence_number=sequence))
    assert session.send_window_free == 1
    assert session.receive_data(encode(p.DeliverSmResp(sequence_number=sequence)), T0 + 12) == []


def test_response_timers_expire_in_order_whatever_was_answered() -> None:
    session = bound(send_window=3)
    for t in (1, 2, 3):
        session.send_request(p.DeliverSm(short_message=bytes([t])), T0 + t)
    session.receive_data(encode(p.DeliverSmResp(sequence_number=1)), T0 + 4)
    assert session.next_deadline() == T0 + 12
    events = session.on_timer(T0 + 13)
    assert [e.request.short_message for e in events] == [b"\x02", b"\x03"]  # type: ignore[union-attr]


def test_timers_can_be_switched_off_and_must_be_positive() -> None:
    timers = SessionTimers(enquire_link_s=None, inactivity_s=None)
    session = SmppSession(timers, now=T0)
    (event,) = session.receive_data(encode(p.BindTransceiver(sequence_number=1)), T0)
    session.accept_bind(event, "SMSC")
    assert session.next_deadline() is None
    with pytest.raises(ValueError):
        SessionTimers(response_s=0)
    with pytest.raises(ValueError):
        SessionTimers(enquire_link_s=-1)


# --- unbind both ways ----------------------------------------------------------------------------


def test_our_unbind_closes_on_its_resp_with_the_unanswered_requests() -> None:
    session = bound()
    deliver = p.DeliverSm(short_message=b"x")
    sequence = session.send_request(deliver, T0)
    assert session.unbind(T0 + 1, "shutting down") == []
    assert sent(session)[-1] == p.Unbind(sequence_number=sequence + 1)
    (rejected,) = session.receive_data(submit(3), T0 + 2)  # no new requests while unbinding
    assert isinstance(rejected, Rejected) and rejected.command_status == S.ESME_RINVBNDSTS
    (closed,) = session.receive_data(encode(p.UnbindResp(sequence_number=sequence + 1)), T0 + 2)
    assert closed == Closed("shutting down", (replace(deliver, sequence_number=sequence),))


def test_responses_still_arrive_while_we_unbind() -> None:
    session = bound()
    sequence = session.send_request(p.DeliverSm(), T0)
    session.unbind(T0)
    (event,) = session.receive_data(encode(p.DeliverSmResp(sequence_number=sequence)), T0 + 1)
    assert isinstance(event, ResponseReceived)


def test_the_esmes_unbind_waits_for_the_answers_it_is_owed() -> None:
    session = bound(window=3)
    first, second = session.receive_data(submit(1) + submit(2), T0)
    events = session.receive_data(encode(p.Unbind(sequence_number=3)), T0 + 1)
    assert types(events) == [UnbindReceived] and sent(session) == []
    assert session.state is UNBINDING and session.next_deadline() == T0 + 11
    assert session.respond(second, p.SubmitSmResp(message_id="b")) == []  # type: ignore[arg-type]
    (closed,) = session.respond(first, p.SubmitSmResp(message_id="a"))  # type: ignore[arg-type]
    assert closed == Closed("unbound by the ESME", ())
    assert sent(session) == [
        p.SubmitSmResp(message_id="b", sequence_number=2),
        p.SubmitSmResp(message_id="a", sequence_number=1),
        p.UnbindResp(S.ESME_ROK, 3),
    ]


def test_the_esmes_unbind_is_answered_anyway_when_the_application_is_slow() -> None:
    session = bound()
    session.receive_data(submit(1), T0)
    session.receive_data(encode(p.Unbind(sequence_number=3)), T0 + 1)
    (closed,) = session.on_timer(T0 + 11)
    assert closed == Closed("unbound by the ESME, 1 requests unanswered", ())
    assert sent(session) == [p.UnbindResp(S.ESME_ROK, 3)]
    assert session.respond(RequestReceived(decode(submit(1))), p.SubmitSmResp()) == []  # type: ignore[arg-type]
    assert session.data_to_send() == b""


def test_the_esmes_unbind_fails_our_pending_requests() -> None:
    session = bound()
    sequence = session.send_request(p.DeliverSm(), T0)
    events = session.receive_data(encode(p.Unbind(sequence_number=9)), T0 + 1)
    assert types(events) == [UnbindReceived, Closed]
    assert events[1] == Closed("unbound by the ESME", (p.DeliverSm(sequence_number=sequence),))


def test_unbind_when_open_just_closes() -> None:
    session = new_session()
    assert session.unbind(T0) == [Closed("unbound", ())]
    assert session.data_to_send() == b""


# --- closing, the connection, framing errors ------------------------------------------------------


def test_after_closed_nothing_more_happens() -> None:
    session = bound()
    sequence = session.send_request(p.DeliverSm(), T0)
    assert session.close() == [
        Closed("closed by the SMSC", (p.DeliverSm(sequence_number=sequence),))
    ]
    sent(session)
    assert session.close() == [] and session.connection_lost() == [] and session.unbind(T0) == []
    assert session.receive_data(submit(1), T0) == [] and session.on_timer(T0 + 1000) == []
    assert session.next_deadline() is None and session.data_to_send() == b""


def test_connection_lost_reports_the_unanswered_requests() -> None:
    session = bound()
    sequence = session.send_request(p.DataSm(), T0)
    assert session.connection_lost() == [
        Closed("connection lost", (p.DataSm(sequence_number=sequence),))
    ]


def test_a_bad_command_length_is_nacked_then_closes_after_the_good_pdus() -> None:
    session = bound()
    bad = struct.pack(">IIII", 0x00FFFFFF, 4, 0, 42)
    events = session.receive_data(encode(p.EnquireLink(sequence_number=7)) + bad, T0)
    assert types(events) == [Rejected, Closed]
    assert events[1].reason.startswith("framing error: command_length 16777215")  # type: ignore[union-attr]
    assert sent(session) == [
        p.EnquireLinkResp(S.ESME_ROK, 7),
        p.GenericNack(S.ESME_RINVCMDLEN, 42),
    ]


def test_a_bad_command_length_alone_is_nacked_with_sequence_0_when_unknown() -> None:
    session = bound()
    events = session.receive_data(b"\x00\x00\x00\x03", T0)
    assert types(events) == [Rejected, Closed]
    assert sent(session) == [p.GenericNack(S.ESME_RINVCMDLEN, 0)]


def test_a_malformed_response_gets_a_generic_nack_but_a_malformed_nack_nothing() -> None:
    session = bound()
    sequence = session.send_request(p.DeliverSm(), T0)
    sent(session)
    bad_resp = struct.pack(">IIII", 17, 0x80000005, 0, sequence) + b"x"  # message_id without NUL
    (rejected,) = session.receive_data(bad_resp, T0)
    assert isinstance(rejected, Rejected)
    assert sent(session) == [p.GenericNack(S.ESME_RINVCMDLEN, sequence)]
    assert session.outbound_pending == 1  # its response timer will give it back
    bad_nack = struct.pack(">IIII", 17, 0x80000000, 3, sequence) + b"x"
    assert session.receive_data(bad_nack, T0) == [] and sent(session) == []
