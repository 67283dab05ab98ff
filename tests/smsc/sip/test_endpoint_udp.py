"""The common UDP MESSAGE through the endpoint: the same answers as the general path, its timers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsc.service.sip_requests import answer_to_mo, answer_to_mo_headers
from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.errors import SipBuildError
from smsc.sip.events import (
    MessageReceived,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from smsc.sip.scan import scan_message
from tests.fuzz_sip_lanes import endpoint_pair
from tests.smsc.sip.samples import MO_MESSAGE, RP_DATA_BODY
from tests.smsc.sip.test_scan import _head, _lines

UDP, TCP = Transport.UDP, Transport.TCP
CSCF = ("10.10.1.5", 5060)
UE = ("10.99.0.7", 5060)

# -- the same answers as the general path ---------------------------------------------------

_NAME_SPELLINGS = {
    "Via": ["Via", "via", "v", "VIA"],
    "From": ["From", "from", "f"],
    "To": ["To", "to", "t"],
    "Call-ID": ["Call-ID", "call-id", "i", "Call-Id"],
    "CSeq": ["CSeq", "cseq", "CSEQ"],
    "Content-Type": ["Content-Type", "c", "content-type"],
    "Content-Length": ["Content-Length", "l", "content-length"],
    "P-Asserted-Identity": ["P-Asserted-Identity", "p-asserted-identity"],
    "P-Access-Network-Info": ["P-Access-Network-Info", "p-access-network-info"],
}


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    """MESSAGE requests around the common shape: other spellings, Via variants, extras."""
    host = draw(st.sampled_from(["10.10.1.5", "scscf.ims.example.net", "10.10.1.6"]))
    port = draw(st.sampled_from(["", ":5060", ":5070"]))
    params = draw(
        st.lists(
            st.sampled_from(
                ["rport", "rport=5070", "received=10.10.1.5", "lr", "x=1", "Rport", "maddr=1.2.3.4"]
            ),
            unique=True,
            max_size=3,
        )
    )
    branch = draw(st.sampled_from(["z9hG4bK-1a", "z9hG4bKx.2.3", "abc"]))
    params.insert(draw(st.integers(0, len(params))), f"branch={branch}")
    vias = [f"SIP/2.0/UDP {host}{port};" + ";".join(params)]
    if draw(st.booleans()):
        vias.append("SIP/2.0/UDP 10.20.30.40:5070;rport=5070;branch=z9hG4bKue")
    asserted = draw(
        st.sampled_from(
            [
                "<tel:+491711234567>",
                "<sip:+491711234567@ims.example.net;user=phone>, <tel:+491711234567>",
                "<sip:alice@ims.example.net>",
                '"A" <tel:+491711234567>',
                None,
            ]
        )
    )
    to_value = draw(st.sampled_from(["<sip:smsc@ims.example.net>", "<sip:smsc@x>;tag=1"]))
    body = RP_DATA_BODY
    fields: list[tuple[str, str]] = [("Via", via) for via in vias]
    fields += [
        ("From", "<sip:+491711234567@ims.example.net>;tag=f1"),
        ("To", to_value),
        ("Call-ID", draw(st.sampled_from(["c1@10.10.1.5", "c2"]))),
        ("CSeq", draw(st.sampled_from(["7 MESSAGE", "8 MESSAGE", "7 OPTIONS"]))),
        ("Content-Type", draw(st.sampled_from(["application/vnd.3gpp.sms", "text/plain"]))),
        ("Content-Length", str(len(body))),
    ]
    if asserted is not None:
        fields.append(("P-Asserted-Identity", asserted))
    if draw(st.booleans()):
        fields.append(("P-Access-Network-Info", "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=2620112"))
    fields.append(("Route", "<sip:10.10.1.9;lr>"))
    fields = draw(st.permutations(fields))
    lines = ["MESSAGE sip:smsc@ims.example.net SIP/2.0"]
    for name, value in fields:
        spelling = draw(st.sampled_from(_NAME_SPELLINGS.get(name, [name])))
        space = draw(st.sampled_from([" ", "", "  "]))
        lines.append(f"{spelling}:{space}{value}")
    return _head(lines, body)


@settings(max_examples=400)
@given(data=_requests(), source=st.sampled_from([CSCF, ("10.10.1.99", 41000)]))
def test_both_lanes_answer_with_the_same_octets(data: bytes, source: tuple[str, int]) -> None:
    fast, general = endpoint_pair()
    fast.receive_datagram(data, source, UDP, 0.0)
    general.receive_datagram(data, source, UDP, 0.0)
    one, other = fast.next_event(), general.next_event()
    assert fast.data_to_send() == general.data_to_send()  # error answers of the general path
    if other is None:
        assert one is None
        return
    assert isinstance(other, RequestReceived)
    assert isinstance(one, MessageReceived | RequestReceived)
    assert one.key == other.key and one.source == other.source
    if isinstance(one, MessageReceived):  # the fast case took it: what it read is the same
        request = other.request
        assert one.call_id == request.call_id
        assert one.message.body == request.body
        assert list(one.message.asserted) == [n.uri.raw for n in request.p_asserted_identity]
        assert one.message.access_network_info == request.header("P-Access-Network-Info")
        assert request.content_type is not None
    for status, headers in ((100, ()), (202, ()), (403, (("Warning", "399 smsc x"),))):
        try:
            fast.send_response(one, status, headers=headers, now=0.0)
        except SipBuildError:
            with pytest.raises(SipBuildError):
                general.send_response(other, status, headers=headers, now=0.0)
            break
        general.send_response(other, status, headers=headers, now=0.0)
        assert fast.data_to_send() == general.data_to_send()


def test_the_mo_answer_has_the_octets_of_the_general_request() -> None:
    fast, general = endpoint_pair()
    headers = answer_to_mo_headers(
        "sip:smsc@ims.example.net", "tel:+491711234567", "c1@x", call_id="a1@10.0.0.1", tag="t"
    )
    fast.send_message("tel:+491711234567", headers, RP_DATA_BODY, CSCF, UDP, now=0.0)
    request = answer_to_mo(
        "sip:smsc@ims.example.net",
        "tel:+491711234567",
        "c1@x",
        call_id="a1@10.0.0.1",
        tag="t",
        body=RP_DATA_BODY,
    )
    general.send_request(request, CSCF, UDP, 0.0)
    assert fast.data_to_send() == general.data_to_send()
    big = RP_DATA_BODY * 60  # over 1300 octets: TCP (RFC 3261 §18.1.1), as the general path
    fast, general = endpoint_pair()
    fast.send_message("tel:+491711234567", headers, big, CSCF, UDP, now=0.0)
    general.send_request(
        answer_to_mo(
            "sip:smsc@ims.example.net",
            "tel:+491711234567",
            "c1@x",
            call_id="a1@10.0.0.1",
            tag="t",
            body=big,
        ),
        CSCF,
        UDP,
        0.0,
    )
    sent, expected = fast.data_to_send(), general.data_to_send()
    assert sent == expected and sent[0].transport is TCP


def test_without_the_fast_case_a_message_is_a_full_udp_transaction() -> None:
    _, general = endpoint_pair()
    key = general.send_message("tel:+49", (("To", "<tel:+49>"),), b"x", UE, UDP, now=0.0)
    (sent,) = general.data_to_send()
    assert sent.transport is UDP and b"SIP/2.0/UDP" in sent.data
    general.poll(0.5)  # Timer E of the full state machine
    assert [o.data for o in general.data_to_send()] == [sent.data]
    assert general.counters.client_transactions_created == 1 and key[1] == "MESSAGE"


def test_a_header_with_a_line_break_is_refused() -> None:
    fast, _ = endpoint_pair()
    with pytest.raises(SipBuildError):
        fast.send_message("tel:+49", (("To", "<tel:+49>\r\nX: y"),), b"", CSCF, UDP, now=0.0)


# -- server transactions ----------------------------------------------------------------------


def test_retransmissions_get_the_last_response_until_timer_j() -> None:
    fast, _ = endpoint_pair()
    fast.receive_datagram(MO_MESSAGE, CSCF, UDP, 0.0)
    event = fast.next_event()
    assert isinstance(event, MessageReceived)
    fast.receive_datagram(MO_MESSAGE, CSCF, UDP, 0.1)  # Trying: absorbed, nothing to resend
    assert fast.next_event() is None and fast.data_to_send() == []
    fast.send_response(event, 202, now=0.2)
    (answer,) = fast.data_to_send()
    assert answer.destination == CSCF and answer.data.startswith(b"SIP/2.0 202 Accepted")
    fast.receive_datagram(MO_MESSAGE, CSCF, UDP, 1.0)
    assert fast.next_event() is None
    assert fast.data_to_send() == [answer]
    assert fast.counters.retransmissions_absorbed == 2
    with pytest.raises(SipBuildError):
        fast.send_response(event, 200, now=1.0)
    assert fast.next_timer() == pytest.approx(0.2 + 64 * 0.5)
    fast.poll(0.2 + 64 * 0.5)
    assert fast.counters.server_transactions_terminated == 1
    fast.receive_datagram(MO_MESSAGE, CSCF, UDP, 40.0)  # after Timer J: a new request
    assert isinstance(fast.next_event(), MessageReceived)


def test_a_retransmission_read_by_the_general_parser_meets_the_fast_transaction() -> None:
    fast, _ = endpoint_pair()
    fast.receive_datagram(MO_MESSAGE, CSCF, UDP, 0.0)
    event = fast.next_event()
    assert isinstance(event, MessageReceived)
    fast.send_response(event, 202, now=0.0)
    (answer,) = fast.data_to_send()
    same = MO_MESSAGE.replace(b"\r\nCall-ID:", b"\r\ni:")  # compact: the general path
    assert scan_message(same, 70) is None
    fast.receive_datagram(same, CSCF, UDP, 0.5)
    assert fast.next_event() is None and fast.data_to_send() == [answer]


@pytest.mark.parametrize("fast_case", [True, False])
@pytest.mark.parametrize(
    ("status", "reason", "headers"),
    [(202, None, ()), (503, "Service Unavailable: overloaded", (("Retry-After", "5"),))],
)
def test_a_completed_transaction_keeps_the_answer_not_its_octets(
    fast_case: bool, status: int, reason: str | None, headers: tuple[tuple[str, str], ...]
) -> None:
    """Held for Timer J, a Completed transaction keeps what its final response was built from;
    a retransmission gets the same octets built again (same To tag, same headers)."""
    ep = SipEndpoint(local_via_host="10.0.0.1", local_port=5060, fast_case=fast_case)
    ep.receive_datagram(MO_MESSAGE, CSCF, UDP, 0.0)
    event = ep.next_event()
    assert isinstance(event, MessageReceived if fast_case else RequestReceived)
    ep.send_response(event, status, reason, headers=headers, now=0.0)
    (answer,) = ep.data_to_send()
    txn = ep._server[event.key]
    assert txn.last_response is None and txn.answer is not None
    for copy in (MO_MESSAGE, MO_MESSAGE.replace(b"\r\nCall-ID:", b"\r\ni:")):
        ep.receive_datagram(copy, CSCF, UDP, 1.0)
        assert ep.next_event() is None
        assert ep.data_to_send() == [answer]
    assert ep.counters.retransmissions_sent == 2


def test_to_tags_differ_between_transactions_and_processes() -> None:
    tags = set()
    for _ in range(2):  # two endpoints: two random prefixes
        ep = SipEndpoint(local_via_host="10.0.0.1", local_port=5060)
        for branch in (b"z9hG4bK-1", b"z9hG4bK-2"):
            ep.receive_datagram(MO_MESSAGE.replace(b"z9hG4bK", branch + b"x", 1), CSCF, UDP, 0.0)
            event = ep.next_event()
            assert event is not None
            ep.send_response(event, 202, now=0.0)
            (answer,) = ep.data_to_send()
            to = next(line for line in answer.data.split(b"\r\n") if line.startswith(b"To:"))
            tags.add(to.rpartition(b";tag=")[2])
    assert len(tags) == 4


def test_responses_go_to_the_source_port_with_rport() -> None:
    fast, _ = endpoint_pair()
    data = _head(_lines())
    fast.receive_datagram(data, ("10.10.1.5", 41000), UDP, 0.0)
    event = fast.next_event()
    assert isinstance(event, MessageReceived)
    fast.send_response(event, 202, now=0.0)
    (answer,) = fast.data_to_send()
    assert answer.destination == ("10.10.1.5", 41000)
    assert b";rport=41000" in answer.data and b";received=10.10.1.5" in answer.data


# -- client transactions ----------------------------------------------------------------------


def _ok(branch: str, status: int = 200) -> bytes:
    return (
        f"SIP/2.0 {status} OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch};rport=5060\r\n"
        "From: <sip:smsc@x>;tag=1\r\nTo: <tel:+49>;tag=2\r\nCall-ID: a\r\nCSeq: 1 MESSAGE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _send(fast: SipEndpoint, now: float = 0.0) -> str:
    key = fast.send_message(
        "tel:+49", (("To", "<tel:+49>"),), b"x", UE, UDP, now=now, context="ctx"
    )
    fast.data_to_send()
    return key[0]


def test_a_final_response_within_t1_completes_it_until_timer_k() -> None:
    fast, _ = endpoint_pair()
    branch = _send(fast)
    fast.receive_datagram(_ok(branch), UE, UDP, 0.1)
    assert fast.next_event() == ResponseReceived(200, (branch, "MESSAGE"), "ctx")
    fast.poll(0.5)
    assert fast.data_to_send() == []  # answered: Timer E no longer retransmits
    fast.receive_datagram(_ok(branch), UE, UDP, 0.6)  # RFC 3261 §17.1.2.2: absorbed
    assert fast.next_event() is None and fast.counters.retransmissions_absorbed == 1
    assert fast.counters.client_transactions_terminated == 0
    assert fast.next_timer() == pytest.approx(5.1)  # Timer K = T4
    fast.poll(5.1)
    assert fast.counters.client_transactions_terminated == 1 and fast.next_timer() is None
    fast.receive_datagram(_ok(branch), UE, UDP, 6.0)  # after Timer K: stray
    assert fast.next_event() is None and fast.counters.stray_responses == 1


def test_no_answer_within_t1_retransmits_then_times_out() -> None:
    fast, _ = endpoint_pair()
    key = fast.send_message(
        "tel:+49", (("To", "<tel:+49>"),), b"x", UE, UDP, now=0.0, context="ctx"
    )
    (first,) = fast.data_to_send()
    assert fast.next_timer() == pytest.approx(0.5)
    fast.poll(0.5)
    assert fast.data_to_send() == [first]  # Timer E: the same octets again
    fast.poll(1.5)
    assert [o.data for o in fast.data_to_send()] == [first.data]  # 2*T1 later
    now = 1.5
    while now < 32.0:
        now = fast.next_timer() or 33.0
        fast.poll(now)
    assert fast.next_event() == TransactionTimedOut(key, "ctx")


def test_a_final_response_after_a_retransmission_reaches_the_transaction() -> None:
    fast, _ = endpoint_pair()
    branch = _send(fast)
    fast.poll(0.5)
    fast.data_to_send()
    fast.receive_datagram(_ok(branch), UE, UDP, 0.7)
    event = fast.next_event()
    assert isinstance(event, ResponseReceived) and event.status == 200
    assert event.context == "ctx"


def test_a_provisional_response_moves_it_to_proceeding() -> None:
    fast, _ = endpoint_pair()
    branch = _send(fast)
    fast.receive_datagram(_ok(branch, 100), UE, UDP, 0.1)
    event = fast.next_event()
    assert isinstance(event, ResponseReceived) and event.status == 100
    fast.poll(0.5)  # Proceeding: retransmits at T2 (RFC 3261 §17.1.2.2)
    assert len(fast.data_to_send()) == 1
    assert fast.next_timer() == pytest.approx(4.5)
    fast.receive_datagram(_ok(branch), UE, UDP, 1.0)
    final = fast.next_event()
    assert isinstance(final, ResponseReceived) and final.status == 200


def test_a_response_the_scanner_refuses_still_finds_its_transaction() -> None:
    fast, _ = endpoint_pair()
    branch = _send(fast)
    fast.receive_datagram(_ok(branch).replace(b"CSeq", b"Cseq"), UE, UDP, 0.1)
    event = fast.next_event()
    assert isinstance(event, ResponseReceived) and event.context == "ctx"
    fast.poll(0.5)
    assert fast.data_to_send() == []


def test_a_send_failure_is_reported_once() -> None:
    fast, _ = endpoint_pair()
    key = fast.send_message(
        "tel:+49", (("To", "<tel:+49>"),), b"x", UE, UDP, now=0.0, context="ctx"
    )
    fast.transport_error(key, "unreachable")
    assert fast.next_event() == TransportFailed(key, "ctx", "unreachable")
    fast.transport_error(key, "unreachable")
    assert fast.next_event() is None
