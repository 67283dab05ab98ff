"""Sans-IO RFC 3263 §4.1-4.2 server location: what to look up for a next-hop URI, and the
RFC 2782 order of SRV records. The DNS queries themselves are made by the caller."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from smsc.errors import SmscError
from smsc.sip.constants import DEFAULT_PORT, DEFAULT_TLS_PORT, Address, Transport
from smsc.sip.headers import SipUri


class Unresolved(StrEnum):
    """Why a next-hop name gave no target."""

    NXDOMAIN = "NXDOMAIN"
    NO_ANSWER = "no answer"
    TIMEOUT = "timeout"
    SERVER_FAILURE = "no name server answered"
    NO_NAMESERVERS = "no name servers"
    NOT_AVAILABLE = "service not available"
    UNUSABLE_URI = "not a usable SIP URI"


class NextHopUnresolved(SmscError):  # noqa: N818 (a temporary outcome, not a fault)
    """A next hop whose name gives no target now (RFC 3263 §4; a temporary failure)."""

    def __init__(self, name: str, reason: Unresolved) -> None:
        super().__init__(f"{reason} {name}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    """RFC 3263 §4: one IP address, port and transport to send a request to."""

    host: str
    port: int
    transport: Transport

    @property
    def address(self) -> Address:
        return (self.host, self.port)


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """RFC 2782 SRV RDATA; `target` "." means the service is not available there."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class Direct:
    """RFC 3263 §4.2: the host is a numeric IP address (or localhost, RFC 6761 §6.3): no lookup."""

    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class AddressLookup:
    """RFC 3263 §4.2: a port is given, so A/AAAA records of `name` on that port."""

    name: str
    port: int
    transport: Transport


@dataclass(frozen=True, slots=True)
class SrvLookup:
    """RFC 3263 §4.2: SRV records of `service`; none found: A/AAAA of `name` on `fallback_port`."""

    service: str
    name: str
    transport: Transport
    fallback_port: int


Plan = Direct | AddressLookup | SrvLookup

_TRANSPORTS = {"udp": Transport.UDP, "tcp": Transport.TCP, "tls": Transport.TCP}
"""RFC 3263 §4.1 transport parameter values this SMSC can send over (TLS rides on TCP)."""


def plan(uri: SipUri) -> Plan:
    """RFC 3263 §4.1 (transport) and §4.2 (port and address): what to look up for `uri`."""
    if uri.scheme not in ("sip", "sips") or not uri.host:
        raise NextHopUnresolved(uri.raw, Unresolved.UNUSABLE_URI)
    secure = uri.scheme == "sips" or uri.transport == "tls"
    if uri.transport is None:
        transport = Transport.TCP if secure else Transport.UDP  # §4.1, no NAPTR
    elif uri.transport in _TRANSPORTS:
        transport = _TRANSPORTS[uri.transport]
    else:
        raise NextHopUnresolved(uri.raw, Unresolved.UNUSABLE_URI)
    if secure and transport is Transport.UDP:  # RFC 3261 §26.2.2: SIPS is TLS over TCP
        raise NextHopUnresolved(uri.raw, Unresolved.UNUSABLE_URI)
    host = uri.host.strip("[]").lower()
    default_port = DEFAULT_TLS_PORT if secure else DEFAULT_PORT
    if _is_ip(host):
        return Direct((Target(host, uri.port or default_port, transport),))
    if host == "localhost" or host.endswith(".localhost"):
        return Direct((Target("127.0.0.1", uri.port or default_port, transport),))
    if uri.port is not None:
        return AddressLookup(host, uri.port, transport)
    prefix = "_sips._tcp" if secure else f"_sip._{transport.value.lower()}"
    return SrvLookup(f"{prefix}.{host}", host, transport, default_port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def order_srv(records: Sequence[SrvRecord], rng: random.Random) -> list[SrvRecord]:
    """RFC 2782: ascending priority; within one, a weighted random order (weight 0: seldom first).

    Records whose target is "." are left out: none left means the service is not available.
    """
    usable = [r for r in records if r.target != "."]
    ordered: list[SrvRecord] = []
    for priority in sorted({r.priority for r in usable}):
        # zero weights first, so a draw of 0 picks one of them (the RFC's "small chance")
        left = sorted((r for r in usable if r.priority == priority), key=lambda r: r.weight > 0)
        while left:
            total = sum(r.weight for r in left)
            if total == 0:
                index = rng.randrange(len(left))
            else:
                draw = rng.randint(0, total)
                index = 0
                running = left[0].weight
                while running < draw:
                    index += 1
                    running += left[index].weight
            ordered.append(left.pop(index))
    return ordered
