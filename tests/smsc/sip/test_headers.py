"""RFC 3261 §19-§20 typed header values: URIs, name-addr, Via, CSeq, Content-Type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.errors import SipParseError
from smsc.sip.headers import (
    format_name_addr,
    parse_content_type,
    parse_cseq,
    parse_name_addr,
    parse_uri,
    parse_via,
    quote,
    split_list,
    unquote,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:smsc@ims.example.net", ("sip", "smsc", "ims.example.net", None, {})),
        ("SIPS:alice:pw@Host.Example:5061", ("sips", "alice", "host.example", 5061, {})),
        (
            "sip:+4917@ims.example.net;user=phone;transport=TCP",
            ("sip", "+4917", "ims.example.net", None, {"user": "phone", "transport": "TCP"}),
        ),
        ("sip:[2001:db8::1]:5070;lr", ("sip", None, "[2001:db8::1]", 5070, {"lr": None})),
        ("sip:10.0.0.1", ("sip", None, "10.0.0.1", None, {})),
        (
            "tel:+491711234567;phone-context=ims",
            ("tel", "+491711234567", "", None, {"phone-context": "ims"}),
        ),
    ],
)
def test_uri_parts(text: str, expected: tuple[object, ...]) -> None:
    uri = parse_uri(text)
    assert (uri.scheme, uri.user, uri.host, uri.port, uri.params) == expected
    assert str(uri) == text


def test_uri_helpers() -> None:
    uri = parse_uri("sip:+4917@h;user=phone;transport=TCP?subject=x")
    assert uri.is_phone
    assert uri.transport == "tcp"
    assert uri.headers == "subject=x"
    assert parse_uri("urn:service:sos").scheme == "urn"
    assert not parse_uri("sip:a@b").is_phone


@pytest.mark.parametrize(
    "text", ["", "nocolon", "sip:", "sip:@host", "sip:a@", "sip:a@h:99999", "sip:a@h:x", "tel:"]
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_uri(text)


def test_name_addr_forms() -> None:
    quoted = parse_name_addr('"A \\"B\\", C" <sip:a@b>;tag=1;x', "From")
    assert (quoted.display_name, quoted.tag, quoted.params) == (
        'A "B", C',
        "1",
        {"tag": "1", "x": None},
    )
    token_name = parse_name_addr("Alice Smith <sip:a@b;lr>;tag=2", "To")
    assert token_name.display_name == "Alice Smith"
    assert token_name.uri.params == {"lr": None}
    addr_spec = parse_name_addr("sip:a@b;tag=3", "From")
    assert addr_spec.tag == "3"
    assert addr_spec.uri.params == {}
    assert parse_name_addr("*", "Contact").uri.scheme == "*"
    assert str(addr_spec) == "sip:a@b;tag=3"


@pytest.mark.parametrize(
    "text", ['"open <sip:a@b>', '"x" sip:a@b', "<sip:a@b", "<sip:a@b> junk", "sip:a@b, c", "<>"]
)
def test_bad_name_addr(text: str) -> None:
    with pytest.raises(SipParseError, match="From"):
        parse_name_addr(text, "From")


def test_format_name_addr_round_trips() -> None:
    text = format_name_addr("sip:a@b", display_name='Al "x"', tag="t1")
    parsed = parse_name_addr(text, "From")
    assert (parsed.display_name, str(parsed.uri), parsed.tag) == ('Al "x"', "sip:a@b", "t1")
    assert format_name_addr("tel:+1") == "<tel:+1>"


def test_via_fields() -> None:
    via = parse_via("SIP / 2.0 / udp Host.example : 5070 ;branch=z9hG4bKa;rport;received=1.2.3.4")
    assert (via.protocol, via.transport, via.host, via.port) == (
        "SIP/2.0",
        "UDP",
        "host.example",
        5070,
    )
    assert (via.branch, via.received, via.has_rport, via.rport) == (
        "z9hG4bKa",
        "1.2.3.4",
        True,
        None,
    )
    assert parse_via("SIP/2.0/UDP h;rport=5071").rport == 5071
    assert parse_via("SIP/2.0/TLS h").sent_by == ("h", 5061)
    assert parse_via("SIP/2.0/UDP [::1]").sent_by == ("[::1]", 5060)
    assert parse_via("SIP/2.0/UDP h;maddr=224.0.1.75").maddr == "224.0.1.75"


@pytest.mark.parametrize(
    "text", ["", "SIP/2.0", "SIP/2.0/UDP", "HTTP/1.1/TCP h", "SIP/2.0/UDP h:x", "SIP/2.0/UDP h;=1"]
)
def test_bad_via(text: str) -> None:
    with pytest.raises(SipParseError, match="Bad Via"):
        parse_via(text)


def test_cseq_and_content_type() -> None:
    assert parse_cseq(" 12  MESSAGE ") == (12, "MESSAGE")
    assert str(parse_cseq("1 OPTIONS")) == "1 OPTIONS"
    content_type = parse_content_type("Application/Vnd.3GPP.SMS ; charset=x")
    assert content_type.media_type == "application/vnd.3gpp.sms"
    assert content_type.params == {"charset": "x"}
    for bad in ("MESSAGE", "1", "-1 MESSAGE", "2147483648 MESSAGE", "1 ME SSAGE"):
        with pytest.raises(SipParseError, match="CSeq"):
            parse_cseq(bad)
    with pytest.raises(SipParseError, match="Content-Type"):
        parse_content_type("application/")


def test_split_list() -> None:
    assert split_list("a, b,,c ,") == ["a", "b", "c"]
    assert split_list('"x, y" <sip:a,b>, z') == ['"x, y" <sip:a,b>', "z"]
    assert split_list('"esc\\", still" <u>, w') == ['"esc\\", still" <u>', "w"]


@given(st.text(max_size=60))
def test_quote_round_trip(text: str) -> None:
    assert unquote(quote(text)) == text


@given(st.text(max_size=80))
def test_header_parsers_raise_only_sip_parse_error(text: str) -> None:
    for parse in (
        parse_uri,
        parse_via,
        parse_cseq,
        parse_content_type,
        lambda t: parse_name_addr(t, "From"),
        split_list,
    ):
        try:
            parse(text)
        except SipParseError as exc:
            assert exc.sip_status == 400
