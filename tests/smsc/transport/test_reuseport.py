"""Sockets that share one UDP port, steered by payload, over real loopback sockets."""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from smsc.transport.reuseport import open_shared_udp

_HOST = "127.0.0.1"
_PATIENCE_S = 10.0
"""How long a datagram sent over loopback may take to show up on a loaded machine."""

_BODY = bytes.fromhex("000d00079194710106000012010d0a919471320990000006c8329bfd0e01")


def _message(number: int, host: str = "10.10.1.5") -> bytes:
    """An MO MESSAGE as an S-CSCF sends it, with its own branch and Call-ID."""
    head = (
        "MESSAGE sip:smsc@ims.mnc001.mcc262.3gppnetwork.org SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:5060;branch=z9hG4bK{number * 2654435761 % 2**32:08x}.0\r\n"
        "Via: SIP/2.0/UDP 10.20.30.40:5070;rport=5070;branch=z9hG4bKx8f2a\r\n"
        "Max-Forwards: 68\r\n"
        f"From: <sip:+491711234567@ims.mnc001.mcc262.3gppnetwork.org>;tag=t{number}\r\n"
        "To: <sip:smsc@ims.mnc001.mcc262.3gppnetwork.org>\r\n"
        f"Call-ID: mo-{number}@10.20.30.40\r\n"
        f"CSeq: {number + 1} MESSAGE\r\n"
        "Content-Type: application/vnd.3gpp.sms\r\n"
        f"Content-Length: {len(_BODY)}\r\n\r\n"
    )
    return head.encode() + _BODY


@contextmanager
def _group(size: int, host: str = _HOST) -> Iterator[list[socket.socket]]:
    """``size`` sockets on one port: the first binds port 0, the others the port it got."""
    with ExitStack() as stack:
        first = stack.enter_context(open_shared_udp(host, 0, size))
        port = first.getsockname()[1]
        sockets = [first]
        for _ in range(size - 1):
            sockets.append(stack.enter_context(open_shared_udp(host, port, size)))
        yield sockets


@contextmanager
def _sender(family: int = socket.AF_INET) -> Iterator[socket.socket]:
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        yield sock


def _receive(sockets: list[socket.socket], count: int) -> list[list[bytes]]:
    """The next ``count`` datagrams, per socket; fails if they do not all come in time."""
    received: list[list[bytes]] = [[] for _ in sockets]
    got = 0
    deadline = time.monotonic() + _PATIENCE_S
    while got < count:
        left = deadline - time.monotonic()
        assert left > 0, f"{got} of {count} datagrams received"
        readable, _, _ = select.select(sockets, [], [], left)
        for sock in readable:
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                received[sockets.index(sock)].append(data)
                got += 1
    return received


def _quiet(sockets: list[socket.socket]) -> None:
    """Nothing more arrives (a short wait: the datagrams expected have all been counted)."""
    readable, _, _ = select.select(sockets, [], [], 0.2)
    assert not readable


def _send_each(sockets: list[socket.socket], datagrams: list[bytes]) -> list[list[bytes]]:
    """Send in batches small enough for any receive buffer; what each socket got."""
    destination = sockets[0].getsockname()
    received: list[list[bytes]] = [[] for _ in sockets]
    with _sender(sockets[0].family) as sender:
        for start in range(0, len(datagrams), 20):
            batch = datagrams[start : start + 20]
            for datagram in batch:
                sender.sendto(datagram, destination)
            for index, got in enumerate(_receive(sockets, len(batch))):
                received[index] += got
    _quiet(sockets)
    return received


def test_different_messages_are_spread_and_none_is_lost() -> None:
    messages = [_message(number) for number in range(200)]
    assert len(set(messages)) == 200 and min(map(len, messages)) > 200
    with _group(2) as sockets:
        received = _send_each(sockets, messages)
    assert sorted(received[0] + received[1]) == sorted(messages)
    assert min(len(got) for got in received) >= 40, [len(got) for got in received]


def test_a_retransmission_reaches_the_socket_of_the_original() -> None:
    with _group(2) as sockets:
        landed = set()
        for number in range(8):
            received = _send_each(sockets, [_message(number)] * 10)
            counts = [len(got) for got in received]
            assert sorted(counts) == [0, 10], (number, counts)
            landed.add(counts.index(10))
    assert landed == {0, 1}  # both sockets get some of the 8


def test_steering_spreads_over_three_sockets() -> None:
    with _group(3) as sockets:
        received = _send_each(sockets, [_message(number) for number in range(150)])
    assert sum(len(got) for got in received) == 150
    assert min(len(got) for got in received) >= 25, [len(got) for got in received]


@pytest.mark.parametrize("length", [0, 1, 4, 40, 63, 67])
def test_a_short_datagram_reaches_the_first_socket(length: int) -> None:
    keep_alive = (b"\r\n" * 40)[:length]
    probes = [keep_alive, bytes(range(length)), bytes([0xFF]) * length]
    with _group(2) as sockets:
        received = _send_each(sockets, probes)
    assert received[0] == probes and received[1] == []


def test_a_datagram_shorter_than_the_window_is_still_spread() -> None:
    """One that ends inside the window is hashed on its words, not all sent to socket 0."""
    datagrams = [_message(number)[:160] for number in range(100)]
    with _group(2) as sockets:
        received = _send_each(sockets, datagrams)
    assert sorted(received[0] + received[1]) == sorted(datagrams)
    assert min(len(got) for got in received) >= 20, [len(got) for got in received]


def test_a_group_of_one_is_a_plain_socket() -> None:
    with _group(1) as (sock,):
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_DGRAM
        assert not sock.getblocking()
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        messages = [_message(number) for number in range(30)] + [b"\r\n\r\n"]
        assert _send_each([sock], messages) == [messages]


def test_the_shared_sockets_are_non_blocking_ipv4_with_reuseport() -> None:
    with _group(2) as sockets:
        for sock in sockets:
            assert sock.family == socket.AF_INET and not sock.getblocking()
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert sockets[0].getsockname() == sockets[1].getsockname()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_host_gives_an_ipv6_group() -> None:
    with _group(2, "::1") as sockets:
        assert all(sock.family == socket.AF_INET6 for sock in sockets)
        messages = [_message(number, "[2001:db8:10:20::5]") for number in range(200)]
        received = _send_each(sockets, messages)
    assert sorted(received[0] + received[1]) == sorted(messages)
    assert min(len(got) for got in received) >= 40, [len(got) for got in received]


def test_a_port_held_without_reuseport_is_an_os_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((_HOST, 0))
        port = holder.getsockname()[1]
        for size in (1, 2):
            with pytest.raises(OSError) as caught:
                open_shared_udp(_HOST, port, size)
            assert caught.value.errno == errno.EADDRINUSE


def test_a_group_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="group_size 0"):
        open_shared_udp(_HOST, 0, 0)
