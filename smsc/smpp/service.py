"""The SMPP 3.4 server (`smpp.listen`): ESMEs bind with their accounts, submit MT SMS, query
them, and get delivery receipts and the MO routed to them as deliver_sm.

Submitted SMS are stored like the HTTP API's (submit_sm_resp once committed; its message_id is
the API's message id). Receipts and MO for an ESME are outbox jobs (durable, across restarts):
this service claims those of the accounts that have a receiver bound, sends each as a
deliver_sm and records it delivered on a deliver_sm_resp with ESME_ROK; anything else is
retried with backoff until the job's time runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from smsc.api.metrics import CachedCounter
from smsc.outbox.jobs import SMPP_KINDS, OutboxKind, StoredOutboxJob
from smsc.redact import subscriber
from smsc.routing.numbering import DiallingPlan
from smsc.service.mo import AddsWithoutTask
from smsc.service.model import (
    DEFAULT_VALIDITY,
    MessageState,
    NewMessage,
    StoredMessage,
    first_failed,
)
from smsc.service.ports import MessageStore, MtDelivery, OutboxStore
from smsc.service.reports import submission_outcome
from smsc.settings import OutboxSettings, SmppAccount, SmppSettings
from smsc.settings_fields import split_host_port
from smsc.smpp.accounts import Accounts, BindRefused, RateLimiter, bind_type_of
from smsc.smpp.amendments import PendingAmendments, submitted_by
from smsc.smpp.codec import decode, error_response
from smsc.smpp.connection import SmppConnection
from smsc.smpp.constants import CommandStatus
from smsc.smpp.constants import MessageState as SmppMessageState
from smsc.smpp.errors import PduError
from smsc.smpp.events import Closed, OutboundRequest, Rejected, RequestReceived, ResponseReceived
from smsc.smpp.pdu import (
    Bind,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from smsc.smpp.session import SessionTimers
from smsc.smpp.submit import (
    SubmitPolicy,
    SubmitRefused,
    messages_from_submit,
)
from smsc.smpp.times import format_time
from smsc.store.errors import StoreError

__all__ = ["SmppMetrics", "SmppService"]

log = logging.getLogger("smsc.smpp")


SMSC_SYSTEM_ID = "smsc"
"""The system_id of our bind responses (SMPP 3.4 §4.1.2)."""

_QUERY_STATE = {
    MessageState.SCHEDULED: SmppMessageState.ENROUTE,
    MessageState.QUEUED: SmppMessageState.ENROUTE,
    MessageState.DELIVERING: SmppMessageState.ENROUTE,
    MessageState.DELIVERED: SmppMessageState.DELIVERED,
    MessageState.EXPIRED: SmppMessageState.EXPIRED,
    MessageState.FAILED: SmppMessageState.UNDELIVERABLE,
    MessageState.CANCELLED: SmppMessageState.DELETED,
}
"""SMPP 3.4 §5.2.28 message_state of a stored message's state."""


class SmppMetrics:
    """smsc_smpp_*, by account (system_id)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.binds = CachedCounter(
            "smsc_smpp_binds",
            "SMPP binds by account, bind type and outcome (ok or the refusing command_status)",
            ["account", "bind", "outcome"],
            registry=r,
        )
        self.submits = CachedCounter(
            "smsc_smpp_submits",
            "submit_sm and data_sm answered, by account and command_status (0 = accepted)",
            ["account", "status"],
            registry=r,
        )
        self.throttled = CachedCounter(
            "smsc_smpp_throttled",
            "submit_sm and data_sm refused with ESME_RTHROTTLED (max_rate), by account",
            ["account"],
            registry=r,
        )
        self.delivered = CachedCounter(
            "smsc_smpp_deliver_sm",
            "deliver_sm sent to ESMEs (receipts and MO), by account, kind and outcome "
            "(ok, error, timeout, closed)",
            ["account", "kind", "outcome"],
            registry=r,
        )
        self.rejected = CachedCounter(
            "smsc_smpp_rejected",
            "PDUs the SMPP session answered with an error itself (malformed, wrong bind "
            "state, window full), by command_status",
            ["status"],
            registry=r,
        )
        self.cancels = CachedCounter(
            "smsc_smpp_cancels",
            "cancel_sm by account and outcome (ok: something pending was cancelled; refused)",
            ["account", "outcome"],
            registry=r,
        )
        self.replaces = CachedCounter(
            "smsc_smpp_replaces",
            "replace_sm by account and outcome (ok: a pending SMS got the new content; refused)",
            ["account", "outcome"],
            registry=r,
        )
        self.sessions = Gauge(
            "smsc_smpp_sessions", "SMPP sessions bound now, by account", ["account"], registry=r
        )
        self.window = Gauge(
            "smsc_smpp_window_in_use",
            "Requests awaiting an answer in SMPP sessions (in: the ESME's, out: ours), by account",
            ["account", "direction"],
            registry=r,
        )


@dataclass(slots=True)
class _AccountState:
    account: SmppAccount
    limiter: RateLimiter
    policy: SubmitPolicy


@dataclass(frozen=True, slots=True)
class _Submit:
    """A submit_sm or data_sm being answered."""

    connection: SmppConnection
    event: RequestReceived
    pdu: SubmitSm | DataSm
    name: str
    """The account (system_id)."""


@dataclass(frozen=True, slots=True)
class _Sent:
    job: StoredOutboxJob
    connection: SmppConnection


class SmppService:
    """The SMPP listeners, their sessions, and the deliveries to ESMEs."""

    def __init__(
        self,
        settings: SmppSettings,
        *,
        store: MessageStore,
        plan: DiallingPlan,
        metrics: SmppMetrics,
        delivery: MtDelivery,
        outbox: OutboxStore | None = None,
        outbox_settings: OutboxSettings | None = None,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.store = store
        self.plan = plan
        self.metrics = metrics
        self.delivery = delivery
        self.amendments = PendingAmendments(store, plan, delivery)
        self.outbox = outbox
        retry = outbox_settings or OutboxSettings()
        self._retry_initial_s = retry.retry_initial_ms / 1000
        self._retry_max_s = retry.retry_max_ms / 1000
        self._poll_interval_s = poll_interval_s
        self.accounts = Accounts(settings.accounts)
        self._state = {
            account.system_id: _AccountState(
                account,
                RateLimiter(account.max_rate),
                SubmitPolicy(
                    system_id=account.system_id,
                    allowed_sources=account.allowed_sources,
                    default_validity=DEFAULT_VALIDITY
                    if account.default_validity_s is None
                    else timedelta(seconds=account.default_validity_s),
                    default_priority=account.default_priority,
                ),
            )
            for account in settings.accounts
        }
        self.timers = SessionTimers(
            session_init_s=settings.session_init_s,
            enquire_link_s=settings.enquire_link_s,
            inactivity_s=settings.inactivity_s,
            response_s=settings.response_s,
        )
        self._connections: dict[int, SmppConnection] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sent: dict[tuple[int, int], _Sent] = {}
        self._wake = asyncio.Event()
        self._add_soon = store.add_soon if isinstance(store, AddsWithoutTask) else None
        """Found once: a runtime Protocol check costs 2% of a submit's loop time."""
        self._deliverer: asyncio.Task[None] | None = None
        self._running = False
        self.addresses: list[tuple[str, int]] = []
        """Where the listeners are bound (the real port when 0 was asked)."""

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on every `smpp.listen` (and `tls_listen`) address; start delivering."""
        loop = asyncio.get_running_loop()
        self._running = True
        context = self._tls_context()
        plain = [(address, None) for address in self.settings.listen]
        secure = [(address, context) for address in self.settings.tls_listen]
        for address, tls in plain + secure:
            host, port = split_host_port(address)
            server = await loop.create_server(
                lambda: SmppConnection(self, self.timers, window=1), host, port, ssl=tls
            )
            self._servers.append(server)
            for sock in server.sockets:
                name = sock.getsockname()
                self.addresses.append((str(name[0]), int(name[1])))
                log.info("SMPP listening on %s:%d%s", name[0], name[1], " (TLS)" if tls else "")
        if self.outbox is not None:
            self._deliverer = loop.create_task(self._deliver_loop(), name="smpp-deliveries")

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop listening, unbind every session (up to `grace_s` for their unbind_resp)."""
        if not self._running:
            return
        self._running = False
        self._wake.set()
        for server in self._servers:
            server.close()
        for connection in list(self._connections.values()):
            connection.unbind()
        deadline = time.monotonic() + grace_s
        while self._connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self._connections.values()):
            connection.close("the SMSC stopped")
        if self._deliverer is not None:
            self._deliverer.cancel()
            await asyncio.gather(self._deliverer, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    def _tls_context(self) -> ssl.SSLContext | None:
        settings = self.settings
        if not settings.tls_listen:
            return None
        assert settings.tls_cert_file is not None and settings.tls_key_file is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
        return context

    @property
    def running(self) -> bool:
        """Started and not stopping."""
        return self._running

    # --- the operator's view -------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        """GET /api/v1/smpp/sessions: every connection, bound or not."""
        views = []
        for connection in self._connections.values():
            session = connection.session
            views.append(
                {
                    "id": connection.number,
                    "system_id": connection.system_id,
                    "bind": connection.bind_type,
                    "state": connection.state.value,
                    "peer": f"{connection.peer[0]}:{connection.peer[1]}",
                    "opened_at": _iso(connection.opened_at),
                    "bound_at": _iso(connection.bound_at),
                    "window": None if session is None else session.window,
                    "in_flight_in": 0 if session is None else session.inbound_pending,
                    "in_flight_out": 0 if session is None else session.outbound_pending,
                }
            )
        return views

    def refresh_gauges(self) -> None:
        """smsc_smpp_sessions and smsc_smpp_window_in_use, from the sessions now."""
        bound: dict[str, int] = dict.fromkeys(self.accounts.names, 0)
        inbound: dict[str, int] = dict.fromkeys(self.accounts.names, 0)
        outbound: dict[str, int] = dict.fromkeys(self.accounts.names, 0)
        for connection in self._connections.values():
            session, name = connection.session, connection.system_id
            if session is None or name is None:
                continue
            bound[name] += 1
            inbound[name] += session.inbound_pending
            outbound[name] += session.outbound_pending
        for name in self.accounts.names:
            self.metrics.sessions.labels(name).set(bound[name])
            self.metrics.window.labels(name, "in").set(inbound[name])
            self.metrics.window.labels(name, "out").set(outbound[name])

    # --- ConnectionOwner -----------------------------------------------------------------------

    def opened(self, connection: SmppConnection) -> bool:
        if not self._running:
            return False
        self._connections[connection.number] = connection
        log.debug("SMPP connection %d from %s:%d", connection.number, *connection.peer)
        return True

    def bind(self, connection: SmppConnection, bind: Bind) -> None:
        kind = bind_type_of(bind)
        try:
            account = self.accounts.authenticate(bind, connection.peer[0])
            bound = sum(1 for c in self._connections.values() if c.system_id == account.system_id)
            if bound >= account.max_sessions:
                raise BindRefused(
                    CommandStatus.ESME_RBINDFAIL, f"{bound} sessions bound already (max_sessions)"
                )
        except BindRefused as refused:
            connection.reject_bind(bind, refused.command_status)
            label = bind.system_id if bind.system_id in self.accounts else "unknown"
            self.metrics.binds.labels(label, kind, f"{refused.command_status:#x}").inc()
            log.warning(
                "SMPP bind %s as %r from %s refused: %s",
                kind,
                bind.system_id,
                connection.peer[0],
                refused.reason,
            )
            return
        connection.accept_bind(bind, SMSC_SYSTEM_ID, window=account.window, bind_type=kind)
        self.metrics.binds.labels(account.system_id, kind, "ok").inc()
        log.info("SMPP %s bound %s from %s:%d", account.system_id, kind, *connection.peer)
        if kind != "tx":
            self._wake.set()

    def request(self, connection: SmppConnection, event: RequestReceived) -> None:
        pdu = event.pdu
        state = self._state.get(connection.system_id or "")
        if state is None:  # cannot happen: only bound sessions get requests
            connection.respond(
                event,
                error_response(pdu.command_id, CommandStatus.ESME_RINVBNDSTS, pdu.sequence_number),
            )
            return
        if isinstance(pdu, SubmitSm | DataSm):
            self._submit(connection, event, pdu, state)
        elif isinstance(pdu, QuerySm):
            self._spawn(self._query(connection, event, pdu, state.account.system_id))
        elif isinstance(pdu, CancelSm):
            self._spawn(self._cancel(connection, event, pdu, state.account.system_id))
        elif isinstance(pdu, ReplaceSm):
            self._spawn(self._replace(connection, event, pdu, state))
        else:
            connection.respond(event, SubmitMultiResp(command_status=CommandStatus.ESME_RINVCMDID))

    def response(self, connection: SmppConnection, event: ResponseReceived) -> None:
        sent = self._sent.pop((connection.number, event.request.sequence_number), None)
        if sent is None:
            return  # an enquire_link of the session's own, or already given up
        status = event.response.command_status
        self._settle(sent, ok=status == CommandStatus.ESME_ROK, error=f"status {status:#x}")

    def timeout(self, connection: SmppConnection, request: OutboundRequest) -> None:
        sent = self._sent.pop((connection.number, request.sequence_number), None)
        if sent is not None:
            self._settle(sent, ok=False, error="no deliver_sm_resp", outcome="timeout")

    def rejected(self, connection: SmppConnection, event: Rejected) -> None:
        self.metrics.rejected.labels(f"{event.command_status:#x}").inc()
        log.info(
            "SMPP %s: answered %#x with %#x: %s",
            connection.system_id or connection.peer[0],
            event.command_id,
            event.command_status,
            event.reason,
        )

    def closed(self, connection: SmppConnection, event: Closed) -> None:
        self._connections.pop(connection.number, None)
        for key in [k for k in self._sent if k[0] == connection.number]:
            sent = self._sent.pop(key)
            self._settle(sent, ok=False, error=f"session closed: {event.reason}", outcome="closed")
        if connection.system_id is not None:
            log.info("SMPP %s session %d ended: %s", connection.system_id, connection.number,
                     event.reason)  # fmt: skip

    # --- submit_sm / data_sm / query_sm --------------------------------------------------------

    def _submit(
        self,
        connection: SmppConnection,
        event: RequestReceived,
        pdu: SubmitSm | DataSm,
        state: _AccountState,
    ) -> None:
        name = state.account.system_id
        submit = _Submit(connection, event, pdu, name)
        if not state.limiter.allow(time.monotonic()):
            self.metrics.throttled.labels(name).inc()
            self._answer_submit(submit, CommandStatus.ESME_RTHROTTLED)
            return
        try:
            messages = messages_from_submit(
                pdu, state.policy, self.plan, datetime.now(UTC), reference=random.getrandbits(16)
            )
        except SubmitRefused as refused:
            log.info("SMPP %s: submit refused (%#x): %s", name, refused.command_status, refused)
            self._answer_submit(submit, refused.command_status)
            return
        add_soon = self._add_soon
        replacing = isinstance(pdu, SubmitSm) and bool(pdu.replace_if_present_flag)
        if len(messages) == 1 and add_soon is not None and not replacing:
            # one SMS: into the store's group commit with the other submits in flight
            try:
                future = add_soon(messages[0])
            except StoreError as exc:
                self._not_stored(submit, exc)
                return
            future.add_done_callback(lambda done: self._committed(submit, messages, done))
            return
        self._spawn(self._store(submit, messages, replacing=replacing))

    def _committed(
        self, submit: _Submit, messages: list[NewMessage], future: asyncio.Future[int]
    ) -> None:
        if future.cancelled():
            return  # stopping: the ESME gets no answer and sends it again
        error = future.exception()
        if isinstance(error, StoreError):
            self._not_stored(submit, error)
        elif error is not None:  # a bug: logged whole, and the ESME still gets its answer
            log.error(
                "SMPP %s: storing a submit failed", submit.name, exc_info=(type(error), error,
                error.__traceback__),
            )  # fmt: skip
            self._answer_submit(submit, CommandStatus.ESME_RSYSERR)
        else:
            self._stored(submit, messages)

    def _not_stored(self, submit: _Submit, exc: StoreError) -> None:
        log.error("SMPP %s: submit not stored, answering ESME_RSYSERR: %s", submit.name, exc)
        self._answer_submit(submit, CommandStatus.ESME_RSYSERR)

    async def _store(
        self, submit: _Submit, messages: list[NewMessage], *, replacing: bool = False
    ) -> None:
        """Several segments, or a submit that replaces what is pending: stored in one commit,
        all or none."""
        try:
            await self.store.add_many(messages)
        except StoreError as exc:
            self._not_stored(submit, exc)
            return
        if replacing:
            await self._cancel_replaced(submit, messages[0])
        self._stored(submit, messages)

    async def _cancel_replaced(self, submit: _Submit, new: NewMessage) -> None:
        """replace_if_present_flag: the older pending SMS go once `new` is kept; a store
        failure leaves both (logged), never neither."""
        try:
            count = await self.amendments.cancel_replaced(submit.name, new)
        except StoreError as exc:
            log.error("SMPP %s: replace_if_present: the older SMS stay: %s", submit.name, exc)
            return
        if count:
            log.info("SMPP %s: %s replaces %d pending SMS", submit.name, new.submission_id, count)

    def _stored(self, submit: _Submit, messages: list[NewMessage]) -> None:
        first = messages[0]
        self._answer_submit(submit, CommandStatus.ESME_ROK, stored=first)
        if first.priority and first.deliver_at is None:
            self.delivery.release_soon(first.recipient)
        else:
            self.delivery.wake((first.recipient,))
        log.debug(
            "SMPP %s: %s, %d segment(s) to %s",
            submit.name,
            first.submission_id,
            len(messages),
            subscriber("+" + first.recipient),
        )

    def _answer_submit(
        self, submit: _Submit, status: int, *, stored: NewMessage | None = None
    ) -> None:
        message_id = "" if stored is None else stored.submission_id
        response: Pdu
        if isinstance(submit.pdu, DataSm):
            response = DataSmResp(message_id=message_id, command_status=status)
        else:
            response = SubmitSmResp(message_id=message_id, command_status=status)
        self.metrics.submits.labels(submit.name, f"{status:#x}").inc()
        submit.connection.respond(submit.event, response)

    async def _query(
        self, connection: SmppConnection, event: RequestReceived, pdu: QuerySm, name: str
    ) -> None:
        """SMPP 3.4 §4.8: the state of a message this account submitted."""
        try:
            parts = await self.store.get_submission(pdu.message_id)
        except StoreError as exc:
            log.error("SMPP %s: query_sm failed: %s", name, exc)
            connection.respond(event, QuerySmResp(command_status=CommandStatus.ESME_RSYSERR))
            return
        mine = [p for p in parts if submitted_by(p.message, name)]
        if not mine:
            connection.respond(event, QuerySmResp(command_status=CommandStatus.ESME_RQUERYFAIL))
            return
        connection.respond(event, query_answer(pdu.message_id, mine))

    async def _cancel(
        self, connection: SmppConnection, event: RequestReceived, pdu: CancelSm, name: str
    ) -> None:
        """SMPP 3.4 §4.9 (PendingAmendments.cancel), answered and counted."""
        try:
            amended = await self.amendments.cancel(pdu, name)
        except StoreError as exc:
            log.error("SMPP %s: cancel_sm failed: %s", name, exc)
            connection.respond(event, CancelSmResp(command_status=CommandStatus.ESME_RSYSERR))
            return
        what = pdu.message_id or f"all to {subscriber('+' + pdu.destination_addr)}"
        if amended.refused is not None:
            log.info("SMPP %s: cancel_sm %s refused: %s", name, what, amended.refused)
        else:
            log.info("SMPP %s: cancelled %d pending segment(s) of %s", name, amended.segments, what)
        self.metrics.cancels.labels(name, "ok" if amended.refused is None else "refused").inc()
        connection.respond(event, CancelSmResp(command_status=amended.status))

    async def _replace(
        self, connection: SmppConnection, event: RequestReceived, pdu: ReplaceSm,
        state: _AccountState,
    ) -> None:  # fmt: skip
        """SMPP 3.4 §4.10 (PendingAmendments.replace), answered and counted."""
        name = state.account.system_id
        try:
            amended = await self.amendments.replace(pdu, name, state.policy)
        except StoreError as exc:
            log.error("SMPP %s: replace_sm failed: %s", name, exc)
            connection.respond(event, ReplaceSmResp(command_status=CommandStatus.ESME_RSYSERR))
            return
        if amended.refused is not None:
            log.info("SMPP %s: replace_sm %s refused: %s", name, pdu.message_id, amended.refused)
        else:
            log.info("SMPP %s: replaced %s", name, pdu.message_id)
        self.metrics.replaces.labels(name, "ok" if amended.refused is None else "refused").inc()
        connection.respond(event, ReplaceSmResp(command_status=amended.status))

    # --- deliver_sm to ESMEs (receipts, MO) ------------------------------------------------------

    def wake(self) -> None:
        """Look for deliveries now (a receipt or an MO was just kept)."""
        self._wake.set()

    async def _deliver_loop(self) -> None:
        while self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            self._wake.clear()
            if not self.running:  # stopped while we waited
                return
            try:
                await self._claim_and_send()
            except StoreError as exc:
                log.error("SMPP deliveries: cannot claim jobs: %s", exc)
            except Exception:  # the delivery loop's one top-level handler: it must not die
                log.exception("SMPP deliveries: claim pass failed")

    async def _claim_and_send(self) -> None:
        """Claim, for each account with a receiver bound, as many due jobs as its receivers'
        windows have room for, and send them."""
        assert self.outbox is not None
        room: dict[str, int] = {}
        for connection in self._connections.values():
            session, name = connection.session, connection.system_id
            if connection.can_deliver and name is not None and session is not None:
                room[name] = room.get(name, 0) + session.send_window_free
        lease_s = max(60.0, 3 * self.settings.response_s)
        for name, free in room.items():
            limit = min(512, free)
            jobs = await self.outbox.claim_due(
                datetime.now(UTC), limit, lease_s=lease_s, kinds=SMPP_KINDS, targets=(name,)
            )
            for job in jobs:
                self._send(job)
            if len(jobs) >= limit:
                self._wake.set()  # more may be due: look again when a slot frees or now

    def _send(self, job: StoredOutboxJob) -> None:
        target = job.job.target
        try:
            pdu = decode(job.job.body)
        except PduError as exc:
            log.error("SMPP job %d for %s is not a PDU (%s); kept for an hour", job.id, target, exc)
            self._record(job, ok=False, error=f"unreadable job: {exc}", retry_s=3600.0)
            return
        if not isinstance(pdu, DeliverSm):
            self._record(job, ok=False, error="not a deliver_sm", retry_s=3600.0)
            return
        candidates = [
            c for c in self._connections.values() if c.system_id == target and c.can_deliver
        ]
        candidates.sort(key=lambda c: c.session.outbound_pending if c.session else 0)
        for connection in candidates:
            sequence = connection.send(pdu)
            if sequence is not None:
                self._sent[(connection.number, sequence)] = _Sent(job, connection)
                return
        self._record(job, ok=False, error="no receiver bound with room", retry_s=1.0)

    def _settle(self, sent: _Sent, *, ok: bool, error: str, outcome: str | None = None) -> None:
        job = sent.job
        kind = "receipt" if job.job.kind is OutboxKind.SMPP_RECEIPT else "mo"
        label = "ok" if ok else outcome or "error"
        self.metrics.delivered.labels(job.job.target, kind, label).inc()
        self._record(job, ok=ok, error=None if ok else error)
        if ok:
            self._wake.set()  # a window slot is free

    def _record(
        self, job: StoredOutboxJob, *, ok: bool, error: str | None, retry_s: float | None = None
    ) -> None:
        now = datetime.now(UTC)
        if retry_s is None:
            retry_s = min(self._retry_max_s, self._retry_initial_s * 2 ** min(job.attempts, 20))
        self._spawn(self._record_attempt(job.id, now, ok, error, now + timedelta(seconds=retry_s)))

    async def _record_attempt(
        self, job_id: int, at: datetime, ok: bool, error: str | None, next_at: datetime
    ) -> None:
        assert self.outbox is not None
        try:
            await self.outbox.record_attempt(
                job_id, at, ok, error=error, next_attempt_at=None if ok else next_at
            )
        except StoreError as exc:  # the lease runs out; the job is claimed again
            log.error("SMPP job %d: attempt not recorded: %s", job_id, exc)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def query_answer(message_id: str, parts: list[StoredMessage]) -> QuerySmResp:
    """SMPP 3.4 §4.8.2: the submission's state (the worst final one once all parts are
    final), its final date, and the RP-Cause of a failure as error_code."""
    states = [p.state for p in parts]
    outcome = submission_outcome(states)
    final = None
    if outcome is not None:
        state = outcome
        done = [p.delivered_at or p.updated_at for p in parts]
        final = max((d for d in done if d is not None), default=None)
    else:
        state = MessageState.DELIVERING if MessageState.DELIVERING in states else states[0]
    failed = first_failed(parts)
    error = 0 if failed is None or failed.last_rp_cause is None else failed.last_rp_cause
    return QuerySmResp(
        message_id=message_id,
        final_date="" if final is None else format_time(final),
        message_state=int(_QUERY_STATE.get(state, SmppMessageState.UNKNOWN)),
        error_code=error & 0xFF,
    )


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()
