"""RFC 3261 §7 parser and serializer: structure, header forms, bodies, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.errors import SipBuildError, SipParseError
from smsc.sip.message import SipMessage, SipRequest, SipResponse, encode_message, parse_message
from tests.smsc.sip.samples import MO_MESSAGE, MO_MESSAGE_COMPACT, RP_DATA_BODY
from tests.smsc.sip.strategies import messages

BASE = (
    "MESSAGE sip:smsc@ims.example.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    "From: <sip:a@ims.example.net>;tag=1\r\n"
    "To: <sip:smsc@ims.example.net>\r\n"
    "Call-ID: c1@10.0.0.1\r\n"
    "CSeq: 1 MESSAGE\r\n"
)


def _request(text: str | bytes) -> SipRequest:
    message = parse_message(text.encode() if isinstance(text, str) else text)
    assert isinstance(message, SipRequest)
    return message


def _rejects(data: bytes, status: int = 400) -> SipParseError:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.sip_status == status
    return info.value


def test_ims_mo_message_parses_with_typed_access() -> None:
    request = _request(MO_MESSAGE)
    assert (request.method, request.uri) == (
        "MESSAGE",
        "sip:smsc@ims.mnc001.mcc262.3gppnetwork.org",
    )
    assert request.body == RP_DATA_BODY
    assert b"\r\n" in request.body
    via = request.via
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "10.10.1.5",
        5060,
        "z9hG4bK-524287-1-0ab3f7",
    )
    assert [v.rport for v in request.vias] == [None, 5070]
    assert request.cseq.number == 4711
    assert request.cseq.method == "MESSAGE"
    assert request.call_id == "a84b4c76e66710@10.20.30.40"
    assert request.from_.tag == "8c1d2e3f"
    assert request.from_.uri.user == "+491711234567"
    assert request.to.tag is None
    assert request.max_forwards == 68
    assert request.content_length == len(RP_DATA_BODY)
    content_type = request.content_type
    assert content_type is not None
    assert content_type.matches("Application/VND.3GPP.SMS")
    pai = request.p_asserted_identity
    assert [p.uri.scheme for p in pai] == ["sip", "tel"]
    assert pai[1].uri.user == "+491711234567"
    assert pai[1].uri.is_phone
    assert request.header(
        "p-access-network-info",
    ) == ("3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=262011234abcd0123")
    assert request.header_values("Accept-Contact") == ["*;+g.3gpp.smsip"]
    assert request.route[0].uri.params == {"lr": None}
    assert request.expires is None


def test_compact_forms_mean_the_full_names() -> None:
    request = _request(MO_MESSAGE_COMPACT)
    assert request.via.transport == "TCP"
    assert request.via.sent_by == ("10.10.1.5", 5060)
    assert request.call_id == "compact-1@10.10.1.5"
    assert request.from_.tag == "1"
    assert str(request.to.uri) == "sip:smsc@ims.example.net"
    assert request.header("Content-Type") == "application/vnd.3gpp.sms"
    assert request.header("Accept-Contact") == "*;+g.3gpp.smsip"
    assert request.header("Request-Disposition") == "no-fork"
    assert request.body == RP_DATA_BODY


@pytest.mark.parametrize(
    ("letter", "name"),
    [
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("e", "Content-Encoding"),
        ("c", "Content-Type"),
        ("f", "From"),
        ("s", "Subject"),
        ("k", "Supported"),
        ("t", "To"),
        ("v", "Via"),
        ("o", "Event"),
        ("u", "Allow-Events"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("a", "Accept-Contact"),
        ("j", "Reject-Contact"),
        ("d", "Request-Disposition"),
        ("x", "Session-Expires"),
        ("y", "Identity"),
    ],
)
def test_every_compact_form(letter: str, name: str) -> None:
    message = SipRequest("OPTIONS", "sip:x@y", ((letter.upper(), "value"),))
    assert message.header(name) == "value"
    assert message.header(name.upper()) == "value"
    assert message.header(letter) == "value"


def test_header_names_are_case_insensitive_and_whitespace_before_colon_tolerated() -> None:
    request = _request(BASE.replace("CSeq:", "cseq   :") + "CONTENT-length: 0\r\n\r\n")
    assert request.cseq.number == 1
    assert request.content_length == 0


def test_repeated_and_comma_separated_list_headers_keep_order() -> None:
    text = (
        BASE + "Route: <sip:p1;lr>, <sip:p2;lr>\r\nRoute: <sip:p3;lr>\r\n"
        "Via: SIP/2.0/TCP p2:5060;branch=z9hG4bK2, SIP/2.0/UDP p3;branch=z9hG4bK3\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    request = _request(text)
    assert [str(r.uri) for r in request.route] == ["sip:p1;lr", "sip:p2;lr", "sip:p3;lr"]
    assert [v.host for v in request.vias] == ["10.0.0.1", "p2", "p3"]
    assert request.via.branch == "z9hG4bK1"


def test_commas_inside_quotes_and_angle_brackets_do_not_split() -> None:
    text = (
        BASE + 'Contact: "Doe, John" <sip:j@h;x=a,b>;q=0.5, <sip:k@h>\r\n'
        'P-Asserted-Identity: "Smith, \\"Al\\"" <sip:+4917@h>, <tel:+4917>\r\n'
        "Content-Length: 0\r\n\r\n"
    )
    request = _request(text)
    contacts = request.contact
    assert [c.display_name for c in contacts] == ["Doe, John", None]
    assert contacts[0].params == {"q": "0.5"}
    assert str(contacts[0].uri) == "sip:j@h;x=a,b"
    pai = request.p_asserted_identity
    assert pai[0].display_name == 'Smith, "Al"'
    assert [p.uri.scheme for p in pai] == ["sip", "tel"]


def test_folded_header_lines_are_joined() -> None:
    text = (
        "OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n   ;branch=z9hG4bKf\r\n"
        "From: <sip:a@b>\r\n\t;tag=9\r\nTo: <sip:x@y>\r\nCall-ID: f\r\nCSeq: 1 OPTIONS\r\n\r\n"
    )
    request = _request(text)
    assert request.via.branch == "z9hG4bKf"
    assert request.from_.tag == "9"
    assert len(request.headers) == 5


def test_binary_body_is_taken_by_content_length_and_may_hold_crlf() -> None:
    body = b"\r\n\r\n\x00\xff" + bytes(range(256))
    data = (BASE + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    assert _request(data).body == body
    assert _request(data + b"trailing junk").body == body


def test_udp_without_content_length_takes_the_rest_of_the_datagram() -> None:
    assert _request(BASE.encode() + b"\r\n\x01\r\n\x02").body == b"\x01\r\n\x02"


def test_leading_crlfs_are_ignored() -> None:
    assert _request(b"\r\n\r\n" + BASE.encode() + b"\r\n").method == "MESSAGE"


def test_response_parses() -> None:
    data = b"SIP/2.0 202 Accepted\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n"
    response = parse_message(data)
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason, response.content_length) == (202, "Accepted", 0)
    empty_reason = parse_message(b"SIP/2.0 200 \r\n\r\n")
    assert isinstance(empty_reason, SipResponse)
    assert empty_reason.reason == ""


@pytest.mark.parametrize(
    ("data", "status", "reason"),
    [
        (b"GARBAGE\r\n\r\n", 400, "Bad Request-Line"),
        (b"MESSAGE  sip:x SIP/2.0\r\n\r\n", 400, "Bad Request-Line"),
        (b"MESSAGE noscheme SIP/2.0\r\n\r\n", 400, "Bad Request-Line"),
        (b"MES<SAGE sip:x SIP/2.0\r\n\r\n", 400, "Bad Request-Line"),
        (b"MESSAGE sip:x SIP/3.0\r\n\r\n", 505, "Version Not Supported"),
        (b"SIP/2.0 2000 OK\r\n\r\n", 400, "Bad Status-Line"),
        (b"SIP/2.0 099 Weird\r\n\r\n", 400, "Bad Status-Line"),
        (b"SIP/1.0 200 OK\r\n\r\n", 400, "Bad Status-Line"),
        ((BASE + "NoColonHere\r\n\r\n").encode(), 400, "Bad Header Line"),
        ((BASE + "Bad Name: x\r\n\r\n").encode(), 400, "Bad Header Line"),
        ((BASE + ": x\r\n\r\n").encode(), 400, "Bad Header Line"),
        ((BASE + "X: a\nY: b\r\n\r\n").encode(), 400, "Bad Line Ending"),
        ((BASE + "X: a\rb\r\n\r\n").encode(), 400, "Bad Line Ending"),
        ((BASE + "Content-Length: ten\r\n\r\n").encode(), 400, "Bad Content-Length"),
        ((BASE + "Content-Length: -1\r\n\r\n").encode(), 400, "Bad Content-Length"),
        ((BASE + "l: 1\r\nl: 2\r\n\r\n").encode(), 400, "Conflicting Content-Length"),
        ((BASE + "Content-Length: 9\r\n\r\nabc").encode(), 400, "Truncated Body"),
        (BASE.encode(), 400, "Missing Empty Line"),
        ((BASE + "X: 1\r\n" * 200 + "\r\n").encode(), 400, "Too Many Headers"),
        ((BASE + "\r\n").encode() + b"x" * 70000, 513, "Message Too Large"),
        (b"x" * 70000, 513, "Message Too Large"),
    ],
)
def test_malformed_input_class_gives_its_status(data: bytes, status: int, reason: str) -> None:
    assert _rejects(data, status).reason == reason


def test_parse_error_carries_what_was_read() -> None:
    error = _rejects((BASE + "NoColonHere\r\nContent-Length: 0\r\n\r\n").encode())
    partial = error.partial
    assert isinstance(partial, SipRequest)
    assert partial.call_id == "c1@10.0.0.1"
    assert partial.cseq.number == 1
    assert partial.via.branch == "z9hG4bK1"
    assert error.rp_cause is None


def test_limits_are_configurable() -> None:
    data = (BASE + "Content-Length: 0\r\n\r\n").encode()
    with pytest.raises(SipParseError) as info:
        parse_message(data, max_size=100)
    assert info.value.sip_status == 513
    with pytest.raises(SipParseError):
        parse_message(data, max_headers=4)
    assert parse_message(data, max_headers=6).headers[-1] == ("Content-Length", "0")


@pytest.mark.parametrize(
    ("header", "accessor"),
    [
        ("CSeq: x MESSAGE", "cseq"),
        ("CSeq: 4294967296 MESSAGE", "cseq"),
        ("Via: SIP/2.0 h", "via"),
        ("From: <sip:a@b", "from_"),
        ("Max-Forwards: many", "max_forwards"),
        ("Expires: -5", "expires"),
        ("Content-Type: text", "content_type"),
        ("P-Asserted-Identity: <>", "p_asserted_identity"),
    ],
)
def test_bad_header_values_raise_on_access(header: str, accessor: str) -> None:
    name = header.partition(":")[0]
    kept = "".join(line + "\r\n" for line in BASE.split("\r\n")[:-1] if not line.startswith(name))
    request = _request(kept + header + "\r\n\r\n")
    with pytest.raises(SipParseError) as info:
        getattr(request, accessor)
    assert info.value.sip_status == 400


def test_missing_mandatory_header_raises_on_access() -> None:
    request = SipRequest("OPTIONS", "sip:x@y")
    for accessor in ("call_id", "cseq", "via", "from_", "to"):
        with pytest.raises(SipParseError, match="Missing"):
            getattr(request, accessor)
    assert request.content_type is None


def test_conflicting_single_headers() -> None:
    request = SipRequest("OPTIONS", "sip:x@y", (("Call-ID", "a"), ("i", "b")))
    with pytest.raises(SipParseError, match="Conflicting Call-ID"):
        _ = request.call_id
    assert SipRequest("OPTIONS", "sip:x@y", (("Call-ID", "a"), ("i", "a"))).call_id == "a"


@given(messages)
def test_round_trip(message: SipMessage) -> None:
    assert parse_message(encode_message(message)) == message


def test_encode_adds_content_length_and_refuses_inconsistent_or_injected_headers() -> None:
    data = encode_message(SipRequest("MESSAGE", "sip:x@y", (("To", "<sip:x@y>"),), b"\r\n"))
    assert data.endswith(b"Content-Length: 2\r\n\r\n\r\n")
    with pytest.raises(SipBuildError):
        encode_message(SipRequest("MESSAGE", "sip:x@y", (("l", "3"),), b"ab"))
    with pytest.raises(SipBuildError):
        encode_message(SipRequest("MESSAGE", "sip:x@y", (("X", "a\r\nVia: evil"),)))
    with pytest.raises(SipBuildError):
        encode_message(SipResponse(99, "x"))
    with pytest.raises(SipBuildError):
        SipRequest("MESSAGE", "sip:x@y", (("Bad Name", "x"),))


def _parse_only_sip_errors(data: bytes) -> None:
    try:
        message = parse_message(data, max_size=4096)
    except SipParseError as exc:
        assert exc.sip_status in (400, 505, 513)
        return
    for accessor in (
        "call_id",
        "cseq",
        "via",
        "vias",
        "from_",
        "to",
        "contact",
        "route",
        "p_asserted_identity",
        "in_reply_to",
        "content_type",
        "content_length",
        "max_forwards",
        "expires",
    ):
        try:
            getattr(message, accessor)
        except SipParseError as exc:
            assert exc.sip_status == 400


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_sip_parse_error(data: bytes) -> None:
    _parse_only_sip_errors(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_after_a_request_line_raise_only_sip_parse_error(data: bytes) -> None:
    _parse_only_sip_errors(b"MESSAGE sip:x@y SIP/2.0\r\n" + data)


@given(st.data())
def test_mutated_valid_messages_raise_only_sip_parse_error(data: st.DataObject) -> None:
    sample = bytearray(data.draw(st.sampled_from([MO_MESSAGE, MO_MESSAGE_COMPACT])))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(sample) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        byte = data.draw(st.sampled_from(b'\r\n :;,<>"\\/@=\t\x00\xff0a'))
        if action == "flip":
            sample[position] = byte
        elif action == "delete":
            del sample[position]
        else:
            sample.insert(position, byte)
    _parse_only_sip_errors(bytes(sample))
