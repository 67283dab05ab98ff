"""RFC 3261 §17 non-INVITE transactions: every (state, event) pair, with a fake clock."""

from __future__ import annotations

import pytest

from smsc.sip.constants import Transport
from smsc.sip.errors import SipBuildError
from smsc.sip.headers import parse_cseq, parse_via
from smsc.sip.message import SipRequest
from smsc.sip.transaction import (
    ClientTransaction,
    ServerTransaction,
    TransactionState,
    client_key,
    server_key,
)

S = TransactionState
T1, T2, T4 = 0.5, 4.0, 5.0
PEER = ("10.0.0.9", 5060)


def _server(state: S, transport: Transport = Transport.UDP) -> ServerTransaction:
    txn = ServerTransaction(
        ("z9hG4bK1", "h", 5060, "MESSAGE"), transport=transport, destination=PEER
    )
    if state is S.PROCEEDING:
        txn.send_response(100, b"100", 0.0)
    elif state is S.COMPLETED:
        txn.send_response(202, b"202", 0.0)
    elif state is S.TERMINATED:
        txn.transport_error()
    assert txn.state is state
    return txn


def _client(state: S, transport: Transport = Transport.UDP) -> ClientTransaction:
    txn = ClientTransaction(
        ("z9hG4bK2", "MESSAGE"), b"REQ", transport=transport, destination=PEER, now=0.0
    )
    if state is S.PROCEEDING:
        assert txn.receive_response(180, 0.0)
    elif state is S.COMPLETED:
        assert txn.receive_response(200, 0.0)
    elif state is S.TERMINATED:
        txn.transport_error()
    assert txn.state is state
    return txn


# -- server (§17.2.2, Figure 8) ------------------------------------------------------------------

SERVER_RETRANSMISSION = [
    (S.TRYING, None),
    (S.PROCEEDING, b"100"),
    (S.COMPLETED, b"202"),
    (S.TERMINATED, None),
]


@pytest.mark.parametrize(("state", "resend"), SERVER_RETRANSMISSION)
def test_server_request_retransmission(state: S, resend: bytes | None) -> None:
    txn = _server(state)
    assert txn.receive_request() == resend
    assert txn.state is state


@pytest.mark.parametrize(
    ("state", "status", "after"),
    [
        (S.TRYING, 100, S.PROCEEDING),
        (S.TRYING, 202, S.COMPLETED),
        (S.TRYING, 404, S.COMPLETED),
        (S.PROCEEDING, 180, S.PROCEEDING),
        (S.PROCEEDING, 200, S.COMPLETED),
        (S.PROCEEDING, 503, S.COMPLETED),
    ],
)
def test_server_tu_response(state: S, status: int, after: S) -> None:
    txn = _server(state)
    txn.send_response(status, b"R", 1.0)
    assert txn.state is after
    assert txn.last_response == b"R"
    assert txn.deadline == (1.0 + 64 * T1 if after is S.COMPLETED else None)


@pytest.mark.parametrize("state", [S.COMPLETED, S.TERMINATED])
@pytest.mark.parametrize("status", [100, 200, 500])
def test_server_tu_response_after_final_is_refused(state: S, status: int) -> None:
    txn = _server(state)
    with pytest.raises(SipBuildError):
        txn.send_response(status, b"R", 1.0)
    assert txn.state is state


@pytest.mark.parametrize("status", [100, 200])
def test_server_over_tcp_terminates_at_once_on_final(status: int) -> None:
    txn = _server(S.TRYING, Transport.TCP)
    txn.send_response(status, b"R", 0.0)
    assert txn.state is (S.PROCEEDING if status == 100 else S.TERMINATED)
    assert txn.deadline is None


@pytest.mark.parametrize(
    ("state", "after"),
    [
        (S.TRYING, S.TRYING),
        (S.PROCEEDING, S.PROCEEDING),
        (S.COMPLETED, S.TERMINATED),
        (S.TERMINATED, S.TERMINATED),
    ],
)
def test_server_timer_j(state: S, after: S) -> None:
    txn = _server(state)
    txn.on_timer(64 * T1 - 0.001)
    assert txn.state is state
    txn.on_timer(64 * T1)
    assert txn.state is after


@pytest.mark.parametrize("state", list(S))
def test_server_transport_error(state: S) -> None:
    txn = _server(state)
    txn.transport_error()
    assert txn.state is S.TERMINATED
    assert txn.deadline is None


# -- client (§17.1.2, Figure 6) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "passed", "after"),
    [
        (S.TRYING, 100, True, S.PROCEEDING),
        (S.TRYING, 200, True, S.COMPLETED),
        (S.TRYING, 408, True, S.COMPLETED),
        (S.PROCEEDING, 180, True, S.PROCEEDING),
        (S.PROCEEDING, 202, True, S.COMPLETED),
        (S.PROCEEDING, 600, True, S.COMPLETED),
        (S.COMPLETED, 100, False, S.COMPLETED),
        (S.COMPLETED, 200, False, S.COMPLETED),
        (S.TERMINATED, 100, False, S.TERMINATED),
        (S.TERMINATED, 200, False, S.TERMINATED),
    ],
)
def test_client_response(state: S, status: int, passed: bool, after: S) -> None:
    txn = _client(state)
    assert txn.receive_response(status, 1.0) is passed
    assert txn.state is after


def test_client_final_starts_timer_k_udp_and_terminates_tcp() -> None:
    udp = _client(S.TRYING)
    udp.receive_response(200, 1.0)
    assert (udp.timer_e, udp.timer_f, udp.deadline) == (None, None, 1.0 + T4)
    tcp = _client(S.TRYING, Transport.TCP)
    tcp.receive_response(200, 1.0)
    assert tcp.state is S.TERMINATED
    assert tcp.deadline is None


def test_client_timer_e_doubles_to_t2_in_trying() -> None:
    txn = _client(S.TRYING)
    fired = []
    while txn.deadline is not None and txn.deadline < 64 * T1:
        now = txn.deadline
        assert txn.on_timer(now) == b"REQ"
        fired.append(now)
    assert fired[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert txn.state is S.TRYING


def test_client_timer_e_is_t2_in_proceeding() -> None:
    txn = _client(S.TRYING)
    assert txn.on_timer(0.5) == b"REQ"
    txn.receive_response(100, 0.7)
    assert txn.state is S.PROCEEDING
    assert txn.on_timer(1.5) == b"REQ"
    assert txn.timer_e == 1.5 + T2
    assert txn.on_timer(5.5) == b"REQ"
    assert txn.timer_e == 5.5 + T2


def test_client_early_poll_does_nothing() -> None:
    txn = _client(S.TRYING)
    assert txn.on_timer(0.49) is None
    assert txn.timer_e == 0.5


@pytest.mark.parametrize("state", [S.TRYING, S.PROCEEDING])
def test_client_timer_f_times_out(state: S) -> None:
    txn = _client(state)
    assert txn.on_timer(64 * T1) is None
    assert txn.state is S.TERMINATED
    assert txn.timed_out
    assert txn.deadline is None


def test_client_timer_f_over_tcp_without_timer_e() -> None:
    txn = _client(S.TRYING, Transport.TCP)
    assert txn.timer_e is None
    assert txn.deadline == 64 * T1
    txn.on_timer(64 * T1)
    assert txn.timed_out


@pytest.mark.parametrize(
    ("state", "after"),
    [(S.TRYING, S.TRYING), (S.PROCEEDING, S.PROCEEDING), (S.COMPLETED, S.TERMINATED)],
)
def test_client_timer_k(state: S, after: S) -> None:
    txn = _client(state)
    txn.timer_e = None
    txn.on_timer(T4)
    assert txn.state is after
    assert not txn.timed_out


@pytest.mark.parametrize("state", [S.COMPLETED, S.TERMINATED])
def test_client_timers_do_not_retransmit_after_final(state: S) -> None:
    txn = _client(state)
    assert txn.on_timer(100.0) is None
    assert txn.state is S.TERMINATED


@pytest.mark.parametrize(
    ("state", "inform"),
    [(S.TRYING, True), (S.PROCEEDING, True), (S.COMPLETED, False), (S.TERMINATED, False)],
)
def test_client_transport_error(state: S, inform: bool) -> None:
    txn = _client(state)
    assert txn.transport_error() is inform
    assert txn.state is S.TERMINATED


# -- matching (§17.1.3, §17.2.3) -----------------------------------------------------------------


def test_server_key_uses_branch_sent_by_and_method() -> None:
    request = SipRequest("MESSAGE", "sip:x@y")
    via = parse_via("SIP/2.0/UDP Host:5070;branch=z9hG4bKab")
    assert server_key(request, via, parse_cseq("1 MESSAGE")) == (
        "z9hG4bKab",
        "host",
        5070,
        "MESSAGE",
    )
    assert server_key(request, via, parse_cseq("1 ACK"))[3] == "INVITE"


def test_server_key_rfc2543_fallback() -> None:
    request = SipRequest("MESSAGE", "sip:x@y", (("From", "<sip:a@b>;tag=7"), ("Call-ID", "c1")))
    via = parse_via("SIP/2.0/UDP h;branch=old")
    key = server_key(request, via, parse_cseq("5 MESSAGE"))
    assert key == server_key(
        request, parse_via("SIP/2.0/UDP h;branch=old"), parse_cseq("5 MESSAGE")
    )
    assert key != server_key(request, via, parse_cseq("6 MESSAGE"))
    assert "c1" in key[0]
    assert "7" in key[0]


def test_client_key() -> None:
    assert client_key(parse_via("SIP/2.0/UDP h;branch=z9hG4bKq"), parse_cseq("1 MESSAGE")) == (
        "z9hG4bKq",
        "MESSAGE",
    )
    assert client_key(parse_via("SIP/2.0/UDP h"), parse_cseq("1 MESSAGE")) is None
