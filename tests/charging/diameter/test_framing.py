"""RFC 6733 §3: the header reader and the stream framer, including any split of the stream."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charging.diameter.errors import DiameterError, DiameterFramingError
from charging.diameter.framing import (
    MAX_MESSAGE_LENGTH,
    DiameterHeader,
    MessageFramer,
    parse_header,
)
from charging.errors import ChargingError
from smsc.errors import RemoteProtocolError


def message(
    body: bytes = b"",
    *,
    flags: int = 0x80,
    command: int = 272,
    application: int = 4,
    hop: int = 1,
    e2e: int = 2,
    version: int = 1,
    length: int | None = None,
) -> bytes:
    size = 20 + len(body) if length is None else length
    head = struct.pack(">IIIII", version << 24 | size, flags << 24 | command, application, hop, e2e)
    return head + body


def test_parse_header_reads_every_field() -> None:
    data = message(b"\0" * 8, flags=0xD0, command=257, application=0, hop=0xA1B2C3D4, e2e=9)
    assert parse_header(data) == DiameterHeader(1, 28, 0xD0, 257, 0, 0xA1B2C3D4, 9)


@pytest.mark.parametrize(
    ("flags", "is_request", "error", "retransmitted"),
    [(0x80, True, False, False), (0x00, False, False, False), (0x20, False, True, False),
     (0x90, True, False, True), (0xF0, True, True, True)],
)  # fmt: skip
def test_flag_properties(flags: int, is_request: bool, error: bool, retransmitted: bool) -> None:
    header = parse_header(message(flags=flags))
    assert (header.is_request, header.is_error, header.is_retransmitted) == (
        is_request,
        error,
        retransmitted,
    )
    assert header.is_proxiable is bool(flags & 0x40)


def test_parse_header_at_an_offset_and_in_a_memoryview() -> None:
    data = b"xxxx" + message(hop=77)
    assert parse_header(data, 4).hop_by_hop == 77
    assert parse_header(memoryview(data), 4).hop_by_hop == 77


def test_parse_header_needs_20_octets_only() -> None:
    assert parse_header(message(length=400)).length == 400  # the body need not be there


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (message()[:19], "cannot hold"),
        (message(version=2), "version 2"),
        (message(version=0), "version 0"),
        (message(length=16), "length 16 < 20"),
        (message(length=0), "length 0 < 20"),
        (message(length=22), "not a multiple of 4"),
        (message(length=MAX_MESSAGE_LENGTH + 4), f"> {MAX_MESSAGE_LENGTH}"),
        (message(length=0xFFFFFC), "> "),
    ],
)
def test_parse_header_errors(data: bytes, text: str) -> None:
    with pytest.raises(DiameterFramingError, match=text) as caught:
        parse_header(data)
    assert isinstance(caught.value, RemoteProtocolError)
    assert isinstance(caught.value, ChargingError)
    assert isinstance(caught.value, DiameterError)


def test_largest_message_accepted() -> None:
    assert parse_header(message(length=MAX_MESSAGE_LENGTH)).length == MAX_MESSAGE_LENGTH
    framer = MessageFramer()
    whole = message(b"\0" * (MAX_MESSAGE_LENGTH - 20))
    framer.receive_data(whole)
    assert framer.next_message() == whole


def test_framer_waits_for_whole_messages() -> None:
    first, second = message(b"abcd", hop=1), message(hop=2)
    framer = MessageFramer()
    assert framer.next_message() is None
    framer.receive_data(first[:3])
    assert framer.next_message() is None
    framer.receive_data(first[3:21])
    assert framer.next_message() is None
    assert framer.buffered == 21
    framer.receive_data(first[21:] + second + second[:5])
    assert framer.next_message() == first
    assert framer.next_message() == second
    assert framer.next_message() is None
    assert framer.buffered == 5


def test_framer_checks_the_header_as_soon_as_four_octets_are_in() -> None:
    framer = MessageFramer()
    framer.receive_data(message(length=16)[:4])
    with pytest.raises(DiameterFramingError, match="length 16"):
        framer.next_message()


@pytest.mark.parametrize("length", [12, 22, MAX_MESSAGE_LENGTH + 4])
def test_framer_errors_are_final(length: int) -> None:
    framer = MessageFramer()
    framer.receive_data(message() + message(length=length))
    assert framer.next_message() == message()
    with pytest.raises(DiameterFramingError):
        framer.next_message()
    with pytest.raises(DiameterFramingError):
        framer.next_message()
    with pytest.raises(DiameterFramingError):
        framer.receive_data(message())


def test_framer_version_error() -> None:
    framer = MessageFramer()
    framer.receive_data(b"\x02\x00\x00\x14")
    with pytest.raises(DiameterFramingError, match="version 2"):
        framer.next_message()


def test_framer_with_a_smaller_limit() -> None:
    framer = MessageFramer(max_length=64)
    framer.receive_data(message(b"\0" * 48))
    with pytest.raises(DiameterFramingError, match="> 64"):
        framer.next_message()


def test_framer_compacts_its_buffer_over_many_messages() -> None:
    framer = MessageFramer()
    one = message(b"\0" * 1000)
    framer.receive_data(one * 200 + one[:10])
    assert [framer.next_message() for _ in range(200)] == [one] * 200
    assert framer.next_message() is None
    framer.receive_data(one[10:])
    assert framer.next_message() == one
    assert framer.buffered == 0


messages = st.builds(
    lambda body, flags, command, application, hop, e2e: message(
        body, flags=flags, command=command, application=application, hop=hop, e2e=e2e
    ),
    st.integers(0, 64).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n)),
    st.integers(0, 255),
    st.integers(0, 0xFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages, max_size=12), st.data())
def test_any_split_yields_the_same_messages(sent: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    framer = MessageFramer()
    received: list[bytes] = []
    for piece in pieces:
        framer.receive_data(piece)
        while (one := framer.next_message()) is not None:
            received.append(one)
    assert received == sent
    assert framer.buffered == 0
    assert all(parse_header(m).length == len(m) for m in received)
