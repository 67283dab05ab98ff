"""DNS for next hops (RFC 3263 §4.2) on dnspython's asyncio resolver, cached by TTL.

A cached name answers without I/O, so the MT path awaits DNS only when an answer runs out;
concurrent lookups of one name share one query; failures are NextHopUnresolved, cached briefly
(RFC 2308). A refresh that times out or finds no server answering serves the expired answer
for a while longer (RFC 8767), so a DNS outage does not stop delivery to known S-CSCFs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV

from smsc.settings_fields import split_host_port
from smsc.sip.locate import NextHopUnresolved, SrvRecord, Unresolved

log = logging.getLogger("smsc.dns")

LOOKUP_TIMEOUT_S = 2.0
"""A query gets no answer within this: a dead name server cannot stall the MT loop longer."""
NEGATIVE_TTL_S = 5.0
"""Failures are remembered at most this long (less when the zone's SOA says so, RFC 2308)."""
MIN_TTL_S = 1.0
"""Answers are kept at least this long: a TTL of 0 must not mean one query per message."""
STALE_TTL_S = 30.0
"""RFC 8767 §4: an expired answer served because its refresh failed is used this long."""
MAX_STALE_S = 86400.0
"""RFC 8767 §5: an answer is not served more than this long after it expired."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    """One cached answer (records) or failure (reason), valid until `until` (clock time)."""

    records: tuple[T, ...]
    reason: Unresolved | None
    until: float
    stale_until: float
    """Until when the records may still be served if a refresh fails (RFC 8767)."""


class _Table(Generic[T]):
    """Answers of one record type by name, and the queries under way."""

    def __init__(
        self, rdtype: dns.rdatatype.RdataType, convert: Callable[[dns.rdata.Rdata], T]
    ) -> None:
        self.rdtype = rdtype
        self.convert = convert
        self.entries: dict[str, _Entry[T]] = {}
        self.queries: dict[str, asyncio.Task[_Entry[T]]] = {}


def _address(rdata: dns.rdata.Rdata) -> str:
    assert isinstance(rdata, A | AAAA)
    return str(rdata.address)


def _srv(rdata: dns.rdata.Rdata) -> SrvRecord:
    assert isinstance(rdata, SRV)
    target = rdata.target
    name = "." if target == dns.name.root else target.to_text(omit_final_dot=True).lower()
    return SrvRecord(rdata.priority, rdata.weight, rdata.port, name)


def _nameservers(servers: Sequence[str]) -> list[str | dns.nameserver.Nameserver]:
    """`sip.dns_servers` entries ("HOST:PORT") as dnspython name servers."""
    result: list[str | dns.nameserver.Nameserver] = []
    for server in servers:
        host, port = split_host_port(server)
        result.append(dns.nameserver.Do53Nameserver(host, port))
    return result


class DnsResolver:
    """A, AAAA and SRV lookups for next hops; `servers` are "HOST:PORT", () = the system's."""

    def __init__(
        self,
        servers: Sequence[str] = (),
        *,
        timeout: float = LOOKUP_TIMEOUT_S,
        negative_ttl: float = NEGATIVE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.negative_ttl = negative_ttl
        self.clock = clock
        self.queries = 0
        """DNS queries sent (cache misses)."""
        self._resolver: dns.asyncresolver.Resolver | None
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=not servers)
        except dns.resolver.NoResolverConfiguration:
            log.warning("no name servers in /etc/resolv.conf: next hops must be IP addresses")
            self._resolver = None
        else:
            if servers:
                self._resolver.nameservers = _nameservers(servers)
            self._resolver.timeout = timeout
            self._resolver.lifetime = timeout
        self._a = _Table(dns.rdatatype.A, _address)
        self._aaaa = _Table(dns.rdatatype.AAAA, _address)
        self._srv = _Table(dns.rdatatype.SRV, _srv)

    async def srv(self, name: str) -> tuple[SrvRecord, ...]:
        """RFC 2782 records of `name` (such as _sip._udp.example.net), as served."""
        entry = await self._lookup(self._srv, name)
        if entry.reason is not None:
            raise NextHopUnresolved(name, entry.reason)
        return entry.records

    async def addresses(self, name: str) -> tuple[str, ...]:
        """The A then the AAAA addresses of `name` (RFC 3263 §4.2)."""
        now = self.clock()
        cached_a = self._cached(self._a, name, now)
        cached_aaaa = self._cached(self._aaaa, name, now)
        if cached_a is not None and cached_aaaa is not None:
            a, aaaa = cached_a, cached_aaaa
        else:
            a, aaaa = await asyncio.gather(
                self._lookup(self._a, name) if cached_a is None else _done(cached_a),
                self._lookup(self._aaaa, name) if cached_aaaa is None else _done(cached_aaaa),
            )
        if a.records or aaaa.records:
            return a.records + aaaa.records
        reason = a.reason if a.reason is not Unresolved.NO_ANSWER else aaaa.reason
        raise NextHopUnresolved(name, reason or Unresolved.NO_ANSWER)

    @staticmethod
    def _cached(table: _Table[T], name: str, now: float) -> _Entry[T] | None:
        entry = table.entries.get(name)
        return entry if entry is not None and entry.until > now else None

    async def _lookup(self, table: _Table[T], name: str) -> _Entry[T]:
        """The cached entry, or one query shared by every caller asking meanwhile."""
        entry = self._cached(table, name, self.clock())
        if entry is not None:
            return entry
        query = table.queries.get(name)
        if query is None:
            query = asyncio.get_running_loop().create_task(self._query(table, name))
            table.queries[name] = query
            query.add_done_callback(lambda _: table.queries.pop(name, None))
        return await asyncio.shield(query)  # one caller cancelled: the others still get it

    async def _query(self, table: _Table[T], name: str) -> _Entry[T]:
        """Ask the name servers; the answer or failure goes into the cache."""
        if self._resolver is None:
            return self._failed(table, name, Unresolved.NO_NAMESERVERS, self.negative_ttl)
        self.queries += 1
        try:
            answer = await self._resolver.resolve(
                dns.name.from_text(name),
                table.rdtype,
                lifetime=self.timeout,
                raise_on_no_answer=False,
            )
        except dns.resolver.NXDOMAIN as exc:
            return self._failed(table, name, Unresolved.NXDOMAIN, self._negative_ttl(exc))
        except dns.resolver.NoNameservers:
            return self._failed(table, name, Unresolved.SERVER_FAILURE, self.negative_ttl)
        except dns.exception.Timeout:
            return self._failed(table, name, Unresolved.TIMEOUT, self.negative_ttl)
        except dns.exception.DNSException as exc:  # YXDOMAIN, a malformed name or answer
            log.debug("DNS %s %s: %s", dns.rdatatype.to_text(table.rdtype), name, exc)
            return self._failed(table, name, Unresolved.SERVER_FAILURE, self.negative_ttl)
        ttl = float(answer.chaining_result.minimum_ttl)
        if answer.rrset is None:
            ttl = min(ttl, self.negative_ttl)
            return self._failed(table, name, Unresolved.NO_ANSWER, ttl)
        records = tuple(table.convert(rdata) for rdata in answer.rrset)
        now = self.clock()
        until = now + max(ttl, MIN_TTL_S)
        entry = _Entry(records, None, until, until + MAX_STALE_S)
        table.entries[name] = entry
        return entry

    def _failed(self, table: _Table[T], name: str, reason: Unresolved, ttl: float) -> _Entry[T]:
        """Cache a failure; a transient one keeps an expired answer in use (RFC 8767)."""
        now = self.clock()
        old = table.entries.get(name)
        transient = reason in (Unresolved.TIMEOUT, Unresolved.SERVER_FAILURE)
        if transient and old is not None and old.records and old.stale_until > now:
            log.warning(
                "DNS %s %s: %s; using the expired answer",
                dns.rdatatype.to_text(table.rdtype),
                name,
                reason,
            )
            entry = _Entry(old.records, None, now + STALE_TTL_S, old.stale_until)
        else:
            if transient or (table.rdtype == dns.rdatatype.A and reason is Unresolved.NXDOMAIN):
                log.warning("DNS %s %s: %s", dns.rdatatype.to_text(table.rdtype), name, reason)
            until = now + max(min(ttl, self.negative_ttl), MIN_TTL_S)
            entry = _Entry((), reason, until, until)
        table.entries[name] = entry
        return entry

    def _negative_ttl(self, exc: dns.resolver.NXDOMAIN) -> float:
        """RFC 2308 §5: the SOA's TTL and MINIMUM bound how long NXDOMAIN is kept."""
        ttl = self.negative_ttl
        for response in exc.kwargs.get("responses", {}).values():
            if isinstance(response, dns.message.QueryMessage):
                try:
                    ttl = min(ttl, float(response.resolve_chaining().minimum_ttl))
                except dns.exception.DNSException:
                    continue
        return ttl


async def _done(entry: _Entry[T]) -> _Entry[T]:
    return entry
