"""A real DNS server on loopback for the tests (dnslib, UDP, in a thread): a small zone that
counts the queries it gets and answers NXDOMAIN with an SOA for names it does not know; and a
name server that never answers."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR, SOA, SRV, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class _Quiet(DNSLogger):
    def __init__(self) -> None:
        super().__init__("-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)


class Zone(BaseResolver):
    """Records by (name, type); `queries` counts what was asked, by (name, type)."""

    def __init__(self, negative_ttl: int = 60) -> None:
        self.records: dict[tuple[str, str], list[RR]] = {}
        self.queries: Counter[tuple[str, str]] = Counter()
        self.negative_ttl = negative_ttl

    def a(self, name: str, address: str, ttl: int = 300) -> None:
        self.records.setdefault((name, "A"), []).append(
            RR(name, QTYPE.A, rdata=A(address), ttl=ttl)
        )

    def srv(
        self, name: str, priority: int, weight: int, port: int, target: str, *, ttl: int = 300
    ) -> None:
        rdata = SRV(priority, weight, port, target)
        self.records.setdefault((name, "SRV"), []).append(RR(name, QTYPE.SRV, rdata=rdata, ttl=ttl))

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries[(name, qtype)] += 1
        reply = request.reply()
        for record in self.records.get((name, qtype), []):
            reply.add_answer(record)
        if not reply.rr:
            if not any(known == name for known, _ in self.records):
                reply.header.rcode = RCODE.NXDOMAIN
            soa = SOA(
                "ns.example.net", "hostmaster.example.net", (1, 3600, 600, 86400, self.negative_ttl)
            )
            reply.add_auth(RR("example.net", QTYPE.SOA, rdata=soa, ttl=self.negative_ttl))
        return reply

    def count(self, name: str, qtype: str) -> int:
        return self.queries[(name, qtype)]


@contextmanager
def dns_server(zone: Zone) -> Iterator[str]:
    """Serve `zone` on 127.0.0.1 (UDP); yields "127.0.0.1:PORT"."""
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=_Quiet())
    serve = server.server.serve_forever
    thread = threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()
        thread.join()


@contextmanager
def silent_server() -> Iterator[str]:
    """A UDP socket that never answers; yields "127.0.0.1:PORT"."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"
