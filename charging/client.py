"""Ro client: one CCR per chargeable SMS through python-diameter's node, awaited from asyncio.

Threads and the loop (see charging/bridge.py): ``charge`` encodes the CCR (charging/ccr.py) on
the event loop, asks the node to route it (``Node.route_request``: peer choice, hop-by-hop id)
and queues it (``Node.send_message``); nothing there blocks. The node's reader thread parses
the answer, clears the node's waiting-answer entries (0.9.0 never does) and puts the result in
an inbox that resolves the request's Future on the loop. A loop timer is the Tx timer
(RFC 4006 §13). There is no executor and no cap on CCRs in flight.

Failures (RFC 4006 §5.7, TS 32.299 §6.1.4): on Tx expiry, on loss of the connection the
request went out on, or on a 3xxx answer (``Failover``), the same CCR (same Session-Id and
End-to-End id, new hop-by-hop id, T flag) goes once to another ready peer. If that fails too,
or no other peer is ready, ``charging.failure_handling`` decides: ``Unreachable('continue')``
(deliver; the CCR is in the result, to be recorded and sent later) or
``Unreachable('terminate')`` (RP-ERROR with a temporary cause).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from diameter.node.application import Application  # type: ignore[import-untyped]
from diameter.node.node import NotRoutable  # type: ignore[import-untyped]

from charging.avp import ApplicationId, CcaResult, CommandFlag
from charging.bridge import (
    PEER_READY_STATES,
    AnswerInbox,
    DiameterNode,
    EncodedRequest,
    cca_result,
    message_id,
)
from charging.ccr import OcsProfile, SmsChargingEvent, SmsNode, build_ccr
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

WAKEUP_INTERVAL_S = 1.0
"""How often the node's select loop checks peer timers (watchdog, reconnect); 0.9.0 uses 6 s."""

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
        index = 0
        for bound in self.buckets:
            if latency <= bound:
                break
            index += 1
        self.latency_counts[index] += 1


class _NoAnswer(ChargingUnavailable):
    """One attempt got no answer (Tx expiry, connection lost, not routable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TX_EXPIRED = "timeout"
_PEER_LOST = "peer lost"
_NO_PEER = "no peer"


@dataclass(slots=True)
class _Pending:
    """One CCR copy on the wire, waiting for its CCA."""

    future: asyncio.Future[CcaResult]
    connection: str  # PeerConnection.ident
    peer: str
    timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True, slots=True)
class _Attempt:
    peer: str | None
    cca: CcaResult | None = None
    outcome: Proceed | DeliverFree | Reject | Failover = FAILOVER
    failure: str | None = None  # set when there is no answer at all

    @property
    def wants_failover(self) -> bool:
        return isinstance(self.outcome, Failover)


class _RoApplication(Application):  # type: ignore[misc]
    """The node's Credit-Control application: answers go to the client, not to waiting threads."""

    def __init__(self, on_answer: Callable[[Any], None]) -> None:
        super().__init__(ApplicationId.DIAMETER_CREDIT_CONTROL, is_auth_application=True)
        self._on_answer = on_answer

    def receive_answer(self, message: Any) -> None:
        """Node reader thread: drop the node's bookkeeping for this request, pass the answer on."""
        header = message.header
        key = message_id(header.hop_by_hop_identifier, header.end_to_end_identifier)
        node = self._node
        node._app_waiting_answer.pop(key, None)  # 0.9.0 keeps one per routed request
        node._origin_waiting_answer.pop(key, None)  # ... and one per received answer
        self._on_answer(message)

    def handle_request(self, message: Any) -> None:
        """An OCS does not send requests on Ro for event charging (no RAR for IEC): ignore."""
        log.warning("ignoring a request from an OCS: %s", message)


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
        self._realm = settings.destination_realm.encode("ascii")
        try:
            self._encode(_PROBE, "probe", 0, datetime.now(UTC))
        except CcrEncodeError as exc:
            raise SettingsError(f"charging: {exc}") from exc
        self.metrics = metrics if metrics is not None else ChargingMetrics()
        self._session_prefix = f"{settings.origin_host};{int(time.time()) & 0xFFFFFFFF};"
        self._session_seq = random.getrandbits(32)
        self._end_to_end = (int(time.time()) & 0xFFF) << 20 | random.getrandbits(20)  # §3
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._in_flight: Counter[str] = Counter()
        self._node: DiameterNode | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: AnswerInbox[tuple[tuple[int, int], CcaResult | ChargingError]] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._running = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the node, connect to every peer; wait (up to one Tx) for the CER/CEAs."""
        if self._node is not None:
            raise ChargingError("the charging client was already started")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._inbox = AnswerInbox(loop, self._deliver)
        settings = self._settings
        node = DiameterNode(
            settings.origin_host,
            settings.origin_realm,
            vendor_ids=[10415],
            on_connection_lost=self._connection_lost_threadsafe,
        )
        node.vendor_id = settings.vendor_id
        node.product_name = settings.product_name
        node.firmware_revision = (
            firmware_revision_of(__version__)
            if settings.firmware_revision is None
            else settings.firmware_revision
        )
        node.wakeup_interval = WAKEUP_INTERVAL_S
        node.idle_timeout = settings.watchdog_s
        node.peer_route_select_func = self._select_peer
        app = _RoApplication(self._answer_threadsafe)
        try:
            peers = [
                node.add_peer(
                    f"aaa://{peer.host}:{peer.port};transport=tcp",
                    settings.destination_realm,
                    ip_addresses=[peer.address],
                    is_persistent=True,
                )
                for peer in settings.peers
            ]
            for peer in peers:
                peer.reconnect_wait = settings.reconnect_s
                peer.always_reconnect = True  # also after the OCS sent DPR (it restarts)
            node.add_application(app, peers)
            node.start()
        except (OSError, ValueError, RuntimeError) as exc:
            await asyncio.get_running_loop().run_in_executor(None, node.shutdown, 1.0)
            raise ChargingUnavailable(f"cannot start the Diameter node: {exc}") from exc
        self._node, self._app = node, app
        self._running = True
        self._maintenance = loop.create_task(self._maintain(), name="charging-maintenance")
        deadline = loop.time() + max(self._timeout_s, 0.5)
        while loop.time() < deadline and not self._all_peers_settled():
            await asyncio.sleep(0.005)
        if not self.ready_peers():
            log.warning("no OCS peer is ready yet; charging follows %s", self._policy)

    async def stop(self) -> None:
        """DPR to every peer, end the node and every thread it started; pending charges fail."""
        node = self._node
        if node is None or not self._running:
            return
        self._running = False
        loop = asyncio.get_running_loop()
        if self._maintenance is not None:
            self._maintenance.cancel()
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.future.set_exception(_NoAnswer("client stopped"))
        node.disconnect_peers()
        deadline = loop.time() + min(STOP_TIMEOUT_S / 2, max(self._timeout_s, 0.2))
        while node.connections and loop.time() < deadline:
            await asyncio.sleep(0.005)
        done: asyncio.Future[bool] = loop.create_future()

        def shutdown() -> None:
            ended = node.shutdown(STOP_TIMEOUT_S)
            loop.call_soon_threadsafe(_set_result, done, ended)

        thread = threading.Thread(target=shutdown, name="charging-stop")
        thread.start()
        if not await done:
            log.warning("some Diameter node threads did not end within %s s", STOP_TIMEOUT_S)
        thread.join()

    # --- state -------------------------------------------------------------------------------

    def ready_peers(self) -> list[str]:
        """Configured hosts of the peers whose connection is open (after CER/CEA)."""
        node = self._node
        if node is None:
            return []
        return [
            name
            for name, peer in node.peers.items()
            if peer.connection is not None and peer.connection.state in PEER_READY_STATES
        ]

    @property
    def in_flight(self) -> int:
        """CCR copies waiting for an answer."""
        return len(self._pending)

    def node_table_sizes(self) -> dict[str, int]:
        """Sizes of the node's per-request tables (they must not grow with traffic)."""
        node = self._node
        if node is None:
            return {}
        return {
            "app_waiting_answer": len(node._app_waiting_answer),
            "origin_waiting_answer": len(node._origin_waiting_answer),
            "peer_waiting_answer": sum(len(v) for v in node._peer_waiting_answer.values()),
        }

    def _all_peers_settled(self) -> bool:
        node = self._node
        assert node is not None
        for peer in node.peers.values():
            conn = peer.connection
            if conn is not None and conn.state not in PEER_READY_STATES:
                return False  # still connecting
            if conn is None and not peer.last_disconnect:
                return False  # not tried yet
        return True

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
        started = time.perf_counter()
        self._session_seq = (self._session_seq + 1) & 0xFFFFFFFF
        session_id = f"{self._session_prefix}{self._session_seq}"
        self._end_to_end = end_to_end = (self._end_to_end + 1) & 0xFFFFFFFF
        ccr = self._encode(
            event, session_id, end_to_end, datetime.now(UTC) if event_time is None else event_time
        )
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
        """The CCR with hop-by-hop 0 (the node assigns it when routing) and no T flag."""
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
        try:
            key, pending = self._send(ccr, avoid)
        except _NoAnswer as exc:
            return _Attempt(None, failure=exc.reason)
        try:
            cca = await pending.future
        except _NoAnswer as exc:
            return _Attempt(pending.peer, failure=exc.reason)
        except CcaDecodeError as exc:
            log.warning("malformed CCA from %s: %s", pending.peer, exc)
            return _Attempt(pending.peer, failure="malformed answer")
        finally:
            self._forget(key, pending)
        return _Attempt(pending.peer, cca, outcome_of(cca))

    def _send(self, ccr: bytes, avoid: str | None) -> tuple[tuple[int, int], _Pending]:
        """Route (the node picks the peer and hop-by-hop id) and queue one copy; never blocks."""
        node, loop = self._node, self._loop
        assert node is not None and loop is not None
        request = EncodedRequest(ccr, self._realm, avoid)
        try:
            conn, _ = node.route_request(self._app, request)
        except NotRoutable as exc:
            raise _NoAnswer(_NO_PEER) from exc
        hop_by_hop = request.header.hop_by_hop_identifier
        end_to_end = request.header.end_to_end_identifier
        peer = conn.node_name
        if peer == avoid:  # the only ready peer is the one that just failed
            node._app_waiting_answer.pop(message_id(hop_by_hop, end_to_end), None)
            raise _NoAnswer(_NO_PEER)
        request.set_hop_by_hop(hop_by_hop)
        key = (hop_by_hop, end_to_end)
        pending = _Pending(loop.create_future(), conn.ident, peer)
        pending.timer = loop.call_later(self._timeout_s, self._expire, key)
        self._pending[key] = pending
        self._in_flight[peer] += 1
        node.send_message(conn, request)
        return key, pending

    def _forget(self, key: tuple[int, int], pending: _Pending) -> None:
        if self._pending.get(key) is pending:
            del self._pending[key]
        if pending.timer is not None:
            pending.timer.cancel()
        self._in_flight[pending.peer] -= 1
        future = pending.future
        answered = future.done() and not future.cancelled() and future.exception() is None
        if not answered and self._node is not None:  # the reader thread did not clear it
            self._node._app_waiting_answer.pop(message_id(*key), None)

    def _select_peer(self, node: Any, app: Any, message: Any, peers: list[Any]) -> Any:
        """Node callback (our loop, in route_request): least in flight, skipping ``avoid``."""
        avoid = getattr(message, "avoid", None)
        candidates = [p for p in peers if p.node_name != avoid] or peers
        in_flight = self._in_flight
        return min(candidates, key=lambda p: in_flight[p.node_name])

    # --- callbacks from the node's threads ---------------------------------------------------

    def _answer_threadsafe(self, message: Any) -> None:
        """Reader thread: read the CCA here (not on the loop) and post it to the loop."""
        header = message.header
        key = (header.hop_by_hop_identifier, header.end_to_end_identifier)
        item: CcaResult | ChargingError
        try:
            item = cca_result(message)
        except CcaDecodeError as exc:
            item = exc
        except Exception as exc:  # python-diameter raised while reading its own message
            item = CcaDecodeError(f"unreadable CCA: {exc!r}")
        inbox = self._inbox
        if inbox is not None:
            inbox.put((key, item))

    def _connection_lost_threadsafe(self, connection: str) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._connection_lost, connection)

    # --- on the loop -------------------------------------------------------------------------

    def _deliver(self, item: tuple[tuple[int, int], CcaResult | ChargingError]) -> None:
        key, value = item
        pending = self._pending.get(key)
        if pending is None or pending.future.done():
            return  # late (after the Tx timer) or duplicate
        if isinstance(value, CcaResult):
            pending.future.set_result(value)
        else:
            pending.future.set_exception(value)

    def _expire(self, key: tuple[int, int]) -> None:
        pending = self._pending.get(key)
        if pending is not None and not pending.future.done():
            pending.future.set_exception(_NoAnswer(_TX_EXPIRED))

    def _connection_lost(self, connection: str) -> None:
        for pending in list(self._pending.values()):
            if pending.connection == connection and not pending.future.done():
                pending.future.set_exception(_NoAnswer(_PEER_LOST))

    async def _maintain(self) -> None:
        """Every wake-up: drop node entries for answers nobody waited for (late, or CEA/DWA)."""
        node = self._node
        assert node is not None
        while True:
            await asyncio.sleep(WAKEUP_INTERVAL_S)
            horizon = time.time() - max(60.0, 2 * self._timeout_s)
            table = node._origin_waiting_answer
            for key, (_, received) in list(table.items()):
                if received < horizon:
                    table.pop(key, None)


def _with_t_flag(ccr: bytes) -> bytes:
    """RFC 6733 §3: the T flag marks a request that may already have been received."""
    return ccr[:4] + bytes((ccr[4] | CommandFlag.RETRANSMITTED,)) + ccr[5:]


def _set_result(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
