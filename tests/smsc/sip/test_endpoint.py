"""The sans-IO endpoint: dedup, error answers, response routing, timers, TCP, size rule."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.constants import Transport
from smsc.sip.endpoint import SipEndpoint
from smsc.sip.errors import SipBuildError
from smsc.sip.events import (
    Outgoing,
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
    TransportFailed,
)
from smsc.sip.message import SipRequest, SipResponse, parse_message
from tests.smsc.sip.samples import MO_MESSAGE, OK_200, RP_DATA_BODY

UDP, TCP = Transport.UDP, Transport.TCP
CSCF = ("10.10.1.5", 5060)
UE = ("10.99.0.7", 5060)


def _endpoint() -> SipEndpoint:
    """The general path (tests/smsc/sip/test_endpoint_udp.py covers the fast case)."""
    return SipEndpoint(local_via_host="10.0.0.1", local_port=5060, fast_case=False)


def _receive(ep: SipEndpoint, data: bytes = MO_MESSAGE, source=CSCF, now: float = 0.0):  # type: ignore[no-untyped-def]
    ep.receive_datagram(data, source, UDP, now)
    return ep.next_event()


def _response(outgoing: Outgoing) -> SipResponse:
    message = parse_message(outgoing.data)
    assert isinstance(message, SipResponse)
    return message


def _mt_request(body: bytes = RP_DATA_BODY) -> SipRequest:
    return SipRequest(
        "MESSAGE",
        "sip:+491711234567@ims.example.net",
        (
            ("From", "<sip:smsc@ims.example.net>;tag=s1"),
            ("To", "<sip:+491711234567@ims.example.net>"),
            ("Call-ID", "mt1@10.0.0.1"),
            ("CSeq", "1 MESSAGE"),
            ("Content-Type", "application/vnd.3gpp.sms"),
        ),
        body,
    )


def _answer(ep: SipEndpoint, request_data: bytes, status: int = 200) -> str:
    request = parse_message(request_data)
    via = request.header("Via")
    text = OK_200.format(via=via.split(" ", 1)[1] if via else "", call_id=request.call_id)
    return text.replace("200 OK", f"{status} X").replace("SIP/2.0/UDP SIP/2.0/", "SIP/2.0/")


# -- server side ----------------------------------------------------------------------------------


def test_mo_message_gets_one_event_and_retransmissions_the_same_202() -> None:
    ep = _endpoint()
    event = _receive(ep)
    assert isinstance(event, RequestReceived)
    assert event.request.body == RP_DATA_BODY
    assert event.source == CSCF
    assert _receive(ep, now=0.5) is None  # Trying: absorbed, nothing sent
    assert ep.data_to_send() == []
    ep.send_response(event, 202, now=1.0)
    (first,) = ep.data_to_send()
    for now in (1.5, 2.0, 20.0):
        assert _receive(ep, now=now) is None
        assert ep.data_to_send() == [first]
    response = _response(first)
    assert (response.status, response.reason) == (202, "Accepted")
    assert response.to.tag
    assert response.call_id == event.request.call_id
    assert [v.raw for v in response.vias] == [v.raw for v in event.request.vias]
    assert response.cseq == event.request.cseq
    assert response.header("Server") == "smsc"
    assert ep.counters.server_transactions_created == 1
    assert ep.counters.retransmissions_absorbed == 4


def test_provisional_then_final_keep_one_to_tag() -> None:
    ep = _endpoint()
    event = _receive(ep)
    assert isinstance(event, RequestReceived)
    ep.send_response(event, 100, now=0.0)
    ep.send_response(event, 180, now=0.0)
    assert _receive(ep) is None
    ep.send_response(event, 202, headers=[("X-Id", "7")], body=b"ok", now=0.0)
    trying, ringing, resent, accepted = (_response(o) for o in ep.data_to_send())
    assert trying.to.tag is None
    assert ringing.to.tag == accepted.to.tag
    assert resent.status == 180
    assert accepted.header("X-Id") == "7"
    assert accepted.body == b"ok"
    with pytest.raises(SipBuildError):
        ep.send_response(event, 200, now=0.0)


def test_timer_j_ends_the_dedup_window() -> None:
    ep = _endpoint()
    event = _receive(ep)
    assert isinstance(event, RequestReceived)
    ep.send_response(event, 202, now=1.0)
    assert ep.next_timer() == 1.0 + 32.0
    ep.poll(32.9)
    assert _receive(ep, now=32.9) is None
    ep.poll(33.0)
    assert ep.next_timer() is None
    assert ep.counters.server_transactions_terminated == 1
    with pytest.raises(SipBuildError):
        ep.send_response(event, 202, now=33.0)
    assert isinstance(_receive(ep, now=33.1), RequestReceived)  # RFC 3261: a new transaction


def test_existing_to_tag_is_kept() -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(b"3gppnetwork.org>\r\nCall-ID", b"3gppnetwork.org>;tag=ue\r\nCall-ID")
    event = _receive(ep, data)
    assert isinstance(event, RequestReceived)
    ep.send_response(event, 202, now=0.0)
    assert _response(ep.data_to_send()[0]).to.tag == "ue"


@pytest.mark.parametrize(
    ("via", "source", "destination", "top_via"),
    [
        (
            "SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bKa",
            CSCF,
            CSCF,
            "SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bKa",
        ),
        (
            "SIP/2.0/UDP cscf.example:5070;branch=z9hG4bKa",
            ("10.1.1.1", 40000),
            ("10.1.1.1", 5070),
            "SIP/2.0/UDP cscf.example:5070;branch=z9hG4bKa;received=10.1.1.1",
        ),
        (
            "SIP/2.0/UDP 192.168.0.2;rport;branch=z9hG4bKa",
            ("10.1.1.1", 40000),
            ("10.1.1.1", 40000),
            "SIP/2.0/UDP 192.168.0.2;branch=z9hG4bKa;received=10.1.1.1;rport=40000",
        ),
        (
            "SIP/2.0/UDP h;branch=z9hG4bKa;maddr=10.2.2.2",
            ("10.1.1.1", 40000),
            ("10.2.2.2", 5060),
            "SIP/2.0/UDP h;branch=z9hG4bKa;maddr=10.2.2.2;received=10.1.1.1",
        ),
    ],
)
def test_response_routing_rfc3261_18_2_2_and_rfc3581(
    via: str, source: tuple[str, int], destination: tuple[str, int], top_via: str
) -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(
        b"SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bK-524287-1-0ab3f7", via.encode()
    )
    event = _receive(ep, data, source)
    assert isinstance(event, RequestReceived)
    ep.send_response(event, 202, now=0.0)
    (out,) = ep.data_to_send()
    assert (out.destination, out.transport, out.connection_id) == (destination, UDP, None)
    assert _response(out).header_values("Via")[0] == top_via


@pytest.mark.parametrize(
    ("replace", "reason"),
    [
        ((b"CSeq: 4711 MESSAGE", b"CSeq: 4711 OPTIONS"), "CSeq Method Mismatch"),
        ((b"CSeq: 4711 MESSAGE", b"CSeq: x MESSAGE"), "Bad CSeq"),
        ((b"To: <sip:smsc", b"X-To: <sip:smsc"), "Missing To"),
        ((b"Max-Forwards: 68", b"Max Forwards: 68"), "Bad Header Line"),
        ((b"Content-Length: 30", b"Content-Length: 99"), "Truncated Body"),
        ((b"SIP/2.0\r\nVia", b"SIP/2.1\r\nVia"), "Version Not Supported"),
    ],
)
def test_malformed_request_gets_400_with_reason(replace: tuple[bytes, bytes], reason: str) -> None:
    ep = _endpoint()
    assert _receive(ep, MO_MESSAGE.replace(*replace)) is None
    (out,) = ep.data_to_send()
    response = _response(out)
    status = 505 if "Version" in reason else 400
    assert (response.status, response.reason) == (status, reason)
    assert response.header("To") == "" or response.to.tag
    assert out.destination == CSCF
    assert ep.counters.parse_errors == 1


def test_unanswerable_input_is_dropped() -> None:
    ep = _endpoint()
    for data in (b"garbage\r\n\r\n", MO_MESSAGE.replace(b"Call-ID:", b"X:")):
        ep.receive_datagram(data, CSCF, UDP, 0.0)
    ep.receive_datagram(b"SIP/2.0 200 OK\r\nbad\r\n\r\n", CSCF, UDP, 0.0)
    ep.receive_datagram(b"\r\n\r\n", CSCF, UDP, 0.0)
    assert ep.data_to_send() == []
    assert ep.next_event() is None
    assert ep.counters.parse_errors == 3
    assert ep.counters.keepalives == 1


def test_oversized_datagram_gets_513() -> None:
    ep = SipEndpoint(local_via_host="10.0.0.1", local_port=5060, max_message_size=500)
    ep.receive_datagram(MO_MESSAGE, CSCF, UDP, 0.0)
    assert _response(ep.data_to_send()[0]).status == 513


def test_stray_ack_is_dropped() -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(b"MESSAGE sip:", b"ACK sip:").replace(b"4711 MESSAGE", b"4711 ACK")
    assert _receive(ep, data) is None
    assert ep.counters.stray_acks == 1


# -- TCP ------------------------------------------------------------------------------------------


def test_tcp_stream_split_keepalive_and_response_on_the_connection() -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(b"SIP/2.0/UDP 10.10.1.5", b"SIP/2.0/TCP 10.10.1.5")
    stream = b"\r\n\r\n" + data + data.replace(b"0ab3f7", b"0ab3f8")
    for i in range(0, len(stream), 100):
        ep.receive_stream(7, stream[i : i + 100], CSCF, 0.0)
    events = [ep.next_event(), ep.next_event(), ep.next_event()]
    assert [type(e) for e in events] == [RequestReceived, RequestReceived, type(None)]
    (pong,) = ep.data_to_send()
    assert (pong.data, pong.connection_id) == (b"\r\n", 7)
    first = events[0]
    assert isinstance(first, RequestReceived)
    assert (first.transport, first.connection_id) == (TCP, 7)
    ep.send_response(first, 202, now=0.0)
    (out,) = ep.data_to_send()
    assert (out.transport, out.connection_id) == (TCP, 7)
    assert ep.next_timer() is None  # Timer J = 0 over TCP
    second = events[1]
    assert isinstance(second, RequestReceived)
    ep.connection_closed(7)
    ep.send_response(second, 202, now=0.0)
    (rerouted,) = ep.data_to_send()
    assert (rerouted.connection_id, rerouted.destination, rerouted.transport) == (None, CSCF, TCP)


def test_tcp_missing_content_length_gets_400_and_close() -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(b"Content-Length: 30\r\n", b"")
    ep.receive_stream(3, data, CSCF, 0.0)
    (out,) = ep.data_to_send()
    assert out.close
    assert out.connection_id == 3
    assert _response(out).reason == "Missing Content-Length"
    ep.receive_stream(3, MO_MESSAGE, CSCF, 0.0)
    assert ep.next_event() is None


def test_tcp_garbage_closes_without_answer() -> None:
    ep = _endpoint()
    ep.receive_stream(4, b"\x16\x03\x01 TLS hello\r\n\r\n", CSCF, 0.0)
    (out,) = ep.data_to_send()
    assert (out.data, out.close, out.connection_id) == (b"", True, 4)


# -- client side ----------------------------------------------------------------------------------


def test_send_request_adds_via_max_forwards_content_length() -> None:
    ep = _endpoint()
    key = ep.send_request(_mt_request(), UE, UDP, now=0.0, context="mt1")
    (out,) = ep.data_to_send()
    assert (out.destination, out.transport, out.key) == (UE, UDP, key)
    sent = parse_message(out.data)
    assert isinstance(sent, SipRequest)
    via = sent.via
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "10.0.0.1", 5060, key[0])
    assert via.has_rport
    assert key[0].startswith("z9hG4bK")
    assert key[1] == "MESSAGE"
    assert sent.max_forwards == 70
    assert sent.content_length == len(RP_DATA_BODY)
    assert sent.body == RP_DATA_BODY
    assert sent.header("User-Agent") == "smsc"
    assert ep.send_request(_mt_request(), UE, UDP, now=0.0)[0] != key[0]


def test_response_reaches_the_tu_once() -> None:
    ep = _endpoint()
    key = ep.send_request(_mt_request(), UE, UDP, now=0.0, context="mt1")
    (out,) = ep.data_to_send()
    answer = _answer(ep, out.data).encode()
    ep.receive_datagram(answer, UE, UDP, 0.1)
    event = ep.next_event()
    assert isinstance(event, ResponseReceived)
    assert (event.key, event.context, event.status) == (key, "mt1", 200)
    ep.receive_datagram(answer, UE, UDP, 0.2)
    assert ep.next_event() is None
    assert ep.counters.retransmissions_absorbed == 1
    assert ep.next_timer() == pytest.approx(0.1 + 5.0)
    ep.poll(5.1)
    assert ep.counters.client_transactions_terminated == 1
    ep.receive_datagram(answer, UE, UDP, 6.0)
    assert ep.counters.stray_responses == 1
    assert ep.data_to_send() == []


def test_timer_e_retransmits_and_timer_f_times_out() -> None:
    ep = _endpoint()
    key = ep.send_request(_mt_request(), UE, UDP, now=0.0, context=42)
    (original,) = ep.data_to_send()
    times = []
    while (deadline := ep.next_timer()) is not None:
        ep.poll(deadline)
        times += [deadline] * len(ep.data_to_send())
    assert times[:4] == [0.5, 1.5, 3.5, 7.5]
    assert all(b - a == 4.0 for a, b in pairwise(times[4:]))
    event = ep.next_event()
    assert event == TransactionTimedOut(key, 42)
    assert ep.counters.timeouts == 1
    assert ep.counters.retransmissions_sent == len(times)
    assert original.data


def test_provisional_then_final_over_udp() -> None:
    ep = _endpoint()
    ep.send_request(_mt_request(), UE, UDP, now=0.0)
    (out,) = ep.data_to_send()
    ep.receive_datagram(_answer(ep, out.data, 100).encode(), UE, UDP, 0.1)
    ep.poll(0.5)
    assert len(ep.data_to_send()) == 1
    ep.receive_datagram(_answer(ep, out.data, 202).encode(), UE, UDP, 0.6)
    statuses = []
    while (event := ep.next_event()) is not None:
        assert isinstance(event, ResponseReceived)
        statuses.append(event.status)
    assert statuses == [100, 202]


def test_response_with_two_vias_or_no_match_is_dropped() -> None:
    ep = _endpoint()
    ep.send_request(_mt_request(), UE, UDP, now=0.0)
    (out,) = ep.data_to_send()
    answer = _answer(ep, out.data)
    ep.receive_datagram(
        answer.replace("Via:", "Via: SIP/2.0/UDP x;branch=z9hG4bKq\r\nVia:").encode(), UE, UDP, 0.1
    )
    ep.receive_datagram(answer.replace("MESSAGE", "OPTIONS").encode(), UE, UDP, 0.1)
    assert ep.next_event() is None
    assert ep.counters.parse_errors == 1
    assert ep.counters.stray_responses == 1


def test_request_over_1300_bytes_to_udp_goes_tcp() -> None:
    ep = _endpoint()
    key = ep.send_request(_mt_request(b"\x00" * 1200), UE, UDP, now=0.0)
    (out,) = ep.data_to_send()
    assert out.transport is TCP
    assert len(out.data) > 1300
    sent = parse_message(out.data)
    assert sent.via.transport == "TCP"
    assert not sent.via.has_rport
    assert ep.next_timer() == 32.0  # no Timer E on a reliable transport
    ep.receive_stream(9, _answer(ep, out.data).encode(), UE, 0.2)
    event = ep.next_event()
    assert isinstance(event, ResponseReceived)
    assert event.key == key
    assert ep.next_timer() is None  # Timer K = 0 over TCP


def test_transport_error_tells_the_tu() -> None:
    ep = _endpoint()
    key = ep.send_request(_mt_request(), UE, TCP, now=0.0, context="c")
    ep.transport_error(key, "connection refused")
    assert ep.next_event() == TransportFailed(key, "c", "connection refused")
    ep.transport_error(key)
    assert ep.next_event() is None
    assert ep.next_timer() is None


@pytest.mark.parametrize(
    "request_",
    [
        SipRequest("MESSAGE", "sip:x@y", (("From", "<sip:a@b>;tag=1"), ("To", "<sip:x@y>"))),
        SipRequest(
            "MESSAGE",
            "sip:x@y",
            (("From", "<sip:a@b>"), ("To", "<sip:x@y>"), ("i", "c"), ("CSeq", "1 OPTIONS")),
        ),
        SipRequest(
            "MESSAGE",
            "sip:x@y",
            (("From", "<sip:a@b>"), ("To", "<sip:x@y>\r\nX: y"), ("i", "c"), ("CSeq", "1 MESSAGE")),
        ),
    ],
)
def test_send_request_refuses_bad_requests(request_: SipRequest) -> None:
    with pytest.raises(SipBuildError):
        _endpoint().send_request(request_, UE, UDP, now=0.0)


def test_ids_are_unique() -> None:
    ep = _endpoint()
    ids = {ep.new_branch() for _ in range(100)} | {ep.new_tag() for _ in range(100)}
    assert len(ids) == 200
    assert ep.new_call_id().endswith("@10.0.0.1:5060")


# -- robustness -----------------------------------------------------------------------------------


@given(st.binary(max_size=500), st.booleans())
def test_arbitrary_input_never_raises(data: bytes, stream: bool) -> None:
    ep = _endpoint()
    if stream:
        ep.receive_stream(1, data, CSCF, 0.0)
    else:
        ep.receive_datagram(data, CSCF, UDP, 0.0)
    ep.data_to_send()


@given(st.data())
def test_mutated_mo_never_raises(data: st.DataObject) -> None:
    sample = bytearray(MO_MESSAGE)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(sample) - 1))
        sample[position] = data.draw(st.sampled_from(b'\r\n :;,<>"=\t\x00\xffz'))
    ep = _endpoint()
    ep.receive_datagram(bytes(sample), CSCF, UDP, 0.0)
    event = ep.next_event()
    if isinstance(event, RequestReceived):
        ep.send_response(event, 202, now=0.0)
    for out in ep.data_to_send():
        assert isinstance(parse_message(out.data), SipResponse)


def test_rfc2543_request_without_magic_cookie_is_deduplicated() -> None:
    ep = _endpoint()
    data = MO_MESSAGE.replace(b"branch=z9hG4bK-524287-1-0ab3f7", b"branch=old1")
    assert isinstance(_receive(ep, data), RequestReceived)
    assert _receive(ep, data) is None
    assert isinstance(_receive(ep, data.replace(b"4711 MESSAGE", b"4712 MESSAGE")), RequestReceived)
