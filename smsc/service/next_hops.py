"""Next hops by name (RFC 3263 §4): the targets of an S-CSCF or next-hop URI, in the order to
try them, with targets that failed lately tried last (§4.3)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from smsc.sip.constants import Transport
from smsc.sip.errors import SipParseError
from smsc.sip.headers import parse_uri
from smsc.sip.locate import (
    AddressLookup,
    Direct,
    NextHopUnresolved,
    Plan,
    SrvLookup,
    SrvRecord,
    Target,
    Unresolved,
    order_srv,
    plan,
)

_MAX_PLANS = 1024
"""Parsed URIs kept: a few S-CSCF URIs serve every subscriber."""
_MAX_DOWN = 4096


class Resolver(Protocol):
    """DNS lookups (implemented by smsc/transport/dns.py); failures are NextHopUnresolved."""

    async def srv(self, name: str) -> tuple[SrvRecord, ...]:
        """RFC 2782 records of a service name such as _sip._udp.example.net."""
        ...

    async def addresses(self, name: str) -> tuple[str, ...]:
        """The A then AAAA addresses of a host name."""
        ...


class NextHops:
    """RFC 3263 §4: `targets(uri)` in SRV order, those failed within `failover_s` moved last.

    An IP-literal URI costs a dict lookup; a host name is answered from the resolver's cache
    while its TTL lasts, and SRV weights are drawn again on every call (load sharing).
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        failover_s: float = 30.0,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.resolver = resolver
        self.failover_s = failover_s
        self.clock = clock
        self.rng = rng or random.Random()
        self._plans: dict[str, Plan] = {}
        self._down: dict[Target, float] = {}
        """Targets that failed, and until when (clock time) they are tried last."""

    async def targets(self, uri: str) -> tuple[Target, ...]:
        """Where to send a request for `uri`, best first; NextHopUnresolved when nowhere."""
        found = self._plans.get(uri)
        if found is None:
            found = self._plan(uri)
        if isinstance(found, Direct):
            targets = found.targets
        elif isinstance(found, AddressLookup):
            targets = await self._addresses(found.name, found.port, found.transport)
        else:
            targets = await self._srv(found)
        return self._reorder(targets) if self._down else targets

    def failed(self, target: Target, now: float) -> None:
        """RFC 3263 §4.3: `target` gave 503, a timeout or a transport error: try it last."""
        down = self._down
        if len(down) >= _MAX_DOWN:
            for stale in [t for t, until in down.items() if until <= now]:
                del down[stale]
        if len(down) < _MAX_DOWN:
            down[target] = now + self.failover_s

    def _plan(self, uri: str) -> Plan:
        try:
            found = plan(parse_uri(uri))
        except SipParseError:
            raise NextHopUnresolved(uri, Unresolved.UNUSABLE_URI) from None
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        self._plans[uri] = found
        return found

    async def _addresses(self, name: str, port: int, transport: Transport) -> tuple[Target, ...]:
        """§4.2: A/AAAA of `name`, each address one target on `port`."""
        return tuple(Target(a, port, transport) for a in await self.resolver.addresses(name))

    async def _srv(self, lookup: SrvLookup) -> tuple[Target, ...]:
        """§4.2: SRV records in RFC 2782 order, then their addresses; no records: A/AAAA."""
        try:
            records = await self.resolver.srv(lookup.service)
        except NextHopUnresolved as exc:
            if exc.reason not in (Unresolved.NXDOMAIN, Unresolved.NO_ANSWER):
                raise NextHopUnresolved(lookup.name, exc.reason) from None
            return await self._addresses(lookup.name, lookup.fallback_port, lookup.transport)
        ordered = order_srv(records, self.rng)
        if not ordered:
            raise NextHopUnresolved(lookup.service, Unresolved.NOT_AVAILABLE)
        targets: list[Target] = []
        failure: NextHopUnresolved | None = None
        for record in ordered:
            try:
                addresses = await self.resolver.addresses(record.target)
            except NextHopUnresolved as exc:
                failure = exc  # that host is gone: the others may still serve
                continue
            for address in addresses:
                target = Target(address, record.port, lookup.transport)
                if target not in targets:
                    targets.append(target)
        if not targets:
            assert failure is not None
            raise NextHopUnresolved(failure.name, failure.reason)
        return tuple(targets)

    def _reorder(self, targets: tuple[Target, ...]) -> tuple[Target, ...]:
        """§4.3: targets that failed lately go last, the one failed longest ago first."""
        now = self.clock()
        down = self._down
        usable: list[Target] = []
        failed: list[tuple[float, int, Target]] = []
        for index, target in enumerate(targets):
            until = down.get(target)
            if until is None:
                usable.append(target)
            elif until <= now:
                del down[target]
                usable.append(target)
            else:
                failed.append((until, index, target))
        if not failed:
            return targets
        failed.sort()
        return (*usable, *(target for _, _, target in failed))
