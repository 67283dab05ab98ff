"""The parser's fast case: which MESSAGEs and responses it reads, and what it reads of them
(each test over both implementations: the `scanner` fixture of conftest.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smsc.sip.constants import Transport
from smsc.sip.errors import SipParseError
from smsc.sip.headers import parse_uri
from smsc.sip.message import header_key
from smsc.sip.native import Scanners
from smsc.sip.scan import _OTHER, _READ_KEYS
from tests.smsc.sip.samples import MO_MESSAGE, RP_DATA_BODY

UDP, TCP = Transport.UDP, Transport.TCP
CSCF = ("10.10.1.5", 5060)
UE = ("10.99.0.7", 5060)


def _head(lines: list[str], body: bytes = RP_DATA_BODY) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _lines(**change: str | None) -> list[str]:
    headers = {
        "start": "MESSAGE sip:smsc@ims.example.net SIP/2.0",
        "Via": "SIP/2.0/UDP 10.10.1.5:5060;branch=z9hG4bK-1a;rport",
        "Max-Forwards": "69",
        "From": "<sip:+491711234567@ims.example.net>;tag=f1",
        "To": "<sip:smsc@ims.example.net>",
        "Call-ID": "c1@10.10.1.5",
        "CSeq": "7 MESSAGE",
        "P-Asserted-Identity": "<tel:+491711234567>",
        "P-Access-Network-Info": "3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=262011234abcd0123",
        "Content-Type": "application/vnd.3gpp.sms",
        "Content-Length": str(len(RP_DATA_BODY)),
    }
    for name, value in change.items():
        headers[name.replace("_", "-")] = value  # type: ignore[assignment]
    start = headers.pop("start")
    return [start or ""] + [f"{name}: {value}" for name, value in headers.items() if value]


def test_the_common_shape_is_read(scanner: Scanners) -> None:
    scanned = scanner.scan_message(_head(_lines()), 100)
    assert scanned is not None
    assert scanned.uri == "sip:smsc@ims.example.net"
    assert scanned.branch == "z9hG4bK-1a" and scanned.host == "10.10.1.5"
    assert scanned.port == 5060 and scanned.rport and scanned.has_rport
    assert scanned.asserted == ("tel:+491711234567",)
    assert scanned.access_network_info.startswith("3GPP-E-UTRAN-FDD")  # type: ignore[union-attr]
    assert scanned.body == RP_DATA_BODY
    assert scanner.scan_message(MO_MESSAGE, 100) is not None  # two Vias, a PAI list, Route


@pytest.mark.parametrize(
    "data",
    [
        _head(_lines(start="OPTIONS sip:smsc@ims.example.net SIP/2.0", CSeq="7 OPTIONS")),
        _head(_lines(start="MESSAGE sip:smsc@ims.example.net SIP/3.0")),
        _head(_lines(start="MESSAGE smsc SIP/2.0")),
        _head([*_lines(Via=None), "v: SIP/2.0/UDP 10.10.1.5;branch=z9hG4bK-1a"]),
        _head([*_lines(Call_ID=None), "call-id: c1@x"]),
        _head(_lines(Call_ID=None)),
        _head(_lines(To="<sip:smsc@ims.example.net>;tag=9")),
        _head(_lines(Content_Type="multipart/mixed;boundary=b")),
        _head(_lines(Content_Type="Application/Vnd.3gpp.sms")),
        _head(_lines(Content_Length="3")),
        _head(_lines(CSeq="7 OPTIONS")),
        _head(_lines(CSeq="x MESSAGE")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.9")),
        _head(_lines(Via="SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5;branch=z9hG4bK1;maddr=10.0.0.1")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5;branch=1234")),
        _head(_lines(Via="SIP/2.0/TCP 10.10.1.5;branch=z9hG4bK1")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5 ;branch=z9hG4bK1")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5;Branch=z9hG4bK1")),
        _head(_lines(Via="SIP/2.0/UDP 10.10.1.5;branch=z9hG4bK1;branch=z9hG4bK2")),
        _head(_lines(P_Asserted_Identity='"Alice" <tel:+491711234567>')),
        _head(_lines(P_Asserted_Identity="tel:+491711234567")),
        _head([*_lines(), "P-Asserted-Identity: <tel:+491711234568>"]),
        _head([*_lines(), " folded continuation"]),
        _head([*_lines(), "Bad Header: x"]),
        _head([*_lines(), "X-Lone-LF: a\nb"]),
        _head(_lines(From="<sip:ü@example.net>")),
        _head(_lines() + [f"X-{i}: {i}" for i in range(100)]),
        b"MESSAGE sip:smsc@ims.example.net SIP/2.0\r\nVia: x",
    ],
)
def test_anything_else_goes_the_general_way(scanner: Scanners, data: bytes) -> None:
    assert scanner.scan_message(data, 70) is None


def test_a_content_length_of_thousands_of_digits_is_not_read(scanner: Scanners) -> None:
    """Python's int() refuses more than 4,300 digits: the scanner must not raise."""
    huge = "1" * 5000
    assert scanner.scan_message(_head(_lines(Content_Length=huge)), 70) is None
    ok = _ok_response().replace(b"Content-Length: 0", f"Content-Length: {huge}".encode())
    assert scanner.scan_response(ok, 70) is None
    padded = "0" * 5000 + str(len(RP_DATA_BODY))  # leading zeros: still the same length
    assert scanner.scan_message(_head(_lines(Content_Length=padded)), 70) is not None


def test_a_read_header_name_without_a_colon_is_not_a_header(scanner: Scanners) -> None:
    """The general parser refuses such a line (Bad Header Line): so does the fast case."""
    assert scanner.scan_message(_head([*_lines(), "Via"]), 70) is None
    assert scanner.scan_message(_head([*_lines(), "P-Access-Network-Info"]), 70) is None
    assert scanner.scan_response(_ok_response().replace(b"CSeq:", b"CSeq\r\nCSeq:"), 70) is None


def _ok_response() -> bytes:
    return (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKab;rport=5060\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <tel:+49>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )


def test_responses_are_read_for_their_transaction(scanner: Scanners) -> None:
    ok = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKab;rport=5060\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <tel:+49>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    scanned = scanner.scan_response(ok, 70)
    assert scanned is not None and scanned == (200, "z9hG4bKab", "MESSAGE")
    assert scanner.scan_response(ok.replace(b"CSeq", b"Cseq"), 70) is None
    assert scanner.scan_response(ok.replace(b"Via: ", b"Via: SIP/2.0/UDP 10.0.0.2, "), 70) is None
    assert scanner.scan_response(ok.replace(b"200 OK", b"2x0 OK"), 70) is None
    assert scanner.scan_response(ok.replace(b"z9hG4bKab", b"ab"), 70) is None


@pytest.mark.parametrize("name", sorted(_OTHER))
def test_the_headers_passed_over_are_other_headers_to_the_general_parser(
    scanner: Scanners, name: str
) -> None:
    """The names the Python scanner passes over without asking header_key: each is a valid
    name of a header not read, and a MESSAGE carrying it is read the same as without it."""
    key = header_key(name)
    assert key is not None and key not in _READ_KEYS
    plain = scanner.scan_message(_head(_lines()), 70)
    assert plain is not None
    assert scanner.scan_message(_head([*_lines(), f"{name}: x"]), 70) == plain


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one per implementation
@given(
    st.tuples(
        st.sampled_from(["tel:", "TEL:", "sip:", "", "\x0btel:"]),
        st.lists(st.sampled_from(["+", "1", ";", "=", "a", "@", "\x0b", ":"]), max_size=6),
        st.sampled_from(["", "\x0b", "\x1f", "\x0c", "1"]),
    ).map(lambda parts: parts[0] + "".join(parts[1]) + parts[2])
)
@example("tel:+1\x0b")
def test_an_asserted_identity_is_kept_as_the_general_parser_keeps_it(
    scanner: Scanners, text: str
) -> None:
    """A tel URI without parameters skips parse_uri in the Python scanner: for any URI, what
    the scanner keeps is what parse_uri keeps, and what parse_uri refuses is not read."""
    try:
        expected: tuple[str, ...] | None = (parse_uri(text).raw,)
    except SipParseError:
        expected = None
    scanned = scanner.scan_message(_head(_lines(P_Asserted_Identity=f"<{text}>")), 70)
    assert (None if scanned is None else scanned.asserted) == expected


@pytest.mark.parametrize(
    "via",
    [
        "SIP/2.0/UDP .-;branch=z9hG4bK1",  # a host without a letter or digit
        "SIP/2.0/UDP a.b;12;branch=z9hG4bK1",  # a parameter name without a letter
        "SIP/2.0/UDP a.b:65536;branch=z9hG4bK1",
        "SIP/2.0/UDP a.b;branch=z9hG4bK1;branch=z9hG4bK2",
        "SIP/2.0/UDP a.b;maddr=10.0.0.1;branch=z9hG4bK1",
        "SIP/2.0/UDP a.b;Branch=z9hG4bK1",
    ],
)
def test_a_top_via_out_of_the_common_shape_is_not_read(scanner: Scanners, via: str) -> None:
    assert scanner.scan_message(_head(_lines(Via=via)), 70) is None


def test_a_top_via_in_the_common_shape_is_read(scanner: Scanners) -> None:
    via = "SIP/2.0/UDP -a.B-:5090;ttl=1;branch=z9hG4bK1;rport;x1=y=z"
    scanned = scanner.scan_message(_head(_lines(Via=via)), 70)
    assert scanned is not None
    assert (scanned.branch, scanned.host, scanned.port, scanned.rport, scanned.has_rport) == (
        "z9hG4bK1",
        "-a.b-",
        5090,
        True,
        True,
    )
