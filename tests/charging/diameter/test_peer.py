"""The sans-IO client peer: every (state, input) pair, the timers, and answer matching."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging.avp import encode_message, octet_string, unsigned32
from charging.diameter.base import (
    DisconnectCause,
    LocalIdentity,
    encode_cea,
    encode_cer,
    encode_dpa,
    encode_dpr,
    encode_dwa,
    encode_dwr,
    encode_unsupported_answer,
)
from charging.diameter.errors import DiameterEncodeError, PeerNotOpen
from charging.diameter.framing import parse_header
from charging.diameter.peer import (
    AnswerReceived,
    Connect,
    DiameterPeer,
    Disconnect,
    Down,
    Opened,
    PeerEvent,
    PeerState,
    PeerTimers,
    Recovered,
    RequestsFailed,
    Send,
    Suspect,
)

ME = LocalIdentity("smsc.example.net", "example.net", ("192.0.2.1",), 0, "smsc", 42)
OCS = LocalIdentity("ocs.example.net", "ocs.net", ("192.0.2.9",), 0, "ocs", 7)
TIMERS = PeerTimers(tw_s=6.0, tw_jitter_s=1.0, tc_s=30.0, cea_timeout_s=10.0, dpa_timeout_s=2.0)
SEED, HOP0, T0, T1 = 1234, 100, 1000.0, 1001.0
E2E0 = random.Random(SEED).getrandbits(32)  # our first own end-to-end id (CER)
CER = encode_cer(ME, hop_by_hop=HOP0, end_to_end=E2E0)
OCS_HOP, OCS_E2E = 0x5000, 0x6000


def new_peer(first_hop_by_hop: int = HOP0) -> DiameterPeer:
    return DiameterPeer(ME, TIMERS, rng=random.Random(SEED), first_hop_by_hop=first_hop_by_hop)


def drain(peer: DiameterPeer) -> list[PeerEvent]:
    events = []
    while (event := peer.next_event()) is not None:
        events.append(event)
    return events


def request(hop: int = 0, e2e: int = 0xE2E, flags: int = 0xC0) -> bytes:
    body = octet_string(263)(b"smsc;1;1") + unsigned32(258)(4)
    return encode_message(flags, 272, 4, hop_by_hop=hop, end_to_end=e2e, body=body)


def answer(hop: int, e2e: int = 0xE2E) -> bytes:
    body = octet_string(263)(b"smsc;1;1") + unsigned32(268)(2001)
    return encode_message(0x40, 272, 4, hop_by_hop=hop, end_to_end=e2e, body=body)


def cea(result: int = 2001, apps: tuple[int, ...] = (4,)) -> bytes:
    return encode_cea(
        OCS, result_code=result, hop_by_hop=HOP0, end_to_end=E2E0, auth_application_ids=apps
    )


DWR = encode_dwr(OCS, hop_by_hop=OCS_HOP, end_to_end=OCS_E2E)
DWA = encode_dwa(OCS, hop_by_hop=77, end_to_end=78)
DPR = encode_dpr(OCS, DisconnectCause.BUSY, hop_by_hop=OCS_HOP, end_to_end=OCS_E2E)
DPA = encode_dpa(OCS, hop_by_hop=102, end_to_end=E2E0 + 1)
RAR = encode_message(
    0xC0, 258, 4, hop_by_hop=OCS_HOP, end_to_end=OCS_E2E, body=octet_string(263)(b"s;1")
)
GARBAGE = b"\x02\x00\x00\x14" + b"\0" * 16
OUR_DWA = encode_dwa(ME, hop_by_hop=OCS_HOP, end_to_end=OCS_E2E)
OUR_DPA = encode_dpa(ME, hop_by_hop=OCS_HOP, end_to_end=OCS_E2E)
OUR_3001 = encode_unsupported_answer(ME, RAR)
OUR_DPR = encode_dpr(ME, DisconnectCause.REBOOTING, hop_by_hop=102, end_to_end=E2E0 + 1)
PENDING = 101  # the request sent in OPEN and CLOSING
ANSWER = answer(PENDING)


def peer_in(state: PeerState) -> DiameterPeer:
    """A peer brought to ``state`` at T0; in OPEN and CLOSING one request (101) is pending."""
    peer = new_peer()
    if state is not PeerState.CLOSED:
        peer.start(T0)
    if state in (PeerState.WAIT_I_CEA, PeerState.OPEN, PeerState.CLOSING):
        peer.connection_made(T0)
    if state in (PeerState.OPEN, PeerState.CLOSING):
        peer.receive_data(cea(), T0)
        assert peer.send_request(request(), T0) == PENDING
    if state is PeerState.CLOSING:
        peer.stop(T0)
    drain(peer)
    assert peer.state is state
    return peer


@dataclass(frozen=True)
class Input:
    name: str
    apply: Callable[[DiameterPeer], None]

    def __repr__(self) -> str:
        return self.name


def _receive(data: bytes) -> Callable[[DiameterPeer], None]:
    return lambda peer: peer.receive_data(data, T1)


INPUTS = {
    "start": Input("start", lambda p: p.start(T1)),
    "made": Input("made", lambda p: p.connection_made(T1)),
    "failed": Input("failed", lambda p: p.connection_failed(T1, "refused")),
    "lost": Input("lost", lambda p: p.connection_lost(T1, "reset")),
    "cea ok": Input("cea ok", _receive(cea())),
    "cea bad": Input("cea bad", _receive(cea(5010))),
    "dwr": Input("dwr", _receive(DWR)),
    "dwa": Input("dwa", _receive(DWA)),
    "dpr": Input("dpr", _receive(DPR)),
    "dpa": Input("dpa", _receive(DPA)),
    "answer": Input("answer", _receive(ANSWER)),
    "request": Input("request", _receive(RAR)),
    "garbage": Input("garbage", _receive(GARBAGE)),
}
RECEIVES = [k for k in INPUTS if k not in ("start", "made", "failed", "lost")]
RECONNECT = T1 + 30.0
FRAMING = "framing error: Diameter version 2, expected 1"
S = PeerState


def _failed(reason: str) -> RequestsFailed:
    return RequestsFailed((PENDING,), reason)


DPR_REASON = "peer sent DPR (BUSY)"


# (state, input) -> (state after, exact events)
TABLE: dict[tuple[PeerState, str], tuple[PeerState, list[PeerEvent]]] = {
    (S.CLOSED, "start"): (S.WAIT_CONN_ACK, [Connect()]),
    (S.CLOSED, "made"): (S.CLOSED, [Disconnect("no connection wanted")]),
    (S.CLOSED, "failed"): (S.CLOSED, []),
    (S.CLOSED, "lost"): (S.CLOSED, []),
    **{(S.CLOSED, k): (S.CLOSED, []) for k in RECEIVES},
    (S.WAIT_CONN_ACK, "start"): (S.WAIT_CONN_ACK, []),
    (S.WAIT_CONN_ACK, "made"): (S.WAIT_I_CEA, [Send(CER)]),
    (S.WAIT_CONN_ACK, "failed"): (S.CLOSED, [Down("refused", RECONNECT)]),
    (S.WAIT_CONN_ACK, "lost"): (S.CLOSED, [Down("reset", RECONNECT)]),
    **{(S.WAIT_CONN_ACK, k): (S.WAIT_CONN_ACK, []) for k in RECEIVES},
    (S.WAIT_I_CEA, "start"): (S.WAIT_I_CEA, []),
    (S.WAIT_I_CEA, "made"): (S.WAIT_I_CEA, []),
    (S.WAIT_I_CEA, "failed"): (S.WAIT_I_CEA, []),
    (S.WAIT_I_CEA, "lost"): (S.CLOSED, [Down("reset", RECONNECT)]),
    (S.WAIT_I_CEA, "cea ok"): (S.OPEN, [Opened("ocs.example.net", "ocs.net")]),
    **{
        (S.WAIT_I_CEA, k): (S.CLOSED, [Disconnect(reason), Down(reason, RECONNECT)])
        for k, reason in [
            ("cea bad", "CEA result 5010"),
            ("dwr", "request 280 before the CEA"),
            ("dwa", "answer 280 before the CEA"),
            ("dpr", "request 282 before the CEA"),
            ("dpa", "answer 282 before the CEA"),
            ("answer", "answer 272 before the CEA"),
            ("request", "request 258 before the CEA"),
            ("garbage", FRAMING),
        ]
    },
    (S.OPEN, "start"): (S.OPEN, []),
    (S.OPEN, "made"): (S.OPEN, []),
    (S.OPEN, "failed"): (S.OPEN, []),
    (S.OPEN, "lost"): (S.CLOSED, [_failed("reset"), Down("reset", RECONNECT)]),
    (S.OPEN, "cea ok"): (S.OPEN, []),
    (S.OPEN, "cea bad"): (S.OPEN, []),
    (S.OPEN, "dwr"): (S.OPEN, [Send(OUR_DWA)]),
    (S.OPEN, "dwa"): (S.OPEN, []),
    (S.OPEN, "dpr"): (
        S.CLOSED,
        [
            Send(OUR_DPA),
            Disconnect(DPR_REASON),
            _failed(DPR_REASON),
            Down(DPR_REASON, RECONNECT),
        ],
    ),
    (S.OPEN, "dpa"): (S.OPEN, []),
    (S.OPEN, "answer"): (S.OPEN, [AnswerReceived(PENDING, 0xE2E, ANSWER)]),
    (S.OPEN, "request"): (S.OPEN, [Send(OUR_3001)]),
    (S.OPEN, "garbage"): (
        S.CLOSED,
        [Disconnect(FRAMING), _failed(FRAMING), Down(FRAMING, RECONNECT)],
    ),
    (S.CLOSING, "start"): (S.CLOSING, []),
    (S.CLOSING, "made"): (S.CLOSING, []),
    (S.CLOSING, "failed"): (S.CLOSING, []),
    (S.CLOSING, "lost"): (S.CLOSED, [_failed("reset"), Down("reset", None)]),
    (S.CLOSING, "cea ok"): (S.CLOSING, []),
    (S.CLOSING, "cea bad"): (S.CLOSING, []),
    (S.CLOSING, "dwr"): (S.CLOSING, [Send(OUR_DWA)]),
    (S.CLOSING, "dwa"): (S.CLOSING, []),
    (S.CLOSING, "dpr"): (
        S.CLOSED,
        [
            Send(OUR_DPA),
            Disconnect(DPR_REASON),
            _failed(DPR_REASON),
            Down(DPR_REASON, None),
        ],
    ),
    (S.CLOSING, "dpa"): (
        S.CLOSED,
        [
            Disconnect("stopped (DPA received)"),
            _failed("stopped (DPA received)"),
            Down("stopped (DPA received)", None),
        ],
    ),
    (S.CLOSING, "answer"): (S.CLOSING, [AnswerReceived(PENDING, 0xE2E, ANSWER)]),
    (S.CLOSING, "request"): (S.CLOSING, [Send(OUR_3001)]),
    (S.CLOSING, "garbage"): (
        S.CLOSED,
        [Disconnect(FRAMING), _failed(FRAMING), Down(FRAMING, None)],
    ),
}


def test_table_is_complete() -> None:
    assert set(TABLE) == {(state, name) for state in PeerState for name in INPUTS}


@pytest.mark.parametrize(("state", "name"), list(TABLE))
def test_transition(state: PeerState, name: str) -> None:
    peer = peer_in(state)
    INPUTS[name].apply(peer)
    after, events = TABLE[state, name]
    assert drain(peer) == events
    assert peer.state is after
    if after is PeerState.CLOSED:
        assert peer.pending == 0
        assert peer.peer_host is None
    if after is PeerState.OPEN:
        assert peer.peer_host == "ocs.example.net"
        assert peer.peer_realm == "ocs.net"


CONNECTED = (PeerState.WAIT_I_CEA, PeerState.OPEN, PeerState.CLOSING)


@pytest.mark.parametrize(("state", "name"), [(s, n) for s in CONNECTED for n in RECEIVES])
def test_transition_with_bytes_one_at_a_time(state: PeerState, name: str) -> None:
    data = {
        "cea ok": cea(),
        "cea bad": cea(5010),
        "dwr": DWR,
        "dwa": DWA,
        "dpr": DPR,
        "dpa": DPA,
        "answer": ANSWER,
        "request": RAR,
        "garbage": GARBAGE,
    }[name]
    peer = peer_in(state)
    for i in range(len(data)):
        peer.receive_data(data[i : i + 1], T1)
    assert drain(peer) == TABLE[state, name][1]


@pytest.mark.parametrize("state", list(PeerState))
def test_send_request_in_each_state(state: PeerState) -> None:
    peer = peer_in(state)
    if state is not PeerState.OPEN:
        with pytest.raises(PeerNotOpen):
            peer.send_request(request(), T1)
        assert drain(peer) == []
        return
    assert peer.send_request(request(e2e=5), T1) == PENDING + 1
    assert drain(peer) == [Send(request(hop=PENDING + 1, e2e=5))]
    assert peer.pending == 2


def test_send_request_needs_a_request() -> None:
    peer = peer_in(PeerState.OPEN)
    with pytest.raises(DiameterEncodeError):
        peer.send_request(answer(1), T1)
    with pytest.raises(DiameterEncodeError):
        peer.send_request(request()[:19], T1)


STOP: dict[PeerState, tuple[PeerState, list[PeerEvent]]] = {
    S.CLOSED: (S.CLOSED, []),
    S.WAIT_CONN_ACK: (S.CLOSED, [Disconnect("stopped"), Down("stopped", None)]),
    S.WAIT_I_CEA: (S.CLOSED, [Disconnect("stopped"), Down("stopped", None)]),
    S.OPEN: (S.CLOSING, [Send(OUR_DPR)]),
    S.CLOSING: (S.CLOSING, []),
}


@pytest.mark.parametrize("state", list(PeerState))
def test_stop_in_each_state(state: PeerState) -> None:
    peer = peer_in(state)
    peer.stop(T1)
    after, events = STOP[state]
    assert drain(peer) == events
    assert peer.state is after
    assert peer.stopped
    if after is PeerState.CLOSED:
        assert peer.next_deadline() is None
        peer.timer(T1 + 1000)
        assert drain(peer) == []


def test_stop_while_waiting_to_reconnect() -> None:
    peer = peer_in(PeerState.WAIT_CONN_ACK)
    peer.connection_failed(T1, "refused")
    assert drain(peer) == [Down("refused", RECONNECT)]
    assert peer.next_deadline() == RECONNECT
    peer.stop(T1 + 1)
    assert drain(peer) == [Down("stopped", None)]
    assert peer.next_deadline() is None
    assert peer.reconnect_at is None
    peer.stop(T1 + 2)
    peer.timer(RECONNECT)
    assert drain(peer) == []


def test_start_after_stop_starts_again() -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.stop(T1)
    drain(peer)
    peer.start(T1 + 5)
    assert drain(peer) == [Connect()]
    assert not peer.stopped
    peer.connection_failed(T1 + 6, "refused")
    assert drain(peer) == [Down("refused", T1 + 36)]


def test_dpa_timeout() -> None:
    peer = peer_in(PeerState.CLOSING)
    assert peer.next_deadline() == T0 + 2.0
    peer.timer(T0 + 1.999)
    assert drain(peer) == []
    peer.timer(T0 + 2.0)
    reason = "no DPA within 2 s"
    assert drain(peer) == [Disconnect(reason), _failed(reason), Down(reason, None)]
    assert peer.next_deadline() is None
    peer.connection_lost(T0 + 3, "closed")  # the transport may still report it
    peer.timer(T0 + 100)
    assert drain(peer) == []


def test_cea_timeout() -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    assert peer.next_deadline() == T0 + 10.0
    peer.timer(T0 + 9.5)
    assert drain(peer) == []
    peer.timer(T0 + 10.0)
    reason = "no CEA within 10 s"
    assert drain(peer) == [Disconnect(reason), Down(reason, T0 + 40.0)]
    assert peer.next_deadline() == T0 + 40.0


def test_tc_reconnect() -> None:
    peer = peer_in(PeerState.OPEN)
    peer.connection_lost(T1, "reset")
    drain(peer)
    assert peer.next_deadline() == RECONNECT
    peer.timer(RECONNECT - 0.001)
    assert drain(peer) == []
    peer.timer(RECONNECT)
    assert drain(peer) == [Connect()]
    assert peer.state is PeerState.WAIT_CONN_ACK
    assert peer.next_deadline() is None
    peer.connection_made(RECONNECT + 0.1)
    (sent,) = drain(peer)
    assert isinstance(sent, Send)
    assert parse_header(sent.data).hop_by_hop == PENDING + 1  # the sequence goes on


def test_no_deadline_while_connecting_or_before_start() -> None:
    assert new_peer().next_deadline() is None
    assert peer_in(PeerState.WAIT_CONN_ACK).next_deadline() is None


def _tw_draws(count: int) -> list[float]:
    rng = random.Random(SEED)
    rng.getrandbits(32)  # the end-to-end start
    return [rng.uniform(5.0, 7.0) for _ in range(count)]


def test_watchdog_dwr_suspect_down() -> None:
    tw = _tw_draws(3)
    peer = peer_in(PeerState.OPEN)
    d1 = T0 + tw[0]
    assert peer.next_deadline() == d1
    assert peer.last_tw == tw[0]
    peer.timer(d1 - 0.01)
    assert drain(peer) == []
    peer.timer(d1)  # Tw without traffic: DWR
    assert drain(peer) == [Send(encode_dwr(ME, hop_by_hop=102, end_to_end=E2E0 + 1))]
    d2 = d1 + tw[1]
    assert peer.next_deadline() == d2
    peer.timer(d2)  # no DWA within Tw: suspect
    assert drain(peer) == [Suspect()]
    assert peer.suspect and peer.state is PeerState.OPEN
    d3 = d2 + tw[2]
    assert peer.next_deadline() == d3
    peer.timer(d3)  # another Tw: down
    reason = "no answer to the watchdog (RFC 3539)"
    assert drain(peer) == [Disconnect(reason), _failed(reason), Down(reason, d3 + 30.0)]
    assert not peer.suspect


def test_watchdog_answer_clears_pending_dwr() -> None:
    tw = _tw_draws(3)
    peer = peer_in(PeerState.OPEN)
    d1 = T0 + tw[0]
    peer.timer(d1)
    drain(peer)
    peer.receive_data(encode_dwa(OCS, hop_by_hop=102, end_to_end=E2E0 + 1), d1 + 0.5)
    assert drain(peer) == []
    assert peer.next_deadline() == d1 + 0.5 + tw[2]
    peer.timer(d1 + 0.5 + tw[2])  # a DWR again, not suspect
    assert drain(peer) == [Send(encode_dwr(ME, hop_by_hop=103, end_to_end=E2E0 + 2))]


def test_suspect_recovers_on_any_message() -> None:
    peer = peer_in(PeerState.OPEN)
    for _ in range(2):
        deadline = peer.next_deadline()
        assert deadline is not None
        peer.timer(deadline)
    assert drain(peer)[-1] == Suspect()
    assert peer.send_request(request(), T0 + 20) == 103  # still OPEN: the caller decides
    drain(peer)
    peer.receive_data(ANSWER, T0 + 21)
    assert drain(peer) == [Recovered(), AnswerReceived(PENDING, 0xE2E, ANSWER)]
    assert not peer.suspect
    peer.timer(T0 + 21 + 5.0)
    assert drain(peer) == []  # the watchdog starts again from the answer


def test_suspect_recovers_on_dwa() -> None:
    peer = peer_in(PeerState.OPEN)
    for _ in range(2):
        deadline = peer.next_deadline()
        assert deadline is not None
        peer.timer(deadline)
    drain(peer)
    peer.receive_data(DWA, T0 + 20)
    assert drain(peer) == [Recovered()]


def test_any_message_resets_the_watchdog() -> None:
    tw = _tw_draws(4)
    peer = peer_in(PeerState.OPEN)
    peer.receive_data(DWR, T0 + 3)
    assert drain(peer) == [Send(OUR_DWA)]
    assert peer.next_deadline() == T0 + 3 + tw[1]
    peer.receive_data(ANSWER, T0 + 4)
    assert peer.next_deadline() == T0 + 4 + tw[2]
    peer.receive_data(answer(999), T0 + 5)  # dropped, but heard
    assert peer.next_deadline() == T0 + 5 + tw[3]


def test_tw_jitter_bounds() -> None:
    peer = peer_in(PeerState.OPEN)
    draws = set()
    now = T0
    for _ in range(300):
        now += 1.0
        peer.receive_data(DWA, now)
        assert peer.last_tw is not None
        assert 5.0 <= peer.last_tw <= 7.0
        assert peer.next_deadline() == now + peer.last_tw
        draws.add(peer.last_tw)
    assert len(draws) == 300
    assert min(draws) < 5.1 and max(draws) > 6.9


def test_no_jitter() -> None:
    timers = PeerTimers(tw_s=6.0, tw_jitter_s=0.0)
    peer = DiameterPeer(ME, timers, rng=random.Random(1), first_hop_by_hop=1)
    peer.start(T0)
    peer.connection_made(T0)
    peer.receive_data(cea(), T0)
    assert peer.next_deadline() == T0 + 6.0


def test_duplicate_late_and_unknown_answers_are_dropped() -> None:
    peer = peer_in(PeerState.OPEN)
    second = peer.send_request(request(), T1)
    drain(peer)
    peer.receive_data(ANSWER, T1)
    peer.receive_data(ANSWER, T1)  # duplicate
    peer.receive_data(answer(4242), T1)  # unknown
    assert drain(peer) == [AnswerReceived(PENDING, 0xE2E, ANSWER)]
    peer.forget_request(second)
    peer.forget_request(second)  # twice is harmless
    assert peer.pending == 0
    peer.receive_data(answer(second), T1)  # late, after the caller gave up
    assert drain(peer) == []


def test_answers_from_an_earlier_connection_are_dropped() -> None:
    peer = peer_in(PeerState.OPEN)
    peer.connection_lost(T1, "reset")
    drain(peer)
    peer.timer(RECONNECT)
    peer.connection_made(RECONNECT)
    peer.receive_data(encode_cea(OCS, result_code=2001, hop_by_hop=1, end_to_end=1), RECONNECT)
    cer = encode_cer(ME, hop_by_hop=PENDING + 1, end_to_end=E2E0 + 1)
    assert drain(peer) == [Connect(), Send(cer), Opened("ocs.example.net", "ocs.net")]
    peer.receive_data(ANSWER, RECONNECT + 1)
    assert drain(peer) == []


def test_hop_by_hop_wraps() -> None:
    peer = new_peer(first_hop_by_hop=0xFFFFFFFE)
    peer.start(T0)
    peer.connection_made(T0)
    (_, sent) = drain(peer)
    assert isinstance(sent, Send)
    assert parse_header(sent.data).hop_by_hop == 0xFFFFFFFE
    peer.receive_data(cea(), T0)
    assert [peer.send_request(request(), T0) for _ in range(3)] == [0xFFFFFFFF, 0, 1]


def test_t_flag_and_everything_else_kept() -> None:
    peer = peer_in(PeerState.OPEN)
    retransmission = request(hop=0xDEADBEEF, e2e=0x12345678, flags=0xD0)
    hop = peer.send_request(retransmission, T1)
    (sent,) = drain(peer)
    assert isinstance(sent, Send)
    assert sent.data == retransmission[:12] + hop.to_bytes(4, "big") + retransmission[16:]
    header = parse_header(sent.data)
    assert header.is_retransmitted and header.is_request and header.is_proxiable
    assert header.end_to_end == 0x12345678


def test_random_first_hop_by_hop() -> None:
    first = random.Random(9).getrandbits(32)
    peer = DiameterPeer(ME, TIMERS, rng=random.Random(9))
    peer.start(T0)
    peer.connection_made(T0)
    (_, sent) = drain(peer)
    assert isinstance(sent, Send)
    assert parse_header(sent.data).hop_by_hop == first


@pytest.mark.parametrize(
    ("apps", "opened"),
    [((4,), True), ((0xFFFFFFFF,), True), ((1, 4), True), ((), False), ((16777238,), False)],
)
def test_cea_applications(apps: tuple[int, ...], opened: bool) -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(cea(apps=apps), T1)
    reason = "CEA result 2001 without application 4"
    expected = (
        [Opened("ocs.example.net", "ocs.net")]
        if opened
        else [Disconnect(reason), Down(reason, RECONNECT)]
    )
    assert drain(peer) == expected


def test_cea_with_vendor_specific_application_4() -> None:
    vsai = octet_string(260)(unsigned32(266)(10415) + unsigned32(258)(4))
    body = unsigned32(268)(2001) + octet_string(264)(b"ocs") + octet_string(296)(b"r") + vsai
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(encode_message(0, 257, 0, hop_by_hop=1, end_to_end=2, body=body), T1)
    assert drain(peer) == [Opened("ocs", "r")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (unsigned32(268)(2001) + unsigned32(258)(4), "CEA without Origin-Host or Origin-Realm"),
        (unsigned32(258)(4), "decode error: answer without Result-Code (RFC 6733 §7.1)"),
    ],
)
def test_malformed_cea(body: bytes, reason: str) -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(encode_message(0, 257, 0, hop_by_hop=1, end_to_end=2, body=body), T1)
    assert drain(peer) == [Disconnect(reason), Down(reason, RECONNECT)]


def test_cea_error_answer() -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(
        encode_cea(OCS, result_code=3010, hop_by_hop=1, end_to_end=2, error_message="who?"), T1
    )
    assert drain(peer) == [Disconnect("CEA result 3010"), Down("CEA result 3010", RECONNECT)]


def test_malformed_dwr_closes_the_connection() -> None:
    body = octet_string(264)(b"ocs") + octet_string(278)(b"\0\1")
    broken = encode_message(0x80, 280, 0, hop_by_hop=1, end_to_end=2, body=body)
    peer = peer_in(PeerState.OPEN)
    peer.receive_data(broken, T1)
    reason = "decode error: Origin-State-Id has 2 octets, expected 4 (Unsigned32)"
    assert drain(peer) == [Disconnect(reason), _failed(reason), Down(reason, RECONNECT)]


def test_dpr_without_cause_and_with_unknown_cause() -> None:
    for body, name in [(b"", "no Disconnect-Cause"), (unsigned32(273)(9), "Disconnect-Cause 9")]:
        peer = peer_in(PeerState.OPEN)
        dpr = encode_message(0x80, 282, 0, hop_by_hop=3, end_to_end=4, body=body)
        peer.receive_data(dpr, T1)
        events = drain(peer)
        assert events[0] == Send(encode_dpa(ME, hop_by_hop=3, end_to_end=4))
        assert events[-1] == Down(f"peer sent DPR ({name})", RECONNECT)


def test_several_messages_in_one_chunk() -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(cea() + DWR + RAR + GARBAGE, T1)
    assert drain(peer) == [
        Opened("ocs.example.net", "ocs.net"),
        Send(OUR_DWA),
        Send(OUR_3001),
        Disconnect(FRAMING),
        Down(FRAMING, RECONNECT),
    ]


def test_nothing_after_dpr_in_the_same_chunk() -> None:
    peer = peer_in(PeerState.OPEN)
    peer.receive_data(DPR + ANSWER, T1)
    events = drain(peer)
    assert events[0] == Send(OUR_DPA)
    assert not any(isinstance(e, AnswerReceived) for e in events)


def test_new_connection_starts_a_new_stream() -> None:
    peer = peer_in(PeerState.WAIT_I_CEA)
    peer.receive_data(cea()[:10], T1)  # half a CEA, then the connection is lost
    peer.connection_lost(T1, "reset")
    peer.timer(RECONNECT)
    peer.connection_made(RECONNECT)
    drain(peer)
    peer.receive_data(cea(), RECONNECT)
    assert drain(peer) == [Opened("ocs.example.net", "ocs.net")]


def test_connection_lost_after_disconnect_is_tolerated() -> None:
    peer = peer_in(PeerState.OPEN)
    peer.receive_data(GARBAGE, T1)
    drain(peer)
    peer.connection_lost(T1, "closed")
    assert drain(peer) == []
    assert peer.next_deadline() == RECONNECT


@pytest.mark.parametrize(
    "kwargs",
    [{"tw_s": 0.0}, {"tw_jitter_s": 30.0}, {"tw_jitter_s": -1.0}, {"tc_s": -1.0},
     {"cea_timeout_s": 0.0}, {"dpa_timeout_s": 0.0}],
)  # fmt: skip
def test_timer_checks(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PeerTimers(**kwargs)


def test_first_hop_by_hop_checked() -> None:
    with pytest.raises(ValueError):
        DiameterPeer(ME, first_hop_by_hop=1 << 32)


def test_default_timers() -> None:
    assert PeerTimers() == PeerTimers(30.0, 2.0, 30.0, 10.0, 2.0)
    peer = DiameterPeer(ME)
    assert peer.timers == PeerTimers()
    assert peer.state is PeerState.CLOSED and not peer.suspect and peer.peer_host is None
    assert peer.pending == 0 and peer.next_event() is None


STREAM = [DWR, DWA, ANSWER, answer(4242), RAR, cea(), DPA]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(STREAM), max_size=8), st.data())
def test_any_split_gives_the_same_events(messages: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(messages)
    whole = peer_in(PeerState.OPEN)
    whole.receive_data(stream, T1)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    split = peer_in(PeerState.OPEN)
    for lo, hi in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        split.receive_data(stream[lo:hi], T1)
    assert drain(split) == drain(whole)
    assert split.state is whole.state is PeerState.OPEN


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(CONNECTED)),
    st.lists(st.one_of(st.sampled_from(STREAM), st.binary(max_size=40)), max_size=6),
)
def test_random_bytes_give_only_events(state: PeerState, chunks: list[bytes]) -> None:
    peer = peer_in(state)
    for chunk in chunks:
        peer.receive_data(chunk, T1)
    events = drain(peer)
    if peer.state is PeerState.CLOSED:
        assert isinstance(events[-1], Down)
        assert sum(isinstance(e, Down) for e in events) == 1
