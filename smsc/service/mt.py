"""Mobile-terminated delivery (TS 24.341 §5.3.2.5): claim, send RP-DATA, decide on the RP answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from smsc.api.metrics import Metrics
from smsc.redact import subscriber
from smsc.relay import MtRelay, TransferOutcome, TransferResult
from smsc.service.model import Attempt, MessageOrigin, MessageState, StoredMessage
from smsc.service.next_hops import NextHops
from smsc.service.ports import MessageStore, OutboxSubmitter, SipSender
from smsc.service.reports import StatusReporter
from smsc.service.retry import RetryDecision, RetryPolicy, Verdict
from smsc.service.sip_requests import mt_message_headers
from smsc.settings import DeliverySettings
from smsc.sip.locate import NextHopUnresolved, Target
from smsc.sms.address import Address as SmsAddress
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.errors import DecodeError, EncodeError
from smsc.sms.sc_pdus import deliver_from_submit, mt_rp_data, with_more_messages
from smsc.sms.tp import SmsSubmit, decode_tpdu, encode_tpdu

log = logging.getLogger("smsc.mt")


def _log_outcome(message_id: int, result: TransferResult, decision: RetryDecision | None) -> None:
    """DEBUG: one line per MT attempt's outcome and what becomes of the message (no decision:
    delivered)."""
    if decision is None:
        then = "done"
    elif decision.verdict is Verdict.RETRY and decision.retry_at is not None:
        then = f"retry at {decision.retry_at.isoformat(timespec='seconds')}"
    else:
        then = {
            Verdict.PARK: "parked until RP-SMMA",
            Verdict.FAIL: "failed",
            Verdict.EXPIRE: "expired",
        }.get(decision.verdict, str(decision.verdict))
    log.debug(
        "MT message %d to %s: %s (SIP %s, RP-Cause %s): %s",
        message_id,
        subscriber("+" + result.transfer.recipient),
        result.outcome,
        result.transfer.sip_status,
        result.rp_cause,
        then,
    )


NO_ROUTE = "no-route"
"""Outcome of a claim for a recipient nobody can route to (not registered, no next hop)."""
DNS = "dns"
"""Outcome prefix (then ": " and the cause) of a claim whose next hop's name did not resolve."""
FAILOVER_STATUSES = frozenset({408, 503})
"""RFC 3263 §4.3: 503, a timeout (408) or a transport failure (503) try the next target."""
EXPIRED = "validity period expired"
_RELEASE_MEMORY_S = 60.0
"""How long a release is remembered to undo a park or deferral recorded just after it."""
_STARTS_PER_TURN = 100
"""MT transfers started before the delivery pass yields to the event loop once."""
_SCHEDULE_CHECK_S = 1.0
"""How often scheduled messages are looked at: a scheduled SMS leaves within about a second
of its time (the delivery loop runs at least every poll_interval)."""


def _unsent(outcome: str) -> bool:
    """An attempt that was a claim put back unsent: no route, or its name did not resolve."""
    return outcome == NO_ROUTE or outcome.startswith(DNS + ": ")


@dataclass(frozen=True, slots=True)
class Route:
    """Where the MESSAGE for a recipient goes: its RFC 3263 targets, in the order to try them."""

    targets: tuple[Target, ...]
    uri: str = ""
    """The S-CSCF or next-hop URI they were found for (for logs)."""


@dataclass(frozen=True, slots=True)
class MtContext:
    """Client-transaction context of an MT MESSAGE; `hop` indexes its route's targets."""

    recipient: str
    message_id: int
    hop: int = 0


@dataclass(frozen=True, slots=True)
class _Sending:
    """A claimed message with a transfer in flight: its RP-DATA and the target it went to."""

    stored: StoredMessage
    route: Route
    body: bytes
    hop: int = 0


class MtService:
    """One transfer in flight per recipient, in order; the UE's RP answer decides.

    Head-of-line protection: a claimed head nobody can route to is put back with a backoff
    (outcome "no-route"), so unroutable recipients leave the due list instead of filling it; a
    registration (or `release`) makes them due at once. RP-ERROR 22 parks the recipient's head
    until its validity ends; `release` (RP-SMMA, registration) makes it due now.
    """

    def __init__(
        self,
        *,
        store: MessageStore,
        sender: SipSender,
        psi: str,
        sc_address: str,
        new_call_id: Callable[[], str],
        new_tag: Callable[[], str],
        route: Callable[[str], Awaitable[Route | None]],
        can_route: Callable[[], Awaitable[bool]] | None = None,
        metrics: Metrics,
        relay: MtRelay,
        clock: Callable[[], float],
        policy: RetryPolicy | None = None,
        delivery: DeliverySettings | None = None,
        claim_lease_s: float | None = None,
        reporter: StatusReporter | None = None,
        fill_rp_da: Callable[[str], bool] = lambda _recipient: False,
        next_hops: NextHops | None = None,
        outbox: OutboxSubmitter | None = None,
        poll_interval: float = 1.0,
        batch: int = 500,
    ) -> None:
        delivery = delivery or DeliverySettings()
        self.max_in_flight = delivery.max_in_flight
        """At most this many transfers at once; the rest of the backlog stays queued."""
        self.store = store
        self.sender = sender
        self.psi = psi
        self.sc_address = SmsAddress.international(sc_address)
        self.new_call_id = new_call_id
        self.new_tag = new_tag
        self.route = route
        """The route of a recipient; raises NextHopUnresolved when its name does not resolve."""
        self.next_hops = next_hops
        """Told of targets that failed (RFC 3263 §4.3), so other messages try them last."""
        self.claim_lease_s = claim_lease_s
        """With several instances: a message delivering longer than this was claimed by an
        instance that died; it is queued again (None: single instance, done at start)."""
        self._next_reclaim = 0.0
        self._next_schedule_check = 0.0
        self.can_route = can_route
        self.metrics = metrics
        self.relay = relay
        self.clock = clock
        self.policy = policy or RetryPolicy.of(
            delivery.retry_initial_s, delivery.retry_max_s, delivery.retry_factor, delivery.jitter
        )
        self.reporter = reporter or StatusReporter(
            store,
            metrics,
            on_stored=lambda recipient: self.wake((recipient,)),
            webhook=delivery.status_report_webhook,
            validity=timedelta(seconds=delivery.status_report_validity_s),
            outbox=outbox,
        )
        self.fill_rp_da = fill_rp_da
        self.poll_interval = poll_interval
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._pending: set[asyncio.Task[None]] = set()
        self._inflight: dict[int, _Sending] = {}
        """Claimed messages with a transfer in flight, by id (their outcome needs them)."""
        self._unroutable: set[str] = set()
        """Recipients whose head was put back for want of a route."""
        self._parked: set[str] = set()
        """Recipients whose head this instance parked on memory-full."""
        self._released_at: dict[str, float] = {}
        self._to_release: set[str] = set()
        """Recipients `release_soon` was asked for, not yet released."""
        self._releasing = False
        """A task is releasing `_to_release`."""
        """Recent releases (clock time) by recipient."""

    def wake(self, recipients: Iterable[str] = ()) -> None:
        """Something new may be deliverable; a recipient put back for want of a route that is
        routable now (it registered) is released."""
        for recipient in recipients:
            if recipient in self._unroutable:  # it may have registered: try again now
                self._unroutable.discard(recipient)
                self.release_soon(recipient)
        self._wake.set()

    async def release(self, msisdn: str) -> int:
        """RP-SMMA from the recipient or its new registration: its waiting messages are due now.

        Returns how many were waiting (parked on memory-full, or backing off).
        """
        return await self._release_all([msisdn.removeprefix("+")])

    async def _release_all(self, recipients: list[str]) -> int:
        """`release` of several recipients in one store transaction."""
        at = self.clock()
        for recipient in recipients:
            self._released_at.pop(recipient, None)  # re-inserted: the dict stays in time order
            self._released_at[recipient] = at
            self._unroutable.discard(recipient)
            self._unpark(recipient)
        count = await self.store.release_recipients(recipients, datetime.now(UTC))
        if count:
            self.metrics.mt_released.inc(count)
            whom = subscriber("+" + recipients[0]) if len(recipients) == 1 else None
            if whom is not None:
                log.info("released %d waiting message(s) for %s", count, whom)
            else:
                log.info("released %d waiting message(s) of %d subscribers", count, len(recipients))
        self._wake.set()
        return count

    def release_soon(self, msisdn: str) -> None:
        """`release` for callers outside a coroutine (SIP event handlers, priority SMS):
        those asked for meanwhile are released together, in one store transaction."""
        self._to_release.add(msisdn.removeprefix("+"))
        if not self._releasing:
            self._releasing = True
            self._spawn(self._release_pending())

    async def _release_pending(self) -> None:
        try:
            while self._to_release:
                batch = sorted(self._to_release)
                self._to_release.clear()
                try:
                    await self._release_all(batch)
                except Exception:
                    log.exception("releasing %d subscriber(s) failed", len(batch))
        finally:
            self._releasing = False

    async def run(self) -> None:
        """The delivery loop; returns after stop()."""
        while not self._stopping:
            try:
                await self.deliver_due()
            except Exception:
                log.exception("delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def deliver_due(self) -> None:
        """Expire TR1M transfers; start one for each idle recipient with a due message.

        A claimed head with no route is put back with a backoff (it leaves the due list, so it
        cannot hold the batch); a full batch with progress runs the next pass at once.
        """
        since = self.clock()
        for result in self.relay.expire(since):
            await self._finish(result, since)
        self._forget_old_releases(since)
        if self.claim_lease_s is not None and since >= self._next_reclaim:
            self._next_reclaim = since + max(1.0, self.claim_lease_s / 4)
            stale = await self.store.requeue_delivering(
                datetime.now(UTC) - timedelta(seconds=self.claim_lease_s)
            )
            if stale:
                log.warning(
                    "%d messages claimed by an instance that stopped are queued again", stale
                )
        if since >= self._next_schedule_check:
            self._next_schedule_check = since + _SCHEDULE_CHECK_S
            await self._queue_scheduled()
        if self.can_route is not None and not await self.can_route():
            return  # no next hop and nobody registered: nothing can leave
        now = datetime.now(UTC)
        due = await self.store.due_recipients(now, self.batch)
        deferrals: list[Coroutine[Any, Any, None]] = []
        idle = [r for r in due if not self.relay.busy(r)]  # a busy head leaves by itself
        room = self.max_in_flight - len(self._inflight)
        if room <= 0:
            return  # bounded: a transfer that ends wakes the loop again
        idle = idle[:room]
        since = self.clock()
        messages = await self.store.claim_heads(idle, now)
        claimed = len(messages)
        for started, message in enumerate(messages, 1):
            try:
                route = await self.route(message.message.recipient)
            except NextHopUnresolved as exc:  # a temporary failure: back to queued, say why
                deferrals.append(self._defer(message, now, since, f"{DNS}: {exc}"))
            else:
                if route is None or not route.targets:
                    deferrals.append(self._defer(message, now, since))
                else:
                    await self._start(message, route, now, message.more_queued)
            if not started % _STARTS_PER_TURN:
                await asyncio.sleep(0)  # let answers and MO in between: no long loop stalls
        if deferrals:  # concurrently: their writes share group commits
            await asyncio.gather(*deferrals)
        if claimed and len(due) >= self.batch:
            self._wake.set()

    async def _queue_scheduled(self) -> None:
        """Scheduled messages whose time has come join their recipients' queues; the queue of
        a priority one's recipient is tried at once (as at its submission)."""
        queued = await self.store.queue_scheduled(datetime.now(UTC))
        if not queued:
            return
        self.metrics.mt_scheduled_due.inc(len(queued))
        log.debug("%d scheduled message(s) queued for delivery", len(queued))
        prioritised = {recipient for recipient, priority in queued if priority > 0}
        if prioritised:
            await self._release_all(sorted(prioritised))

    async def _defer(
        self, stored: StoredMessage, now: datetime, since: float, outcome: str = NO_ROUTE
    ) -> None:
        """No route to the recipient (or its name does not resolve): back to queued with a
        backoff, or expired."""
        recipient = stored.message.recipient
        waits = 1
        for attempt in reversed(stored.history):
            if not _unsent(attempt.outcome):
                break
            waits += 1
        decision = self.policy.defer(waits, now, stored.message.expires_at)
        if decision.state.is_final:
            await self._final(stored, decision.state, Attempt(now, outcome=EXPIRED))
            return
        await self.store.record_attempt(
            stored.id, MessageState.QUEUED, Attempt(now, outcome=outcome), decision.retry_at
        )
        self._unroutable.add(recipient)
        self.metrics.mt_retries.labels(NO_ROUTE if outcome == NO_ROUTE else DNS).inc()
        await self._release_again_if_released(recipient, since)

    async def _start(
        self, stored: StoredMessage, route: Route, now: datetime, more: bool = False
    ) -> None:
        """Send the claimed head; `more`: the recipient has more messages queued behind it."""
        message = stored.message
        if message.expires_at <= now:
            await self._final(stored, MessageState.EXPIRED, Attempt(now, outcome=EXPIRED))
            return
        try:
            body = self._rp_data(stored, now, more)
        except (DecodeError, EncodeError) as exc:
            log.error("message %s cannot be delivered: %s", stored.id, exc)
            await self._final(
                stored, MessageState.FAILED, Attempt(now, outcome=f"unencodable: {exc}")
            )
            return
        recipient = message.recipient
        self._unroutable.discard(recipient)
        transfer = self.relay.start(recipient, stored.id, self.clock())
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "MT message %d attempt %d to %s via %s:%d, RP-MR %d",
                stored.id,
                self._tries(stored),  # the claim counted it already
                subscriber("+" + recipient),
                *route.targets[0].address,
                transfer.rp_mr,
            )
        body = body[:1] + bytes((transfer.rp_mr,)) + body[2:]
        self._inflight[stored.id] = _Sending(stored, route, body)
        self._send(recipient, stored.id, route.targets[0], body, 0)

    def _send(self, recipient: str, message_id: int, target: Target, body: bytes, hop: int) -> None:
        """The MT MESSAGE carrying `body` to one target, in a new client transaction."""
        uri = f"tel:+{recipient}"
        headers = mt_message_headers(self.psi, uri, self.new_call_id(), self.new_tag())
        self.sender.message(
            uri,
            headers,
            body,
            target.address,
            target.transport,
            context=MtContext(recipient, message_id, hop),
        )

    def _rp_data(self, stored: StoredMessage, now: datetime, more: bool = False) -> bytes:
        """RP-DATA N->MS: an SMS-DELIVER made of the stored submit, or a stored status report;
        TP-MMS (TS 23.040 §9.2.3.2) says "more messages waiting" when `more` are queued behind
        it or it is not the last segment of its message."""
        message = stored.message
        destination = SmsAddress(message.recipient) if self.fill_rp_da(message.recipient) else None
        more = more or message.segment < message.segments
        if message.origin is MessageOrigin.STATUS_REPORT:
            return mt_rp_data(
                0, self.sc_address, with_more_messages(message.submit_tpdu, more), destination
            )
        submit = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
        if not isinstance(submit, SmsSubmit):
            raise EncodeError("the stored TPDU is not an SMS-SUBMIT")
        ton = TypeOfNumber(message.originator_ton)
        originator = (
            SmsAddress.alphanumeric(message.originator)
            if ton == TypeOfNumber.ALPHANUMERIC
            else SmsAddress(message.originator, ton)
        )
        deliver = deliver_from_submit(submit, originator, message.received_at, more_messages=more)
        return mt_rp_data(0, self.sc_address, encode_tpdu(deliver), destination)

    def on_sip_final(self, context: MtContext, status: int) -> None:
        """The MT MESSAGE's final response (408 for Timer F, 503 for a transport failure)."""
        sending = self._inflight.get(context.message_id)
        if sending is not None and sending.hop != context.hop:
            return  # a target given up on already
        if status in FAILOVER_STATUSES and sending is not None and self._fail_over(sending, status):
            return
        result = self.relay.sip_final(context.recipient, context.message_id, status)
        if result is not None:
            self._spawn(self._finish(result, self.clock()))

    def _fail_over(self, sending: _Sending, status: int) -> bool:
        """RFC 3263 §4.3: the target failed; the same RP-DATA (same RP-MR and transfer, TR1M
        still running) goes to the next target, if there is one."""
        stored, route = sending.stored, sending.route
        recipient = stored.message.recipient
        if not self.relay.busy(recipient):
            return False  # the transfer ended meanwhile (TR1M)
        target = route.targets[sending.hop]
        if self.next_hops is not None:
            self.next_hops.failed(target, self.clock())
        hop = sending.hop + 1
        if hop >= len(route.targets):
            return False
        following = route.targets[hop]
        log.info(
            "MT message %d: target %s:%d failed (SIP %d): trying %s:%d",
            stored.id,
            *target.address,
            status,
            *following.address,
        )
        self._inflight[stored.id] = replace(sending, hop=hop)
        self._send(recipient, stored.id, following, sending.body, hop)
        return True

    def on_rp_answer(self, recipient: str, rp_mr: int, cause: int | None) -> bool:
        """The UE's RP-ACK (cause None) or RP-ERROR; False when it matches no transfer."""
        if cause is None:
            result = self.relay.rp_ack(recipient, rp_mr)
        else:
            result = self.relay.rp_error(recipient, rp_mr, cause)
        if result is None:
            return False
        self._spawn(self._finish(result, self.clock()))
        return True

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _finish(self, result: TransferResult, since: float) -> None:
        """Record the transfer's outcome; `since` is when it was known (clock time)."""
        transfer = result.transfer
        now = datetime.now(UTC)
        attempt = Attempt(now, transfer.sip_status, result.rp_cause, str(result.outcome))
        sending = self._inflight.pop(transfer.message_id, None)
        if sending is not None:
            stored: StoredMessage | None = sending.stored
        else:
            stored = await self.store.get(transfer.message_id)
        if stored is None:
            return
        if result.outcome == TransferOutcome.DELIVERED:
            if log.isEnabledFor(logging.DEBUG):
                _log_outcome(stored.id, result, None)
            self._unpark(transfer.recipient)
            await self._final(stored, MessageState.DELIVERED, attempt)
            self.metrics.mt_delivered.inc()
        else:
            sip_status = None if result.outcome == TransferOutcome.TIMEOUT else transfer.sip_status
            decision = self.policy.decide(
                self._tries(stored),
                now,
                stored.message.expires_at,
                rp_cause=result.rp_cause,
                sip_status=sip_status,
            )
            if log.isEnabledFor(logging.DEBUG):
                _log_outcome(stored.id, result, decision)
            label = result.rp_cause if result.rp_cause is not None else transfer.sip_status
            self.metrics.mt_failed.labels(f"{result.outcome}:{label}").inc()
            await self._after_failure(stored, decision, attempt, result, since)
        self._wake.set()

    async def _after_failure(
        self,
        stored: StoredMessage,
        decision: RetryDecision,
        attempt: Attempt,
        result: TransferResult,
        since: float,
    ) -> None:
        """Record the decision: final (with its status report), parked, or a retry."""
        if decision.state.is_final:
            await self._final(stored, decision.state, attempt)
            return
        recipient = stored.message.recipient
        await self.store.record_attempt(stored.id, decision.state, attempt, decision.retry_at)
        if decision.verdict is Verdict.PARK:
            self.metrics.mt_parked.inc()
            self._parked.add(recipient)
            self.metrics.mt_parked_recipients.set(len(self._parked))
            log.info("%s has no memory for SMS: parked until RP-SMMA", subscriber("+" + recipient))
        else:
            self.metrics.mt_retries.labels(str(result.outcome)).inc()
        await self._release_again_if_released(recipient, since)

    async def _final(self, stored: StoredMessage, state: MessageState, attempt: Attempt) -> None:
        """Record a final outcome, then report it to the originator if asked (TP-SRR)."""
        await self.store.record_attempt(stored.id, state, attempt)
        if state is MessageState.EXPIRED:
            self.metrics.mt_expired.inc()
        try:
            await self.reporter.final(
                stored, state, attempt.at, attempt.rp_cause, attempt.sip_status
            )
        except Exception:
            log.exception("status report for message %s failed", stored.id)

    @staticmethod
    def _tries(stored: StoredMessage) -> int:
        """Transfers tried so far, this one included (claims put back for no route excluded)."""
        unsent = sum(1 for attempt in stored.history if _unsent(attempt.outcome))
        return max(stored.attempts - unsent, 1)

    def _unpark(self, recipient: str) -> None:
        if recipient in self._parked:
            self._parked.discard(recipient)
            self.metrics.mt_parked_recipients.set(len(self._parked))

    async def _release_again_if_released(self, recipient: str, since: float) -> None:
        """A release that came while we were putting the head back must not be lost."""
        if self._released_at.get(recipient, float("-inf")) >= since:
            await self.store.release_recipients([recipient], datetime.now(UTC))
            self._unpark(recipient)
            self._unroutable.discard(recipient)

    def _forget_old_releases(self, now: float) -> None:
        """Drop releases older than _RELEASE_MEMORY_S: the oldest come first (insertion order)."""
        released = self._released_at
        horizon = now - _RELEASE_MEMORY_S
        while released:
            recipient, at = next(iter(released.items()))
            if at >= horizon:
                break
            del released[recipient]

    async def drain(self) -> None:
        """Wait for outcomes being recorded (and their reports kept)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
