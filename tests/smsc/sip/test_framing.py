"""RFC 3261 §18.3 stream framing: arbitrary splits, coalescing, keep-alives, fatal errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsc.sip.errors import SipParseError
from smsc.sip.framing import StreamFramer
from smsc.sip.message import SipMessage, SipRequest, SipResponse
from tests.smsc.sip.samples import MO_MESSAGE, MO_MESSAGE_COMPACT, RP_DATA_BODY

RESPONSE = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
STREAM = b"\r\n\r\n" + MO_MESSAGE + b"\r\n\r\n" + MO_MESSAGE_COMPACT + b"\r\n" + RESPONSE


def _drain(framer: StreamFramer) -> list[SipMessage]:
    out: list[SipMessage] = []
    while (message := framer.next_message()) is not None:
        out.append(message)
    return out


def _check(messages: list[SipMessage]) -> None:
    assert [type(m) for m in messages] == [SipRequest, SipRequest, SipResponse]
    assert [m.body for m in messages] == [RP_DATA_BODY, RP_DATA_BODY, b""]
    assert messages[1].call_id == "compact-1@10.10.1.5"


@pytest.mark.parametrize("split", range(len(STREAM) + 1))
def test_every_split_point_of_a_stream_with_keepalives(split: int) -> None:
    framer = StreamFramer()
    framer.receive_data(STREAM[:split])
    first = _drain(framer)
    framer.receive_data(STREAM[split:])
    _check(first + _drain(framer))
    assert framer.pings == 2


@given(st.lists(st.integers(1, 64), min_size=1, max_size=60))
def test_arbitrary_chunking(sizes: list[int]) -> None:
    framer = StreamFramer()
    messages: list[SipMessage] = []
    position = 0
    for size in sizes:
        framer.receive_data(STREAM[position : position + size])
        position += size
        messages += _drain(framer)
    framer.receive_data(STREAM[position:])
    messages += _drain(framer)
    _check(messages)


def test_byte_by_byte() -> None:
    framer = StreamFramer()
    messages: list[SipMessage] = []
    for i in range(len(STREAM)):
        framer.receive_data(STREAM[i : i + 1])
        messages += _drain(framer)
    _check(messages)


def test_missing_content_length_is_fatal_400() -> None:
    framer = StreamFramer()
    framer.receive_data(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n" + RESPONSE)
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert (info.value.sip_status, info.value.reason, info.value.fatal) == (
        400,
        "Missing Content-Length",
        True,
    )
    assert isinstance(info.value.partial, SipRequest)
    assert framer.broken
    assert framer.next_message() is None
    framer.receive_data(RESPONSE)
    assert framer.next_message() is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"x" * 200, 513),
        (b"OPTIONS sip:x SIP/2.0\r\nl: 500\r\n\r\n", 513),
        (b"OPTIONS sip:x SIP/2.0\r\nl: -1\r\n\r\n", 400),
        (b"garbage line\r\n\r\n", 400),
    ],
)
def test_fatal_errors(data: bytes, status: int) -> None:
    framer = StreamFramer(max_size=150)
    framer.receive_data(data)
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert info.value.sip_status == status
    assert info.value.fatal


def test_bad_header_line_with_good_length_keeps_the_stream() -> None:
    framer = StreamFramer()
    framer.receive_data(b"OPTIONS sip:x SIP/2.0\r\nbad line\r\nl: 2\r\n\r\nab" + RESPONSE)
    with pytest.raises(SipParseError) as info:
        framer.next_message()
    assert not info.value.fatal
    assert isinstance(info.value.partial, SipRequest)
    assert info.value.partial.body == b"ab"
    assert isinstance(framer.next_message(), SipResponse)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_sip_parse_error(data: bytes) -> None:
    framer = StreamFramer(max_size=300)
    framer.receive_data(data)
    for _ in range(50):
        try:
            if framer.next_message() is None:
                break
        except SipParseError as exc:
            assert exc.sip_status in (400, 505, 513)
