"""The UDP listener asks for large socket buffers so bursts queue instead of being dropped."""

from __future__ import annotations

import socket
from pathlib import Path

from smsc.sip.endpoint import SipEndpoint
from smsc.transport.sip import UDP_BUFFER_BYTES, ListenAddress, SipTransport


def _kernel_max(name: str) -> int:
    path = Path(f"/proc/sys/net/core/{name}")
    return int(path.read_text()) if path.exists() else 0


async def test_udp_listener_buffers_are_enlarged() -> None:
    endpoint = SipEndpoint(local_via_host="127.0.0.1", local_port=0)
    transport = SipTransport(endpoint, [ListenAddress.parse("udp:127.0.0.1:0")])
    await transport.start()
    try:
        assert transport._udp is not None
        sock = transport._udp.get_extra_info("socket")
        received = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        sent = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        # Linux doubles the request and caps it at rmem_max / wmem_max
        assert received >= min(UDP_BUFFER_BYTES, _kernel_max("rmem_max"))
        assert sent >= min(UDP_BUFFER_BYTES, _kernel_max("wmem_max"))
    finally:
        await transport.stop()
