"""Ro client: one CCR per chargeable SMS over our own Diameter peers, awaited on the loop.

Each configured OCS peer is a `PeerLink` (charging/diameter/connection.py) driving the sans-IO
base protocol of charging/diameter/peer.py: CER/CEA with our identity, the RFC 3539 watchdog,
DPR/DPA, Tc reconnect. ``charge`` encodes the CCR (charging/ccr.py) and sends it to the usable
peer with the best priority and the fewest requests in flight (load sharing among equals); a
loop timer is the Tx timer (RFC 4006 §13). No threads.

Failures (RFC 4006 §5.7, TS 32.299 §6.1.4, RFC 6733 §5.5.4): on Tx expiry, on loss of the
connection the request went out on, or on a 3xxx answer (``Failover``), the same CCR (same
Session-Id and End-to-End id, new hop-by-hop id, T flag) goes once to another usable peer. If
that fails too, or no other peer is usable, ``charging.failure_handling`` decides:
``Unreachable('continue')`` (deliver; the CCR is in the result, kept and sent again later by
the deferred-charging replayer through ``charge_again``) or ``Unreachable('terminate')``
(RP-ERROR with a temporary cause).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from charging.avp import CcaResult, CommandFlag, decode_cca
from charging.ccr import OcsProfile, SmsChargingEvent, SmsNode, build_ccr
from charging.diameter.base import LocalIdentity, session_id_of
from charging.diameter.connection import PeerLink
from charging.diameter.errors import PeerNotOpen
from charging.diameter.peer import DiameterPeer, PeerTimers
from charging.errors import CcaDecodeError, CcrEncodeError, ChargingError, ChargingUnavailable
from charging.results import (
    FAILOVER,
    DeliverFree,
    Failover,
    Proceed,
    Reject,
    deciding_code,
    outcome_of,
)
from smsc import __version__
from smsc.settings import ChargingSettings, SettingsError

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
"""Longest ``stop`` waits for DPAs and for the node's threads."""

SMS_NODES: dict[str, SmsNode] = {
    "ip-sm-gw": SmsNode.IP_SM_GW,
    "sms-sc": SmsNode.SMS_SC,
    "sms-router": SmsNode.SMS_ROUTER,
    "sms-router-and-ip-sm-gw": SmsNode.SMS_ROUTER_AND_IP_SM_GW,
}

Policy = Literal["continue", "terminate"]


def firmware_revision_of(version: str) -> int | None:
    """Firmware-Revision (Unsigned32) from a version: '0.1.0' -> 100 (major*10000 + minor*100
    + patch); None (the AVP is left out) when the version is not three small numbers."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    major, minor, patch = (int(p) for p in parts)
    return major * 10000 + minor * 100 + patch


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No usable answer from any OCS peer: ``charging.failure_handling`` was applied.

    ``continue``: deliver the SMS and record ``ChargeResult.ccr`` to send later.
    ``terminate``: RP-ERROR to the sender with a temporary cause (TS 24.011 cause 41).
    """

    policy_applied: Policy
    reason: str  # "timeout", "peer lost", "no peer", "result 3002", "malformed answer", ...


ChargeOutcome = Proceed | DeliverFree | Reject | Unreachable


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeResult:
    """What one ``charge`` did: the outcome and what to record with the message."""

    outcome: ChargeOutcome
    session_id: str
    result_code: int | None  # the code that decided (results.deciding_code); None: no answer
    granted_units: int | None
    peer: str | None  # configured host of the peer that answered (or was last tried)
    retransmitted: bool  # the deciding attempt was the T-flagged copy on another peer
    latency_s: float
    ccr: bytes | None = None  # Unreachable only: the CCR with the T flag, to send later


LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class ChargingMetrics:
    """Framework-free counters the app exports (e.g. to Prometheus); override ``observe``."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS_S
    result_codes: Counter[int | None] = field(default_factory=Counter)  # None: no answer
    outcomes: Counter[str] = field(default_factory=Counter)
    retransmissions: int = 0
    latency_counts: list[int] = field(default_factory=list)  # per bucket, then +Inf; not cumulative
    latency_sum_s: float = 0.0
    latency_count: int = 0

    def __post_init__(self) -> None:
        if not self.latency_counts:
            self.latency_counts = [0] * (len(self.buckets) + 1)

    def observe(self, result: ChargeResult) -> None:
        """Count one finished charge."""
        self.result_codes[result.result_code] += 1
        outcome = result.outcome
        key = (
            f"unreachable_{outcome.policy_applied}"
            if isinstance(outcome, Unreachable)
            else type(outcome).__name__.lower()
        )
        self.outcomes[key] += 1
        self.retransmissions += result.retransmitted
        latency = result.latency_s
        self.latency_sum_s += latency
        self.latency_count += 1
        self.latency_counts[bisect_left(self.buckets, latency)] += 1  # first bound >= latency


class _NoAnswer(ChargingUnavailable):
    """One attempt got no answer (Tx expiry, connection lost, no usable peer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TX_EXPIRED = "timeout"
_PEER_LOST = "peer lost"
_NO_PEER = "no peer"

DPA_WAIT_S = 2.0
"""Longest ``stop`` waits for each peer's DPA (RFC 6733 §5.4)."""


@dataclass(slots=True)
class _Pending:
    """One CCR copy on the wire, waiting for its CCA."""

    future: asyncio.Future[CcaResult]
    link: PeerLink
    end_to_end: int


@dataclass(frozen=True, slots=True)
class _Attempt:
    peer: str | None
    cca: CcaResult | None = None
    outcome: Proceed | DeliverFree | Reject | Failover = FAILOVER
    failure: str | None = None  # set when there is no answer at all

    @property
    def wants_failover(self) -> bool:
        return isinstance(self.outcome, Failover)


def _profile(settings: ChargingSettings, smsc_address: str) -> OcsProfile:
    """The OCS profile from the settings (the settings model has checked every value)."""
    return OcsProfile(
        smsc_address=smsc_address,
        recipient_nesting="rel8" if settings.recipient_nesting == "rel8" else "rel11",
        sms_node=SMS_NODES[settings.sms_node],
        service_identifier=settings.service_identifier,
        rating_group=settings.rating_group,
    )


_PROBE = SmsChargingEvent(
    charged_msisdn="1", recipient="1", calling_party_address="", called_party_address=""
)


def local_address_towards(address: str, port: int) -> str:
    """The local IP address the kernel would use to reach a peer (Host-IP-Address of the CER)."""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, port))  # no packet: only the route is looked up
            local: str = probe.getsockname()[0]
            return local
    except OSError:
        return "::1" if ":" in address else "127.0.0.1"


def peer_timers(settings: ChargingSettings) -> PeerTimers:
    """Tw with its RFC 3539 jitter (at most a quarter of Tw), Tc."""
    tw = float(settings.watchdog_s)
    return PeerTimers(tw_s=tw, tw_jitter_s=min(2.0, tw / 4), tc_s=float(settings.reconnect_s))


@dataclass(slots=True)
class _Links:
    """The configured peers, in the order of the settings."""

    all: list[PeerLink] = field(default_factory=list)

    def choose(self, avoid: str | None) -> PeerLink | None:
        """The usable peer of best priority with the fewest requests in flight, not the one
        named ``avoid``."""
        best: PeerLink | None = None
        for link in self.all:
            if link.name == avoid or not link.usable:
                continue
            if best is None or (link.priority, link.in_flight) < (best.priority, best.in_flight):
                best = link
        return best


class ChargingClient:
    """Diameter Ro (IEC) client for MO SMS: ``await start()``, ``await charge(event)``, ``stop``."""

    def __init__(
        self,
        settings: ChargingSettings,
        *,
        smsc_address: str,
        metrics: ChargingMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._profile = _profile(settings, smsc_address)
        self._policy: Policy = (
            "terminate" if settings.failure_handling == "terminate" else "continue"
        )
        self._timeout_s = settings.timeout_ms / 1000
        try:
            self._encode(_PROBE, "probe", 0, datetime.now(UTC))
        except CcrEncodeError as exc:
            raise SettingsError(f"charging: {exc}") from exc
        self.metrics = metrics if metrics is not None else ChargingMetrics()
        self._session_prefix = f"{settings.origin_host};{int(time.time()) & 0xFFFFFFFF};"
        self._session_seq = random.getrandbits(32)
        self._end_to_end = (int(time.time()) & 0xFFF) << 20 | random.getrandbits(20)  # §3
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._expiries: deque[tuple[float, tuple[int, int], _Pending]] = deque()
        """Tx deadlines in sending order: one timeout for all, so also in deadline order."""
        self._sweeper: asyncio.TimerHandle | None = None
        """One timer at the earliest deadline instead of one per request."""
        self._links = _Links()
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop it runs on, kept at start (asyncio.get_running_loop() costs a getpid())."""
        self.on_peer_open: Callable[[], None] | None = None
        """Called whenever a peer opens (the deferred-charging replayer's wake-up)."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to every peer; wait (up to one Tx, at least 0.5 s) for their CER/CEAs."""
        if self._links.all:
            raise ChargingError("the charging client was already started")
        settings = self._settings
        firmware = (
            firmware_revision_of(__version__)
            if settings.firmware_revision is None
            else settings.firmware_revision
        )
        state_id = int(time.time()) & 0xFFFFFFFF  # RFC 6733 §8.16: grows with each start
        timers = peer_timers(settings)
        for peer in settings.peers:
            identity = LocalIdentity(
                origin_host=settings.origin_host,
                origin_realm=settings.origin_realm,
                host_ip_addresses=(local_address_towards(peer.address, peer.port),),
                vendor_id=settings.vendor_id,
                product_name=settings.product_name,
                origin_state_id=state_id,
                firmware_revision=firmware,
            )
            link = PeerLink(
                peer.host,
                peer.address,
                peer.port,
                DiameterPeer(identity, timers),
                self,
                priority=peer.priority,
            )
            self._links.all.append(link)
        self._running = True
        self._loop = asyncio.get_running_loop()
        for link in self._links.all:
            link.start()
        loop = self._loop
        deadline = loop.time() + max(self._timeout_s, 0.5)
        while loop.time() < deadline and not all(link.settled for link in self._links.all):
            await asyncio.sleep(0.005)
        if not self.ready_peers():
            log.warning("no OCS peer is ready yet; charging follows %s", self._policy)

    async def stop(self) -> None:
        """DPR to every open peer and close; pending charges fail, new ones are refused."""
        if not self._running:
            return
        self._running = False
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(_NoAnswer("client stopped"))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._expiries.clear()
        await asyncio.gather(*(link.stop(DPA_WAIT_S) for link in self._links.all))

    # --- state -------------------------------------------------------------------------------

    def ready_peers(self) -> list[str]:
        """Configured hosts of the peers that are open (CER/CEA done) and not suspect."""
        return [link.name for link in self._links.all if link.usable]

    @property
    def in_flight(self) -> int:
        """CCR copies waiting for an answer."""
        return len(self._pending)

    def waiting_answers(self) -> dict[str, int]:
        """Requests each peer's state machine still waits an answer for (must not grow)."""
        return {link.name: link.peer.pending for link in self._links.all}

    # --- charging ----------------------------------------------------------------------------

    async def charge(
        self, event: SmsChargingEvent, *, event_time: datetime | None = None
    ) -> ChargeResult:
        """Debit one SMS (CCR EVENT_REQUEST / DIRECT_DEBITING) and say what to do with it.

        Raises CcrEncodeError for an event that cannot be encoded and ChargingUnavailable when
        the client is not running; OCS failures are outcomes (``Unreachable``), not exceptions.
        """
        if not self._running:
            raise ChargingUnavailable("the charging client is not running")
        self._session_seq = (self._session_seq + 1) & 0xFFFFFFFF
        session_id = f"{self._session_prefix}{self._session_seq}"
        self._end_to_end = end_to_end = (self._end_to_end + 1) & 0xFFFFFFFF
        ccr = self._encode(
            event, session_id, end_to_end, datetime.now(UTC) if event_time is None else event_time
        )
        return await self._charge(ccr, session_id)

    async def charge_again(self, ccr: bytes) -> ChargeResult:
        """Send a kept CCR again as it is (T flag, same Session-Id and End-to-End id).

        Raises CcaDecodeError when the bytes are not a CCR with a Session-Id."""
        if not self._running:
            raise ChargingUnavailable("the charging client is not running")
        session_id = session_id_of(ccr)
        if session_id is None:
            raise CcaDecodeError("a kept CCR without a readable Session-Id")
        return await self._charge(_with_t_flag(ccr), session_id.decode("utf-8", "replace"))

    async def _charge(self, ccr: bytes, session_id: str) -> ChargeResult:
        started = time.perf_counter()
        attempt = await self._attempt(ccr, None)
        retransmitted = False
        if attempt.wants_failover and attempt.peer is not None and self._running:
            retry = await self._attempt(_with_t_flag(ccr), attempt.peer)
            if retry.peer is not None:
                attempt, retransmitted = retry, True
        cca = attempt.cca
        code = None if cca is None else deciding_code(cca)
        outcome: ChargeOutcome
        if isinstance(attempt.outcome, Failover):
            outcome = Unreachable(self._policy, attempt.failure or f"result {code}")
        else:
            outcome = attempt.outcome
        result = ChargeResult(
            outcome=outcome,
            session_id=session_id,
            result_code=code,
            granted_units=None if cca is None else cca.granted_units,
            peer=attempt.peer,
            retransmitted=retransmitted,
            latency_s=time.perf_counter() - started,
            ccr=_with_t_flag(ccr) if isinstance(outcome, Unreachable) else None,
        )
        self.metrics.observe(result)
        return result

    def _encode(
        self, event: SmsChargingEvent, session_id: str, end_to_end: int, event_time: datetime
    ) -> bytes:
        """The CCR with hop-by-hop 0 (the peer sets it when sending) and no T flag."""
        settings = self._settings
        return build_ccr(
            event,
            self._profile,
            session_id=session_id,
            hop_by_hop=0,
            end_to_end=end_to_end,
            origin_host=settings.origin_host,
            origin_realm=settings.origin_realm,
            destination_realm=settings.destination_realm,
            event_time=event_time,
        )

    async def _attempt(self, ccr: bytes, avoid: str | None) -> _Attempt:
        """Send one copy and wait for its answer or its failure."""
        link = self._links.choose(avoid)
        if link is None:
            return _Attempt(None, failure=_NO_PEER)
        try:
            hop_by_hop = link.send(ccr)
        except PeerNotOpen:
            return _Attempt(None, failure=_NO_PEER)
        loop = self._loop
        assert loop is not None  # set by start(), before _running
        key = (id(link), hop_by_hop)
        end_to_end = int.from_bytes(ccr[16:20], "big")
        pending = _Pending(loop.create_future(), link, end_to_end)
        self._pending[key] = pending
        deadline = loop.time() + self._timeout_s
        self._expiries.append((deadline, key, pending))
        if self._sweeper is None:
            self._sweeper = loop.call_at(deadline, self._expire)
        link.in_flight += 1
        try:
            cca = await pending.future
        except _NoAnswer as exc:
            return _Attempt(link.name, failure=exc.reason)
        except CcaDecodeError as exc:
            log.warning("malformed CCA from %s: %s", link.name, exc)
            return _Attempt(link.name, failure="malformed answer")
        finally:
            self._forget(key, pending, hop_by_hop)
        return _Attempt(link.name, cca, outcome_of(cca))

    def _forget(self, key: tuple[int, int], pending: _Pending, hop_by_hop: int) -> None:
        if self._pending.get(key) is pending:
            del self._pending[key]
        pending.link.in_flight -= 1
        pending.link.forget(hop_by_hop)

    def _expire(self) -> None:
        """The Tx timer (RFC 4006 §13): every request whose deadline has passed and that is
        still waiting fails; then the timer moves to the next deadline."""
        self._sweeper = None
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        expiries, waiting = self._expiries, self._pending
        while expiries and expiries[0][0] <= now:
            _, key, pending = expiries.popleft()
            if waiting.get(key) is pending and not pending.future.done():
                pending.future.set_exception(_NoAnswer(_TX_EXPIRED))
        if expiries:
            self._sweeper = loop.call_at(expiries[0][0], self._expire)

    # --- LinkOwner: what the peers report ----------------------------------------------------

    def link_opened(self, link: PeerLink) -> None:
        if self.on_peer_open is not None and self._running:
            self.on_peer_open()

    def link_down(self, link: PeerLink, reason: str) -> None:
        """Nothing to do here: requests on it fail through ``link_failed`` or their Tx."""

    def link_answer(self, link: PeerLink, hop_by_hop: int, end_to_end: int, data: bytes) -> None:
        pending = self._pending.get((id(link), hop_by_hop))
        if pending is None or pending.future.done():
            return  # late (after the Tx timer) or duplicate
        if end_to_end != pending.end_to_end:  # RFC 6733 §6.2: answers keep the request's ids
            pending.future.set_exception(CcaDecodeError("End-to-End id of the answer differs"))
            return
        try:
            pending.future.set_result(decode_cca(data))
        except CcaDecodeError as exc:
            pending.future.set_exception(exc)

    def link_failed(self, link: PeerLink, hop_by_hops: tuple[int, ...], reason: str) -> None:
        for hop_by_hop in hop_by_hops:
            pending = self._pending.get((id(link), hop_by_hop))
            if pending is not None and not pending.future.done():
                pending.future.set_exception(_NoAnswer(_PEER_LOST))


def _with_t_flag(ccr: bytes) -> bytes:
    """RFC 6733 §3: the T flag marks a request that may already have been received."""
    return ccr[:4] + bytes((ccr[4] | CommandFlag.RETRANSMITTED,)) + ccr[5:]
