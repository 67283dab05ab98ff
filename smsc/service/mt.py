"""Mobile-terminated delivery (TS 24.341 §5.3.2.5): claim, send RP-DATA, decide on the RP answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smsc.api.metrics import Metrics
from smsc.relay import MtRelay, TransferOutcome, TransferResult
from smsc.service.model import Attempt, MessageState, StoredMessage
from smsc.service.ports import MessageStore, SipSender
from smsc.service.retry import RetryPolicy
from smsc.service.sip_requests import mt_message
from smsc.sip.constants import Address, Transport
from smsc.sms.address import Address as SmsAddress
from smsc.sms.constants import RpMessageType, TypeOfNumber
from smsc.sms.errors import DecodeError, EncodeError
from smsc.sms.sc_pdus import deliver_from_submit, mt_rp_data
from smsc.sms.tp import SmsSubmit, decode_tpdu, encode_tpdu

log = logging.getLogger("smsc.mt")


@dataclass(frozen=True, slots=True)
class Route:
    """Where the MESSAGE for a recipient goes."""

    address: Address
    transport: Transport


@dataclass(frozen=True, slots=True)
class MtContext:
    """Client-transaction context of an MT MESSAGE."""

    recipient: str
    message_id: int


class MtService:
    """One transfer in flight per recipient, in order; the UE's RP answer decides."""

    def __init__(
        self,
        *,
        store: MessageStore,
        sender: SipSender,
        psi: str,
        sc_address: str,
        new_call_id: Callable[[], str],
        new_tag: Callable[[], str],
        route: Callable[[str], Route | None],
        can_route: Callable[[], bool] = lambda: True,
        metrics: Metrics,
        relay: MtRelay,
        clock: Callable[[], float],
        policy: RetryPolicy | None = None,
        fill_rp_da: Callable[[str], bool] = lambda _recipient: False,
        poll_interval: float = 1.0,
        batch: int = 200,
    ) -> None:
        self.store = store
        self.sender = sender
        self.psi = psi
        self.sc_address = SmsAddress.international(sc_address)
        self.new_call_id = new_call_id
        self.new_tag = new_tag
        self.route = route
        self.can_route = can_route
        self.metrics = metrics
        self.relay = relay
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.fill_rp_da = fill_rp_da
        self.poll_interval = poll_interval
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._pending: set[asyncio.Task[None]] = set()

    def wake(self, _recipients: Iterable[str] = ()) -> None:
        """Something new may be deliverable."""
        self._wake.set()

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
        """Expire TR1M transfers; start one for each idle recipient with a due message."""
        for result in self.relay.expire(self.clock()):
            await self._finish(result)
        if not self.can_route():
            return  # no next hop and nobody registered: nothing can leave
        now = datetime.now(UTC)
        for recipient in await self.store.due_recipients(now, self.batch):
            if self.relay.busy(recipient):
                continue
            route = self.route(recipient)
            if route is None:
                continue
            message = await self.store.claim_next(recipient, now)
            if message is not None:
                await self._start(message, route, now)

    async def _start(self, stored: StoredMessage, route: Route, now: datetime) -> None:
        message = stored.message
        if message.expires_at <= now:
            await self.store.record_attempt(
                stored.id, MessageState.EXPIRED, Attempt(now, outcome="validity period expired")
            )
            return
        try:
            body = self._rp_data(stored, now)
        except (DecodeError, EncodeError) as exc:
            log.error("message %s cannot be delivered: %s", stored.id, exc)
            await self.store.record_attempt(
                stored.id, MessageState.FAILED, Attempt(now, outcome=f"unencodable: {exc}")
            )
            return
        recipient = message.recipient
        transfer = self.relay.start(recipient, stored.id, self.clock())
        body = body[:1] + bytes((transfer.rp_mr,)) + body[2:]
        request = mt_message(
            self.psi, f"tel:+{recipient}", self.new_call_id(), self.new_tag(), body
        )
        self.sender.request(
            request, route.address, route.transport, MtContext(recipient, stored.id)
        )

    def _rp_data(self, stored: StoredMessage, now: datetime) -> bytes:
        message = stored.message
        submit = decode_tpdu(message.submit_tpdu, RpMessageType.RP_DATA_MS_TO_N)
        if not isinstance(submit, SmsSubmit):
            raise EncodeError("the stored TPDU is not an SMS-SUBMIT")
        ton = TypeOfNumber(message.originator_ton)
        originator = (
            SmsAddress.alphanumeric(message.originator)
            if ton == TypeOfNumber.ALPHANUMERIC
            else SmsAddress(message.originator, ton)
        )
        deliver = deliver_from_submit(submit, originator, message.received_at)
        destination = SmsAddress(message.recipient) if self.fill_rp_da(message.recipient) else None
        return mt_rp_data(0, self.sc_address, encode_tpdu(deliver), destination)

    def on_sip_final(self, context: MtContext, status: int) -> None:
        """The MT MESSAGE's final response (408 for Timer F, 503 for a transport failure)."""
        result = self.relay.sip_final(context.recipient, context.message_id, status)
        if result is not None:
            self._spawn(self._finish(result))

    def on_rp_answer(self, recipient: str, rp_mr: int, cause: int | None) -> bool:
        """The UE's RP-ACK (cause None) or RP-ERROR; False when it matches no transfer."""
        if cause is None:
            result = self.relay.rp_ack(recipient, rp_mr)
        else:
            result = self.relay.rp_error(recipient, rp_mr, cause)
        if result is None:
            return False
        self._spawn(self._finish(result))
        return True

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _finish(self, result: TransferResult) -> None:
        transfer = result.transfer
        now = datetime.now(UTC)
        attempt = Attempt(now, transfer.sip_status, result.rp_cause, str(result.outcome))
        if result.outcome == TransferOutcome.DELIVERED:
            await self.store.record_attempt(transfer.message_id, MessageState.DELIVERED, attempt)
            self.metrics.mt_delivered.inc()
        else:
            stored = await self.store.get(transfer.message_id)
            if stored is None:
                return
            state, retry_at = self.policy.after_failure(
                stored.attempts,
                now,
                stored.message.expires_at,
                rp_cause=result.rp_cause,
                sip_status=None
                if result.outcome == TransferOutcome.TIMEOUT
                else transfer.sip_status,
            )
            await self.store.record_attempt(transfer.message_id, state, attempt, retry_at)
            label = result.rp_cause if result.rp_cause is not None else transfer.sip_status
            self.metrics.mt_failed.labels(f"{result.outcome}:{label}").inc()
        self._wake.set()

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
